"""The referral package as a PDF (fpdf2, DejaVu Sans): made in memory on each download, never written to disk.

Words come from the console's catalogues through `translate`, in the language of the person who
downloads it; names of the receiving body come from the referral (copied from the config).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from ivr import display_time
from ivr.cases.referrals import ReferralPackage, recipient_name

# fontTools logs every glyph it keeps when it subsets the font: which letters a report holds stays out of logs.
logging.getLogger("fontTools").setLevel(logging.WARNING)
FONTS = Path(__file__).resolve().parent / "fonts"
FONT = "DejaVuSans"
Translate = Callable[..., str]


class _Document(FPDF):
    """A4 pages with the case reference and page number at the foot of each."""

    footer_text = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, "", 8)
        self.set_text_color(110)
        self.cell(0, 6, f"{self.footer_text} · {self.page_no()}/{{nb}}", align="C")
        self.set_text_color(0)


def render_referral(
    pkg: ReferralPackage, translate: Translate, language: str, region_name: Callable[[str | None], str]
) -> bytes:
    """The package as PDF bytes."""
    t = translate
    case = pkg.case
    reference = case.reference or str(case.id)
    pdf = _Document(format="A4")
    pdf.footer_text = t("referral.pdf.footer", reference=reference)
    pdf.add_font(FONT, "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font(FONT, "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_title(t("referral.pdf.title", reference=reference))
    pdf.set_creator("1424")
    pdf.set_lang(language)
    pdf.set_creation_date(pkg.generated_at)
    pdf.alias_nb_pages()
    pdf.set_auto_page_break(True, margin=16)
    pdf.set_margins(16, 14, 16)
    pdf.add_page()
    writer = _Writer(pdf)

    writer.title(t("referral.pdf.title", reference=reference))
    writer.facts([
        (t("referral.recipient"), recipient_name(pkg.referral, language)),
        (t("referral.forwarded"), f"{_dt(pkg.referral.forwarded_at)} · {pkg.forwarded_by}"),
        (t("referral.pdf.generated"), f"{_dt(pkg.generated_at)} · {pkg.generated_by}"),
    ])

    writer.heading(t("referral.pdf.summary"))
    detail = pkg.view.detail
    facts = [
        (t("case.reference"), reference),
        (t("col.received"), _dt(case.created_at)),
        (t("col.region"), region_name(case.region_code)),
        (t("col.language"), t(f"language.{case.language}") if case.language else "—"),
        (t("col.category"), t("category." + (case.category or "none"))),
        (t("col.status"), t("status." + case.status)),
        (t("col.caller"), t("badge.anonymous") if case.is_anonymous else t("badge.named")),
    ]
    if case.is_urgent:
        facts.append((t("badge.urgent"), "✓"))
    if detail and detail.status_reason:
        facts.append((t("case.reason"), t("reason." + detail.status_reason)))
    if pkg.duplicate_of:
        facts.append((t("links.duplicate_of"), pkg.duplicate_of))
    for kind, other in pkg.links:
        facts.append((t(f"links.kind.{kind}"), other))
    facts.append((t("referral.pdf.fingerprint"), pkg.fingerprint))
    writer.facts(facts)

    writer.heading(t("referral.pdf.identity"))
    if pkg.identity is not None:
        writer.facts([(t("referral.pdf.contact"), pkg.identity)])
    else:
        writer.muted(t("referral.pdf.identity_anonymous") if case.is_anonymous else t("referral.pdf.identity_withheld"))

    writer.heading(t("case.transcript"))
    for recording in pkg.view.recordings:
        label = t("case.followup", n=recording.number) if recording.is_followup else t("case.report")
        length = recording.stored.duration_s if recording.stored else recording.intake.duration_s
        writer.subheading(f"{label} · {_dt(recording.intake.created_at)} · {display_time.format_duration(length)}")
        transcript = recording.transcript
        if transcript is None or transcript.status != "done":
            writer.muted(t("referral.pdf.no_transcript"))
            continue
        if transcript.verdict in ("unreliable", "no_speech"):
            writer.muted(t("verdict." + transcript.verdict))
        segments = transcript.segments or []
        if segments:
            for segment in segments:
                writer.text(f"{display_time.format_duration(segment.get('start_s'))}  {segment.get('text', '')}")
        else:
            writer.text(transcript.text or "—")

    writer.heading(t("case.notes"))
    if not pkg.view.notes:
        writer.muted(t("case.no_notes"))
    for note, author in pkg.view.notes:
        writer.subheading(f"{author} · {_dt(note.created_at)}")
        writer.text(note.text)

    writer.heading(t("referral.pdf.thread"))
    if not pkg.thread:
        writer.muted(t("referral.pdf.no_thread"))
    for item in pkg.thread:
        who = t("referral.pdf.reporter") if item.author is None else item.author
        language_name = t(f"language.{item.language}") if item.language else ""
        writer.subheading(" · ".join(filter(None, (who, _dt(item.at), language_name))))
        if item.voice_s is not None:
            writer.muted(t("referral.pdf.voice_message", length=display_time.format_duration(item.voice_s)))
        else:
            writer.text(item.text or "—")

    writer.heading(t("case.audit"))
    writer.rows([
        (_dt(row.at), row.actor_name or t("actor." + row.actor.split(":", 1)[0]), _action(t, row.action))
        for row in pkg.audit
    ])
    return bytes(pdf.output())


def _action(t: Translate, action: str) -> str:
    key = "action." + action
    words = t(key)
    return action if words == key else words


def _dt(moment: datetime | None) -> str:
    return display_time.format_datetime(moment)


class _Writer:
    """The few text styles the package uses."""

    def __init__(self, pdf: FPDF) -> None:
        self.pdf = pdf

    def _line(self, text: str, size: float, style: str = "", height: float = 5.5, **kwargs: Any) -> None:
        self.pdf.set_font(FONT, style, size)
        self.pdf.multi_cell(0, height, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT, **kwargs)

    def title(self, text: str) -> None:
        self._line(text, 16, "B", 8)
        self.pdf.ln(2)

    def heading(self, text: str) -> None:
        self.pdf.ln(3)
        self._line(text, 12.5, "B", 7)
        self.pdf.set_draw_color(160)
        self.pdf.line(self.pdf.l_margin, self.pdf.get_y(), self.pdf.w - self.pdf.r_margin, self.pdf.get_y())
        self.pdf.ln(1.5)

    def subheading(self, text: str) -> None:
        self.pdf.ln(1)
        self._line(text, 9.5, "B")

    def text(self, text: str) -> None:
        self._line(text, 10)

    def muted(self, text: str) -> None:
        self.pdf.set_text_color(90)
        self._line(text, 9.5)
        self.pdf.set_text_color(0)

    def facts(self, pairs: list[tuple[str, str]]) -> None:
        self.pdf.set_font(FONT, "", 10)
        with self.pdf.table(col_widths=(55, 123), borders_layout="NONE", text_align="LEFT", first_row_as_headings=False,
                            line_height=5.5, padding=(0.6, 1, 0.6, 0)) as table:
            for label, value in pairs:
                row = table.row()
                row.cell(label, style=FontFace(emphasis="BOLD", size_pt=9.5))
                row.cell(value or "—")

    def rows(self, rows: list[tuple[str, str, str]]) -> None:
        self.pdf.set_font(FONT, "", 8.5)
        with self.pdf.table(col_widths=(32, 46, 100), borders_layout="HORIZONTAL_LINES", text_align="LEFT",
                            first_row_as_headings=False, line_height=4.6) as table:
            for cells in rows:
                row = table.row()
                for cell in cells:
                    row.cell(cell)
