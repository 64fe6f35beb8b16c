"""The console's search: the queue's search box and filters, saved searches, transcript corrections.

Thin views over `ivr.cases.search` and `ivr.cases.transcripts`; the queue page itself stays in
`routes`, which asks `search_filters` for the search part of its filters.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import abort, flash, redirect, request, url_for
from sqlalchemy.orm import Session

from ivr.cases import casework, search, transcripts
from ivr.cases import deadlines as case_deadlines
from ivr.models import Operator
from ivr.operator import bp
from ivr.operator.auth import _, cases_only, principal
from ivr.operator.forms import ActionForm, SavedFilterForm, TranscriptForm
from ivr.services import services

DEADLINE_STATES = search.DEADLINE_STATES


def min_confidence() -> float:
    """The line's threshold below which a transcript asks to be listened to."""
    return float(getattr(services().settings, "transcript_min_confidence", transcripts.DEFAULT_MIN_CONFIDENCE))


def search_filters(db: Session, now: datetime) -> search.SearchFilters:
    """The search part of the queue's filters, from the query string."""
    book, _problem = case_deadlines.book_or_problem(services().settings)
    return search.resolve(
        db,
        request.args,
        min_confidence=min_confidence(),
        deadline_states=search.DEADLINE_STATES if book is not None else (),
        deadline_condition=search.deadline_condition_for(book, now),
    )


def search_context(db: Session, filters: search.SearchFilters) -> dict[str, Any]:
    """What the queue's search form needs: choices, this person's saved searches, the save form."""
    person = principal()
    people = db.query(Operator).filter(Operator.is_active.is_(True), Operator.role.in_(("operator", "supervisor")))
    return {
        "search": filters,
        "categories": casework.CATEGORIES,
        "transcript_states": search.TRANSCRIPT_STATES,
        "deadline_states": DEADLINE_STATES,
        "assignees": sorted(((o.id, o.display_name or o.username) for o in people), key=lambda pair: pair[1]),
        "saved_searches": search.list_saved(db, person),
        "saved_query": search.saved_query(request.args),
        "save_form": SavedFilterForm(),
    }


@bp.post("/searches")
@cases_only
def save_search() -> Any:
    """Save the queue's current search under a name (per person)."""
    form = SavedFilterForm()
    query = request.form.get("query", "")
    target = url_for("operator.queue") + ("?" + query if query else "")
    if not form.validate_on_submit():
        flash(_("form.required"), "error")
        return redirect(target)
    args = dict(search.args_of(search.Saved(0, "", query)))
    try:
        with services().sessions.begin() as db:
            search.save(db, principal(), form.name.data or "", args)
    except casework.Invalid as exc:
        flash(_(exc.code), "error")
        return redirect(target)
    flash(_("search.saved"), "ok")
    return redirect(target)


@bp.post("/searches/<int:saved_id>/delete")
@cases_only
def delete_search(saved_id: int) -> Any:
    """Forget one of this person's saved searches."""
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    with services().sessions.begin() as db:
        if not search.delete_saved(db, principal(), saved_id):
            abort(404)
    flash(_("search.deleted"), "ok")
    return redirect(url_for("operator.queue"))


@bp.post("/cases/<int:case_id>/recordings/<int:intake_id>/transcript")
@cases_only
def correct_transcript(case_id: int, intake_id: int) -> Any:
    """Save an operator's correction of a transcript (a new version; the old ones are kept)."""
    form = TranscriptForm()
    back = url_for("operator.case_page", case_id=case_id) + f"#recording-{intake_id}"
    with services().sessions.begin() as db:
        try:
            case = casework.visible_case(db, principal(), case_id)
        except casework.CaseHidden:
            abort(404)
        if not form.validate_on_submit():
            flash(_("form.required"), "error")
            return redirect(back)
        try:
            transcript = transcripts.transcript_of_case(db, case, intake_id)
            changed = transcripts.correct(db, principal(), case, transcript, form.text.data or "")
        except casework.NotAllowed as exc:
            abort(403, description=exc.code)
        except casework.Invalid as exc:
            flash(_(exc.code), "error")
            return redirect(back)
    flash(_("transcript.corrected") if changed else _("transcript.unchanged"), "ok")
    return redirect(back)


def transcript_context(db: Session, view: Any) -> dict[str, Any]:
    """What the case page says of each transcript: trust, model, versions, and the correction form."""
    threshold = min_confidence()
    trust: dict[int, transcripts.Trust] = {}
    versions: dict[int, list[Any]] = {}
    for recording in view.recordings:
        transcript = recording.transcript
        if transcript is None:
            continue
        history = transcripts.versions_of(db, transcript) if transcript.corrected_at else []
        corrected_by = next((name for version, name in history if version.version == transcript.version), None)
        trust[recording.intake.id] = transcripts.trust_of(transcript, threshold, corrected_by)
        versions[recording.intake.id] = history
    return {
        "trust": trust,
        "transcript_versions": versions,
        "transcript_form": TranscriptForm(),
        "min_confidence": threshold,
    }
