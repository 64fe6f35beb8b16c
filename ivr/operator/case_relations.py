"""The console's views for a case's relations outside the line (issue 13.4–13.6).

Referrals (forwarding to a body, the package PDF, the supervisor's identity choice), linked cases
(link, unlink, the merged view) and proof of authorship (the supervisor's check, the
investigation flag). Thin over `ivr.cases.referrals`, `links` and `authorship`; each view checks
`visible_case`, so a case of another region answers 404 like a missing one.
"""

from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for
from sqlalchemy.orm import Session

from ivr.accounts import Principal
from ivr.cases import authorship, casework, links, referrals, status_moves
from ivr.cases import case as one_case
from ivr.cases.followup import GuessLimits
from ivr.cases.recipients import RecipientsError, choices, load_recipients
from ivr.models import Case, CaseDetail
from ivr.operator import bp
from ivr.operator.auth import _, cases_only, locale, principal, region_name, supervisors_only
from ivr.operator.code_names import N_
from ivr.operator.forms import ActionForm, AuthorshipForm, InvestigationForm, LinkForm
from ivr.services import services


def _case_or_404(db: Session, case_id: int) -> Case:
    try:
        return casework.visible_case(db, principal(), case_id)
    except casework.CaseHidden:
        abort(404)


def case_context(db: Session, person: Principal, case: Case) -> dict[str, Any]:
    """What the case page's referral and link includes show (called by `routes._render_case`)."""
    recipients, problem = None, None
    try:
        recipients = load_recipients(services().settings.recipients_path)
    except RecipientsError as error:
        problem = str(error)  # shown where the list would be; forwarding waits for a fix
    linked, hidden_links = links.linked_cases(db, person, case)
    return {
        "referrals": referrals.referrals_of(db, case),
        "recipient_choices": choices(recipients, locale(), case.region_code) if recipients else [],
        "recipients_problem": problem,
        "has_identity": referrals.has_identity(db, case),
        "linked": linked,
        "hidden_links": hidden_links,
        "duplicate_of": links.duplicate_of(db, case),
        "link_form": LinkForm(),
        "investigation_at": _investigation_at(db, case) if person.is_supervisor else None,
        "recipient_label": lambda referral: referrals.recipient_name(referral, locale()),
    }


def _investigation_at(db: Session, case: Case) -> Any:
    detail = db.get(CaseDetail, case.id)  # reading a case creates no row
    return detail.investigation_at if detail else None


def forward_or_close(db: Session, case: Case, form: Any) -> None:
    """The status form: forwarding names a body, closing as a duplicate names the case that carries on."""
    raw = form.duplicate_of.data or ""
    status_moves.move(
        db, principal(), case, form.status.data or "", form.reason.data or None,
        recipients_path=services().settings.recipients_path, recipient=form.recipient.data or None,
        include_identity=bool(form.include_identity.data), duplicate_of_id=int(raw) if raw.isdigit() else None,
    )


def _back(case_id: int, anchor: str = "") -> Any:
    return redirect(url_for("operator.case_page", case_id=case_id) + anchor)


def _act(case_id: int, action: Any, form: Any, anchor: str) -> Any:
    with services().sessions.begin() as db:
        case = _case_or_404(db, case_id)
        if not form.validate_on_submit():
            flash(_("form.required"), "error")
            return _back(case_id, anchor)
        try:
            action(db, case, form)
        except casework.NotAllowed as exc:
            abort(403, description=exc.code)
        except casework.Invalid as exc:
            flash(_(exc.code), "error")
            return _back(case_id, anchor)
    flash(_("case.saved"), "ok")
    return _back(case_id, anchor)


# ---------------------------------------------------------------- referrals


@bp.post("/cases/<int:case_id>/referrals/<int:referral_id>/identity")
@supervisors_only
def referral_identity(case_id: int, referral_id: int) -> Any:
    """A supervisor puts the named reporter's contact in a referral's package, or takes it out (audited)."""

    def action(db: Session, case: Case, form: ActionForm) -> None:
        try:
            referral = referrals.referral_of(db, case, referral_id)
        except casework.CaseHidden:
            abort(404)
        referrals.set_identity(db, principal(), case, referral, request.form.get("include") == "1")

    return _act(case_id, action, ActionForm(), "#referrals")


@bp.get("/cases/<int:case_id>/referrals/<int:referral_id>/package.pdf")
@cases_only
def referral_package(case_id: int, referral_id: int) -> Response:
    """The referral package, made now from the case as it is; the download is audited."""
    from ivr.documents.referral_pdf import render_referral

    person = principal()
    with services().sessions.begin() as db:
        case = _case_or_404(db, case_id)
        try:
            referral = referrals.referral_of(db, case, referral_id)
        except casework.CaseHidden:
            abort(404)
        linked, _hidden = links.linked_cases(db, person, case)
        original = links.duplicate_of(db, case)
        pkg = referrals.package(
            db, person, case, referral, services().cipher,
            links=[(item.kind, item.case.reference or str(item.case.id)) for item in linked],
            duplicate_of=(original.reference or str(original.id)) if original else None,
        )
        body = render_referral(pkg, _, locale(), region_name)
    name = f"referral-{case.reference or case.id}-{referral_id}.pdf"
    return Response(body, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "no-store, private",
    })


# ---------------------------------------------------------------- linked cases


@bp.post("/cases/<int:case_id>/links")
@cases_only
def add_link(case_id: int) -> Any:
    """Link this case to another one the person may open, by its reference."""

    def action(db: Session, case: Case, form: LinkForm) -> None:
        other = links.find_case(db, principal(), form.other.data or "")
        links.link(db, principal(), case, other, form.kind.data or "")

    return _act(case_id, action, LinkForm(), "#links")


@bp.post("/cases/<int:case_id>/links/<int:other_id>/remove")
@cases_only
def remove_link(case_id: int, other_id: int) -> Any:
    """Remove a link (both cases must be open to the person)."""
    return _act(case_id, lambda db, case, form: links.unlink(db, principal(), case, other_id), ActionForm(), "#links")


@bp.get("/cases/<int:case_id>/linked")
@cases_only
def linked_view(case_id: int) -> str:
    """The case and every linked case the person may open, together; each is audited as viewed."""
    person = principal()
    with services().sessions.begin() as db:
        case = _case_or_404(db, case_id)
        linked, hidden = links.linked_cases(db, person, case)
        shown = [(case, None), *((item.case, item.kind) for item in linked)]
        views = []
        for each, kind in shown:
            casework.audit(db, person, "case.viewed", each, via="linked", from_case_id=case.id)
            views.append((one_case.case_view(db, each), kind, links.duplicate_of(db, each)))
        return render_template("operator/linked.html", case=case, views=views, hidden=hidden)


# ---------------------------------------------------------------- proof of authorship


@bp.route("/authorship", methods=["GET", "POST"])
@supervisors_only
def authorship_check() -> str:
    """A supervisor checks a reference and PIN the reporter keys in or reads out; every try is audited."""
    form = AuthorshipForm()
    result = None
    failed = False
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        svc = services()
        settings = svc.settings
        limits = GuessLimits(settings.followup_max_failures, settings.followup_lock_minutes,
                             settings.followup_max_failures_per_hour)
        result = authorship.verify(svc.sessions, svc.pins, principal(), form.reference.data or "",
                                   form.pin.data or "", limits=limits)
        failed = result is None
        form.pin.data = ""
    return render_template("operator/authorship.html", form=form, result=result, failed=failed)


@bp.post("/cases/<int:case_id>/investigation")
@supervisors_only
def set_investigation(case_id: int) -> Any:
    """A supervisor records that a receiving body opened an investigation (or takes it back)."""

    def action(db: Session, case: Case, form: InvestigationForm) -> None:
        authorship.mark_investigation(db, principal(), case, form.opened.data == "1")

    return _act(case_id, action, InvestigationForm(), "#referrals")


# Codes these views show by name (see ivr/operator/code_names.py): refusals and audit actions.
RELATION_NAMES = (
    N_("referral.recipient_required"),
    N_("referral.identity_supervisors_only"),
    N_("referral.no_identity"),
    N_("referral.config_broken"),
    N_("links.not_found"),
    N_("links.self"),
    N_("links.closed_duplicate"),
    N_("links.original_is_duplicate"),
    N_("links.duplicate_needs_original"),
    N_("links.duplicate_of"),
    N_("links.kind.duplicate"),
    N_("links.kind.related"),
    N_("action.referral.created"),
    N_("action.referral.identity_included"),
    N_("action.referral.identity_excluded"),
    N_("action.referral.downloaded"),
    N_("action.case.linked"),
    N_("action.case.unlinked"),
    N_("action.case.link_changed"),
    N_("action.case.followup_on_duplicate"),
    N_("action.case.investigation_marked"),
    N_("action.case.investigation_unmarked"),
    N_("action.authorship.verified"),
    N_("action.authorship.failed"),
    N_("action.authorship.kept"),
    N_("action.authorship.purged"),
    N_("referral.pdf.title"),
    N_("referral.pdf.footer"),
    N_("referral.pdf.generated"),
    N_("referral.pdf.summary"),
    N_("referral.pdf.fingerprint"),
    N_("referral.pdf.identity"),
    N_("referral.pdf.contact"),
    N_("referral.pdf.identity_anonymous"),
    N_("referral.pdf.identity_withheld"),
    N_("referral.pdf.no_transcript"),
    N_("referral.pdf.thread"),
    N_("referral.pdf.no_thread"),
    N_("referral.pdf.reporter"),
    N_("referral.pdf.voice_message"),
    N_("referral.recipient"),
    N_("referral.forwarded"),
)
