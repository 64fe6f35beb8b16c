"""The console's pages for case work: the queue, a case, its audio, the overview and the audit log.

Each view checks the person's role (decorators from `auth`) and, for anything about one case,
`casework.visible_case`: a case of another region answers 404 exactly like a missing one.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from flask import Response, abort, flash, jsonify, redirect, render_template, request, session, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr import audio_stream, display_time, i18n
from ivr.cases import audit as audit_trail
from ivr.cases import case as one_case
from ivr.cases import casework, followup, recordings
from ivr.cases import deadlines as case_deadlines
from ivr.cases import queue as case_queue
from ivr.cases import statistics as case_statistics
from ivr.cases import thread as case_thread
from ivr.db import utc_now
from ivr.models import CASE_STATUSES, AuditEvent, Case, Operator
from ivr.operator import bp, case_relations, charts, searching
from ivr.operator.auth import (
    _,
    cases_only,
    locale,
    now_local,
    principal,
    region_codes,
    roles,
    supervisors_only,
)
from ivr.operator.forms import (
    ActionForm,
    AssignForm,
    CategoryForm,
    NoteForm,
    RegionForm,
    ReporterMessageForm,
    StatusForm,
)
from ivr.services import services

LANGUAGES = case_queue.LANGUAGES
POLL_INTERVAL_S = 4
"""The queue page asks for its rows this often: a new urgent case is announced within 5 s."""


def queue_filters() -> case_queue.QueueFilters:
    """The queue's filters from the query string."""
    return case_queue.parse_filters(request.args, region_codes())


def _queue_context(db: Session) -> dict[str, Any]:
    person = principal()
    book, book_problem = case_deadlines.book_or_problem(services().settings)
    now = utc_now()
    found = searching.search_filters(db, now)
    filters = dataclasses.replace(queue_filters(), search=found)
    page = case_queue.list_cases(db, person, filters, book=book, now=now,
                                 min_confidence=searching.min_confidence())
    waiting = case_queue.waiting_by_region(db, person)
    visible_regions = region_codes() if person.sees_all_regions else list(person.region_codes)
    args = {k: v for k, v in request.args.items() if k not in ("page", "partial")}
    return {
        "page": page,
        "filters": filters,
        "waiting": waiting,
        "waiting_total": sum(waiting.values()),
        "visible_regions": visible_regions,
        "languages": LANGUAGES,
        "statuses": CASE_STATUSES,
        "page_args": args,
        "updated": now_local(),
        "poll_s": POLL_INTERVAL_S,
        "now": now,
        "deadline_problem": book_problem,
        "urgent_waiting": case_queue.urgent_waiting(db, person),
        "age_of": lambda moment: (now - case_deadlines.aware(moment)).total_seconds(),
        **searching.search_context(db, found),
    }


@bp.get("/")
@cases_only
def queue() -> str:
    """The queue of reports this person may see."""
    with services().sessions() as db:
        context = _queue_context(db)
    return render_template("operator/queue.html", **context)


@bp.get("/queue/live")
@cases_only
def queue_live() -> str:
    """The queue's changing part, fetched by the page every few seconds (no full reload)."""
    with services().sessions() as db:
        context = _queue_context(db)
    return render_template("operator/_queue_live.html", **context)


@bp.get("/queue/urgent")
@cases_only
def queue_urgent() -> Response:
    """Urgent cases nobody has taken, as JSON: a background tab (no table refresh) still alerts."""
    with services().sessions() as db:
        waiting = case_queue.urgent_waiting(db, principal())
    return jsonify(count=len(waiting), cases=[{"id": row.id, "reference": row.reference} for row in waiting])


# ---------------------------------------------------------------- one case


def _case_or_404(db: Session, case_id: int) -> Case:
    try:
        return casework.visible_case(db, principal(), case_id)
    except casework.CaseHidden:
        abort(404)


def _unlocked(intake_id: int) -> bool:
    """Whether this session's supervisor unlocked this original voice, and not too long ago."""
    granted = session.get("originals", {}).get(str(intake_id))
    return bool(granted) and utc_now().timestamp() - float(granted) < casework.ORIGINAL_GRANT.total_seconds()


def _render_case(db: Session, case: Case, *, contact: str | None = None, status: int = 200) -> tuple[str, int]:
    person = principal()
    view = one_case.case_view(db, case)
    if person.is_supervisor:
        view.assignable = casework.assignable_operators(db, case)
    players = []
    for recording in view.recordings:
        stored = recording.stored
        version = recordings.default_version(case, stored)
        protected = stored is not None and recordings.is_voice_protected(case, stored)
        unlocked = protected and person.is_supervisor and _unlocked(recording.intake.id)
        problem = None
        if stored is None:
            problem = "case.audio_missing"
        elif stored.purged_at is not None:
            problem = "case.audio_purged"
        elif protected and not stored.disguised_key:
            problem = "case.disguise_missing"
        players.append(
            {
                "recording": recording,
                "version": version,
                "is_protected": protected,
                "is_unlocked": unlocked,
                "problem": problem,
                "src": url_for("operator.recording_audio", intake_id=recording.intake.id, v=version),
                "original_src": url_for("operator.recording_audio", intake_id=recording.intake.id, v="original"),
            }
        )
    status_form = StatusForm()
    audit_rows = audit_trail.audit_for_case(db, case, viewer=person) if person.is_supervisor else []
    return render_template(
        "operator/case.html",
        view=view,
        case=case,
        players=players,
        contact=contact,
        allowed_statuses=casework.allowed_statuses(person, case),
        close_reasons=casework.CLOSE_REASONS,
        categories=casework.CATEGORIES,
        regions=region_codes(),
        status_form=status_form,
        assign_form=AssignForm(),
        category_form=CategoryForm(),
        region_form=RegionForm(),
        note_form=NoteForm(),
        message_form=ReporterMessageForm(),
        thread_entries=case_thread.thread_of(db, case),
        thread_languages=case_thread.LANGUAGES,
        audit_rows=audit_rows,
        can_claim=case.assignee_id != person.id and (case.assignee_id is None or person.is_supervisor),
        reference_locked_until=followup.locked_until(view.call),
        wait_s=_wait_s(case, view.detail.first_handled_at if view.detail else None),
        deadlines=_deadlines_of(case, view.detail.first_handled_at if view.detail else None),
        now=utc_now(),
        **searching.transcript_context(db, view),
        **case_relations.case_context(db, person, case),
    ), status


def _deadlines_of(case: Case, handled_at: datetime | None) -> list[case_deadlines.Deadline]:
    """Every deadline the case has not met yet, nearest first (none if the rule files are wrong)."""
    book = case_deadlines.book_or_problem(services().settings)[0]
    if book is None:
        return []
    facts = case_deadlines.CaseFacts(case.created_at, case.status, case.is_urgent, case.category, handled_at)
    return case_deadlines.deadlines_of(facts, book, utc_now())


def _aware(moment: datetime) -> datetime:
    return display_time.local_time(moment) or moment


def _wait_s(case: Case, handled_at: datetime | None) -> float | None:
    if handled_at is None:
        return None
    return (_aware(handled_at) - _aware(case.created_at)).total_seconds()


def _audit_view(db: Session, case: Case) -> None:
    """Reading a report is access to it too: one audit row per person and case per window."""
    person = principal()
    since = utc_now() - casework.LISTEN_AUDIT_WINDOW
    recent = db.scalars(
        select(AuditEvent.id)
        .where(
            AuditEvent.actor == person.actor,
            AuditEvent.action == "case.viewed",
            AuditEvent.call_id == case.call_id,
            AuditEvent.at >= since,
        )
        .limit(1)
    ).first()
    if recent is None:
        casework.audit(db, person, "case.viewed", case)


@bp.get("/cases/<int:case_id>")
@cases_only
def case_page(case_id: int) -> tuple[str, int]:
    """One case: recordings, transcript, metadata, and what can be done to it."""
    with services().sessions.begin() as db:
        case = _case_or_404(db, case_id)
        _audit_view(db, case)
        casework.mark_seen(db, principal(), case)
        return _render_case(db, case)


def _act(case_id: int, action: Any, form: Any = None) -> Response | tuple[str, int]:
    """Run one change on a case in a transaction; errors come back as a message on the page."""
    form = form or ActionForm()
    with services().sessions.begin() as db:
        case = _case_or_404(db, case_id)
        if not form.validate_on_submit():
            flash(_("form.required"), "error")
            return redirect(url_for("operator.case_page", case_id=case_id))
        try:
            action(db, case, form)
        except casework.NotAllowed as exc:
            abort(403, description=exc.code)
        except casework.Invalid as exc:
            flash(_(exc.code), "error")
            return redirect(url_for("operator.case_page", case_id=case_id))
    flash(_("case.saved"), "ok")
    return redirect(url_for("operator.case_page", case_id=case_id))


@bp.post("/cases/<int:case_id>/unlock-reference")
@cases_only
def unlock_reference(case_id: int) -> Any:
    """Let the reporter try their PIN again now (wrong PINs had locked the reference)."""
    return _act(
        case_id,
        lambda db, case, form: followup.unlock(db, case.reference or "", actor=f"operator:{principal().id}"),
    )


@bp.post("/cases/<int:case_id>/claim")
@cases_only
def claim_case(case_id: int) -> Any:
    """Take the case."""
    return _act(case_id, lambda db, case, form: casework.claim(db, principal(), case))


@bp.post("/cases/<int:case_id>/assign")
@cases_only
def assign_case(case_id: int) -> Any:
    """Give the case to someone (supervisors)."""

    def action(db: Session, case: Case, form: AssignForm) -> None:
        raw = form.assignee.data or ""
        casework.assign(db, principal(), case, int(raw) if raw.isdigit() else None)

    return _act(case_id, action, AssignForm())


@bp.post("/cases/<int:case_id>/status")
@cases_only
def change_status(case_id: int) -> Any:
    """Move the case to another status."""

    def action(db: Session, case: Case, form: StatusForm) -> None:
        case_relations.forward_or_close(db, case, form)  # forwarding names a body; a duplicate names its case

    return _act(case_id, action, StatusForm())


@bp.post("/cases/<int:case_id>/category")
@cases_only
def set_category(case_id: int) -> Any:
    """Classify the case."""
    return _act(case_id, lambda db, case, form: casework.set_category(db, principal(), case, form.category.data),
                CategoryForm())


@bp.post("/cases/<int:case_id>/region")
@supervisors_only
def set_region(case_id: int) -> Any:
    """Route the case to a region (supervisors)."""
    return _act(
        case_id,
        lambda db, case, form: casework.set_region(db, principal(), case, form.region.data, set(region_codes())),
        RegionForm(),
    )


@bp.post("/cases/<int:case_id>/notes")
@cases_only
def add_note(case_id: int) -> Any:
    """Add a note."""
    return _act(case_id, lambda db, case, form: casework.add_note(db, principal(), case, form.text.data or ""),
                NoteForm())


@bp.post("/cases/<int:case_id>/reporter-message")
@cases_only
def set_reporter_message(case_id: int) -> Any:
    """Write a message the caller hears on calling back (the thread's text message, the case's language)."""
    from ivr.operator.thread_views import post_text_of

    return _act(case_id, lambda db, case, form: post_text_of(db, principal(), case, form.text.data or "", None),
                ReporterMessageForm())


@bp.post("/cases/<int:case_id>/contact")
@cases_only
def show_contact(case_id: int) -> tuple[str, int]:
    """Decrypt the named caller's contact for this one page view, and audit it."""
    form = ActionForm()
    with services().sessions.begin() as db:
        case = _case_or_404(db, case_id)
        if not form.validate_on_submit():
            abort(400)
        contact = casework.reveal_contact(db, principal(), case, services().cipher)
        if contact is None:
            abort(404)
        return _render_case(db, case, contact=contact)


@bp.post("/recordings/<int:intake_id>/original")
@supervisors_only
def unlock_original(intake_id: int) -> Response:
    """A supervisor's explicit, audited choice to hear an anonymous caller's own voice."""
    with services().sessions.begin() as db:
        try:
            case, intake = casework.visible_intake(db, principal(), intake_id)
        except casework.CaseHidden:
            abort(404)
        casework.unlock_original(db, principal(), case, intake)
    originals = dict(session.get("originals", {}))
    originals[str(intake_id)] = utc_now().timestamp()
    session["originals"] = originals
    return redirect(url_for("operator.case_page", case_id=case.id) + f"#recording-{intake_id}")


@bp.get("/recordings/<int:intake_id>/audio")
@cases_only
def recording_audio(intake_id: int) -> Response:
    """The decrypted recording, streamed with Range support; every listen is audited."""
    person = principal()
    with services().sessions.begin() as db:
        try:
            case, intake, stored = casework.visible_recording(db, person, intake_id)
        except casework.CaseHidden:
            abort(404)
        version = request.args.get("v") or recordings.default_version(case, stored)
        try:
            key = recordings.storage_key(person, case, stored, version, has_unlocked=_unlocked(intake_id))
        except recordings.Unavailable as exc:
            abort(exc.status, description=exc.code)
        casework.record_listen(db, person, case, intake, version, action="recording.fetched")
    return audio_stream.respond_with_audio(request, key)


@bp.post("/recordings/<int:intake_id>/played")
@cases_only
def recording_played(intake_id: int) -> tuple[str, int]:
    """The console's player started playing (its `play` event): audited as a listen.

    Opening the case is not a listen (its players preload nothing); a fetch of the audio is
    audited on its own as `recording.fetched`.
    """
    person = principal()
    version = request.args.get("v", "")
    with services().sessions.begin() as db:
        try:
            case, intake, stored = casework.visible_recording(db, person, intake_id)
        except casework.CaseHidden:
            abort(404)
        try:
            recordings.storage_key(person, case, stored, version or recordings.default_version(case, stored),
                                   has_unlocked=_unlocked(intake_id))
        except recordings.Unavailable as exc:
            abort(exc.status, description=exc.code)
        casework.record_listen(db, person, case, intake, version or recordings.default_version(case, stored))
    return "", 204


# ---------------------------------------------------------------- supervisors


@bp.get("/overview")
@supervisors_only
def overview() -> str:
    """Reports per day and region, waiting times, where callers hang up: as charts."""
    days = case_statistics.period_days(request.args.get("days"), minimum=7)
    book, book_problem = case_deadlines.book_or_problem(services().settings)
    with services().sessions() as db:
        figures = case_statistics.overview(db, principal(), days=days)
        overdue = case_deadlines.overdue_counts(db, principal(), book, utc_now()) if book else None
    lang = locale()
    day_chart = charts.columns(
        [(day.strftime("%d.%m"), count) for day, count in figures.days], title=_("overview.per_day"),
    )
    region_chart = charts.bars(
        [(region_name_of(code), count) for code, count in figures.regions], title=_("overview.per_region"),
        width=480, label_width=170,
    )
    wait_chart = charts.bars(
        [(region_name_of(code), (stats.median_s or 0) / 60) for code, stats in figures.waits_by_region
         if stats.median_s is not None],
        title=_("overview.waiting") + " · " + _("overview.median"),
        value_label=lambda minutes: i18n.format_wait(minutes * 60, lang), width=480, label_width=170,
    )
    dropped_chart = charts.bars(
        [(f"{node or _('overview.step_unknown')} · {_('call_status.' + status)}", count)
         for node, status, count in figures.dropped],
        title=_("overview.dropped"),
    )
    return render_template(
        "operator/overview.html",
        figures=figures,
        days=days,
        day_chart=day_chart,
        region_chart=region_chart,
        wait_chart=wait_chart,
        dropped_chart=dropped_chart,
        overdue=overdue,
        deadline_problem=book_problem,
    )


@bp.get("/workload")
@supervisors_only
def workload() -> str:
    """Open and overdue cases per person, and those nobody has taken (supervisors)."""
    book, book_problem = case_deadlines.book_or_problem(services().settings)
    with services().sessions() as db:
        rows = case_deadlines.workload(db, principal(), book, utc_now()) if book else []
    return render_template("operator/workload.html", rows=rows, deadline_problem=book_problem)


def region_name_of(code: str | None) -> str:
    """A region's name for charts."""
    from ivr.operator.auth import region_name

    return region_name(code)


@bp.get("/audit")
@supervisors_only
def audit_log() -> str:
    """People's recent actions across the console."""
    before = request.args.get("before", "")
    with services().sessions() as db:
        rows = audit_trail.recent_audit(db, before_id=int(before) if before.isdigit() else None, viewer=principal())
        people = list(db.scalars(select(Operator).order_by(Operator.display_name)))
    return render_template("operator/audit.html", rows=rows, people=people, subject=None)


@bp.get("/audit/users/<int:operator_id>")
@roles("supervisor", "admin")
def user_audit(operator_id: int) -> str:
    """What one person did (supervisors and admins)."""
    before = request.args.get("before", "")
    with services().sessions() as db:
        subject = db.get(Operator, operator_id)
        if subject is None:
            abort(404)
        before_id = int(before) if before.isdigit() else None
        rows = audit_trail.audit_for_actor(db, f"operator:{operator_id}", before_id=before_id, viewer=principal())
        people = list(db.scalars(select(Operator).order_by(Operator.display_name)))
    return render_template("operator/audit.html", rows=rows, people=people, subject=subject)


@bp.get("/cases/<int:case_id>/audit")
@supervisors_only
def case_audit(case_id: int) -> str:
    """Everything that happened to one case."""
    with services().sessions() as db:
        case = _case_or_404(db, case_id)
        rows = audit_trail.audit_for_case(db, case, viewer=principal())
    return render_template("operator/audit.html", rows=rows, people=[], subject=None, case=case)

