"""Forwarding names the receiving body, and its package is a real PDF (issue 13.4), on SQLite and PostgreSQL.

The PDF is rendered to PNG with pdfium and its text read back: Kazakh letters come out as letters
(the bundled DejaVu Sans), and the named reporter's contact is in it only after a supervisor's
audited choice.
"""

from __future__ import annotations

import io
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from PIL import Image

from ivr.cases.recipients import RecipientsError, load_recipients, parse_recipients
from ivr.models import CaseReferral
from tests.operator.console import Console, post_form

ROOT = Path(__file__).resolve().parents[2]
KAZAKH = "әғқңөұүһі"
CONTACT = "77012345678"


def pdf_text_and_pages(body: bytes) -> tuple[str, list[Image.Image]]:
    """All the text pdfium reads from the PDF, and every page rendered to a PNG image."""
    document = pdfium.PdfDocument(body)
    texts, images = [], []
    for page in document:
        texts.append(page.get_textpage().get_text_range())
        image = page.render(scale=1.5).to_pil()
        png = io.BytesIO()
        image.save(png, format="PNG")
        images.append(Image.open(io.BytesIO(png.getvalue())))
    return " ".join(" ".join(texts).split()), images  # lines wrap where the page ends: compare words


def forward(client, case_id: int, recipient: str, **extra: str):  # type: ignore[no-untyped-def]
    post_form(client, f"/operator/cases/{case_id}/claim")
    return post_form(client, f"/operator/cases/{case_id}/status",
                     {"status": "forwarded", "recipient": recipient, **extra}, page=f"/operator/cases/{case_id}")


def only_referral(console: Console) -> CaseReferral:
    with console.svc.sessions() as session:
        [row] = session.query(CaseReferral).all()
        return row


def test_the_shipped_list_names_all_twenty_agency_departments_in_three_languages() -> None:
    recipients = load_recipients(ROOT / "config" / "recipients.yaml")
    agency = [r for r in recipients.recipients if r.kind == "agency" and r.region]
    assert sorted(r.region for r in agency) == [f"{n:02d}" for n in range(1, 21)]  # type: ignore[type-var]
    assert {r.kind for r in recipients.recipients} == {"agency", "prosecutor", "police", "other"}
    for recipient in recipients.recipients:
        assert recipient.names.kk != recipient.names.ru and recipient.names.en.isascii()
    assert any(set(KAZAKH) & set(r.names.kk) for r in agency)


def test_a_wrong_list_is_refused_with_file_and_line(tmp_path: Path) -> None:
    text = (ROOT / "config" / "recipients.yaml").read_text(encoding="utf-8")
    broken = text.replace("code: agency-05", "code: agency-04", 1)
    lines = broken.splitlines()
    line = lines.index("  - code: agency-04", lines.index("  - code: agency-04") + 1) + 1
    twice = rf"recipients.yaml:{line}: recipients\.\d+\.code: code 'agency-04' is used twice"
    with pytest.raises(RecipientsError, match=twice):
        parse_recipients(broken, "config/recipients.yaml")
    bad_region = tmp_path / "recipients.yaml"
    bad_region.write_text("recipients:\n  - code: x\n    kind: police\n    region: 05\n"
                          "    names: {kk: а, ru: б, en: c}\n")
    with pytest.raises(RecipientsError, match=r"recipients.yaml:4: recipients.0.region: write the region code in"):
        load_recipients(bad_region)


def test_forwarding_needs_a_body_and_records_it(console: Console, make_client) -> None:
    user_id = console.add_user("aigerim")
    ref = console.add_case()
    client = make_client("aigerim")
    refused = forward(client, ref.id, "")
    assert console.case(ref.id).status == "in_review"
    assert "Выберите, куда направить обращение." in client.get(refused.headers["Location"]).get_data(as_text=True)

    forward(client, ref.id, "agency-02")

    assert console.case(ref.id).status == "forwarded"
    referral = only_referral(console)
    assert referral.recipient_code == "agency-02" and referral.forwarded_by == user_id
    assert referral.recipient_names["kk"].startswith("Сыбайлас жемқорлыққа қарсы") and not referral.include_identity
    [created] = console.audit(action="referral.created")
    assert created.detail == {"case_id": ref.id, "referral_id": referral.id, "recipient": "agency-02"}
    [change] = [e for e in console.audit(action="case.status_changed") if e.detail["status_to"] == "forwarded"]
    assert change.detail["recipient"] == "agency-02"
    page = client.get(f"/operator/cases/{ref.id}").get_data(as_text=True)
    assert "Департамент Агентства по противодействию коррупции по городу Алматы" in page


def test_the_package_is_a_pdf_with_kazakh_text_and_no_identity_unless_a_supervisor_includes_it(
    console: Console, make_client
) -> None:
    console.add_user("aigerim", locale="kk")
    dana = console.add_user("dana", role="supervisor", locale="kk")
    ref = console.add_case(is_anonymous=False, contact=CONTACT, language="kk")
    operator = make_client("aigerim")
    note = "Әкімдікте ақша сұрады, куәгер бар. Шаһар әкімі оның үйінде білген, ағайым көмектеспеді."  # all nine
    assert set(KAZAKH) <= set(note.lower())
    post_form(operator, f"/operator/cases/{ref.id}/notes", {"text": note})
    forward(operator, ref.id, "agency-02")
    referral = only_referral(console)
    url = f"/operator/cases/{ref.id}/referrals/{referral.id}/package.pdf"

    response = operator.get(url)

    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF-") and "attachment" in response.headers["Content-Disposition"]
    text, pages = pdf_text_and_pages(response.data)
    assert pages and pages[0].size[0] > 800  # a real A4 page rendered at 1.5x (893 px wide)
    assert pages[0].convert("L").getextrema()[0] < 50  # something dark was drawn: the text
    assert "Сыбайлас жемқорлыққа қарсы іс-қимыл агенттігінің Алматы қаласы бойынша департаменті" in text
    assert note in text  # the note, every Kazakh letter extracted as itself (the font maps them all)
    assert "В акимате требовали деньги за справку." in text  # the transcript
    assert ref.call_sid not in text and CONTACT not in text  # no identity without a supervisor
    assert "Өтініш берушінің деректері пакетке енгізілмеген." in text
    assert "action.case.viewed" not in text  # the audit trail reads as words
    [download] = console.audit(action="referral.downloaded")
    assert download.detail["identity_included"] is False

    # An operator cannot tick the identity in; a supervisor can, and it is audited.
    assert post_form(operator, f"/operator/cases/{ref.id}/referrals/{referral.id}/identity",
                     {"include": "1"}).status_code == 403
    supervisor = make_client("dana")
    post_form(supervisor, f"/operator/cases/{ref.id}/referrals/{referral.id}/identity", {"include": "1"})
    [included] = console.audit(action="referral.identity_included")
    assert included.actor == f"operator:{dana}" and only_referral(console).include_identity

    text, _ = pdf_text_and_pages(operator.get(url).data)
    assert CONTACT in text
    assert [e.detail["identity_included"] for e in console.audit(action="referral.downloaded")] == [False, True]

    post_form(supervisor, f"/operator/cases/{ref.id}/referrals/{referral.id}/identity", {"include": "0"})
    assert console.audit(action="referral.identity_excluded")
    assert CONTACT not in pdf_text_and_pages(operator.get(url).data)[0]


def test_anonymous_cases_never_carry_an_identity_and_other_regions_get_404(console: Console, make_client) -> None:
    console.add_user("aigerim")
    console.add_user("bolat", regions=["07"])
    console.add_user("dana", role="supervisor")
    ref = console.add_case(is_anonymous=True, contact=CONTACT)
    supervisor = make_client("dana")
    forward(supervisor, ref.id, "prosecutor-02", include_identity="y")
    assert console.case(ref.id).status == "in_review"  # refused: an anonymous case has no identity to include
    forward(supervisor, ref.id, "prosecutor-02")
    referral = only_referral(console)
    assert post_form(supervisor, f"/operator/cases/{ref.id}/referrals/{referral.id}/identity",
                     {"include": "1"}).status_code == 302
    assert not only_referral(console).include_identity
    url = f"/operator/cases/{ref.id}/referrals/{referral.id}/package.pdf"
    text, _ = pdf_text_and_pages(make_client("aigerim").get(url).data)
    assert CONTACT not in text and "Анонимное обращение" in text
    assert make_client("bolat").get(url).status_code == 404
    assert not [e for e in console.audit(action="referral.downloaded") if e.actor.endswith(":2")]


def test_the_font_ships_inside_the_package_with_its_licence() -> None:
    import tomllib

    fonts = ROOT / "ivr" / "documents" / "fonts"
    assert (fonts / "DejaVuSans.ttf").stat().st_size > 500_000 and "Bitstream" in (fonts / "LICENSE").read_text()
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "fonts/*" in config["tool"]["setuptools"]["package-data"]["*"]


def test_the_package_carries_the_thread_with_the_reporter(console: Console, make_client) -> None:
    from ivr.models import FROM_REPORTER, TO_REPORTER, ThreadMessage

    user_id = console.add_user("aigerim")
    ref = console.add_case(followups=1)
    with console.svc.sessions.begin() as session:
        asked = ThreadMessage(call_id=ref.call_id, direction=TO_REPORTER, operator_id=user_id, language="kk",
                              text="Қай күні болды? Куәгерлер бар ма?")
        session.add(asked)
        session.flush()
        session.add(ThreadMessage(call_id=ref.call_id, direction=FROM_REPORTER, language="ru",
                                  intake_id=ref.intake_ids[1], reply_to_id=asked.id))
        session.add(ThreadMessage(call_id=ref.call_id, direction=TO_REPORTER, operator_id=user_id, language="ru",
                                  audio_key="thread/voice.wav", audio_duration_s=12.0, voice="operator"))
    client = make_client("aigerim")
    forward(client, ref.id, "police-02")
    referral = only_referral(console)

    text, _ = pdf_text_and_pages(client.get(f"/operator/cases/{ref.id}/referrals/{referral.id}/package.pdf").data)

    thread = text[text.index("Переписка с заявителем"):]
    assert thread.index("Қай күні болды? Куәгерлер бар ма?") < thread.index("Заявитель") < thread.index(
        "В акимате требовали деньги за справку.") < thread.index("Голосовое сообщение, 0:12")


def test_a_broken_list_shows_where_and_forwarding_waits(make_settings, database_url, tmp_path: Path) -> None:
    from ivr.app import create_app
    from tests.operator.console import sign_in

    broken = tmp_path / "recipients.yaml"
    broken.write_text("recipients:\n  - code: agency-02\n    kind: agency\n    names: {kk: а, ru: б}\n")
    app = create_app(make_settings(database_url=database_url, recipients_path=broken))
    app.config["TESTING"] = True
    try:
        console = Console(app)
        console.add_user("aigerim")
        ref = console.add_case()
        client = app.test_client()
        sign_in(client, "aigerim")
        post_form(client, f"/operator/cases/{ref.id}/claim")  # in review: forwarding is offered
        page = client.get(f"/operator/cases/{ref.id}").get_data(as_text=True)
        assert f"{broken}:4: recipients.0.names.en: Field required" in page
        refused = forward(client, ref.id, "agency-02")
        assert console.case(ref.id).status == "in_review" and not console.audit(action="referral.created")
        assert "Список получателей содержит ошибку" in client.get(refused.headers["Location"]).get_data(as_text=True)
    finally:
        app.extensions["ivr"].close()
