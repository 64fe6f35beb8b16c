"""JSON views over the same data and rules as the console: a thin layer over `ivr.cases`.

Every request carries `Authorization: Bearer <token>` (issued with `ivr user token` or by an
admin in the console) and acts as that token's account: the same roles, the same regions, the
same audit trail. Cookies are ignored here, so the API needs no CSRF token and a browser
session can never be borrowed by another site.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Response, abort, g, jsonify, request
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from ivr import accounts, audio_stream
from ivr.accounts import Principal
from ivr.api import bp
from ivr.cases import audit as audit_trail
from ivr.cases import case as one_case
from ivr.cases import casework, recordings, status_moves
from ivr.cases import deadlines as case_deadlines
from ivr.cases import queue as case_queue
from ivr.cases import search as case_search
from ivr.cases import statistics as case_statistics
from ivr.cases import thread as case_thread
from ivr.db import utc_now
from ivr.models import Case
from ivr.plain_text import UnsafeText, checked_text
from ivr.services import services

F = TypeVar("F", bound=Callable[..., Any])
MAX_PAGE_SIZE = 200


@bp.before_request
def _authenticate() -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        abort(401)
    with services().sessions.begin() as db:
        principal = accounts.principal_for_token(db, token.strip())
    if principal is None:
        abort(401)
    g.api_principal = principal


@bp.errorhandler(HTTPException)
def _json_error(error: HTTPException) -> tuple[Response, int]:
    code = error.code or 500
    response = jsonify(error=error.name.lower().replace(" ", "_"), detail=error.description if code < 500 else None)
    if code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="1424"'
    return response, code


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "no-store, private")
    return response


def principal() -> Principal:
    """Who this request acts as."""
    found: Principal = g.api_principal
    return found


def _require(check: Callable[[Principal], bool]) -> Callable[[F], F]:
    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not check(principal()):
                abort(403)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


cases_only = _require(lambda p: p.sees_cases)
supervisors_only = _require(lambda p: p.is_supervisor)


def _region_codes() -> list[str]:
    return [region.code for region in services().flows.current.doc.regions]


def _case_or_404(db: Session, case_id: int) -> Case:
    try:
        return casework.visible_case(db, principal(), case_id)
    except casework.CaseHidden:
        abort(404)


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400, description="a JSON object is expected")
    try:
        return {key: _clean(value) for key, value in data.items()}
    except UnsafeText:
        abort(400, description="text holds characters that cannot be stored")


def _clean(value: Any) -> Any:
    """Strings without control characters, however deep (they break TwiML and PostgreSQL)."""
    if isinstance(value, str):
        return checked_text(value)
    if isinstance(value, list):
        return [_clean(item) for item in value]
    if isinstance(value, dict):
        return {checked_text(key): _clean(item) for key, item in value.items()}
    return value


@bp.get("/me")
def me() -> Response:
    """The account this token acts as."""
    person = principal()
    return jsonify(id=person.id, username=person.username, role=person.role, region_codes=list(person.region_codes))


@bp.get("/cases")
@cases_only
def list_cases() -> Response:
    """The queue, with the console's filters and search (status, region, language, from, to, mine, page, q, ...)."""
    filters = case_queue.parse_filters(request.args, _region_codes())
    try:
        page_size = min(max(int(request.args.get("page_size", case_queue.PAGE_SIZE)), 1), MAX_PAGE_SIZE)
    except ValueError:
        page_size = case_queue.PAGE_SIZE
    book, _problem = case_deadlines.book_or_problem(services().settings)  # rows carry their next deadline
    threshold = services().settings.transcript_min_confidence
    with services().sessions() as db:
        now = utc_now()
        found = case_search.resolve(  # q, urgent, category, assignee, new_info, transcript, deadline
            db, request.args, min_confidence=threshold,
            deadline_states=case_search.DEADLINE_STATES if book is not None else (),
            deadline_condition=case_search.deadline_condition_for(book, now),
        )
        page = case_queue.list_cases(db, principal(), dataclasses.replace(filters, search=found),
                                     page_size=page_size, book=book, now=now, min_confidence=threshold)
    # total_capped: `total` and `pages` are floors; the count stops COUNT_AHEAD matches past this page.
    return jsonify(cases=[row.as_json() for row in page.rows], total=page.total, total_capped=page.total_capped,
                   page=page.page, pages=page.pages)


@bp.get("/queue/waiting")
@cases_only
def waiting() -> Response:
    """New reports waiting, per region."""
    with services().sessions() as db:
        counts = case_queue.waiting_by_region(db, principal())
    return jsonify(regions={code or "unknown": n for code, n in counts.items()}, total=sum(counts.values()))


def _case_json(db: Session, case: Case) -> dict[str, Any]:
    view = one_case.case_view(db, case)
    detail = view.detail
    return {
        "id": case.id,
        "reference": case.reference,
        "status": case.status,
        "status_reason": detail.status_reason if detail else None,
        "is_urgent": case.is_urgent,
        "region_code": case.region_code,
        "language": case.language,
        "is_anonymous": case.is_anonymous,
        "has_contact": not case.is_anonymous and view.call.contact_ciphertext is not None,
        "has_new_info": case.has_new_info,
        "transcript_status": case.transcript_status,
        "category": case.category,
        "assignee_id": case.assignee_id,
        "received_at": case_queue.iso(case.created_at),
        "reporter_message": case_thread.latest_text(db, case.call_id),  # the newest text message
        "thread": [_thread_entry(entry) for entry in case_thread.thread_of(db, case)],
        "recordings": [
            {
                "intake_id": rec.intake.id,
                "kind": rec.intake.kind,
                "is_followup": rec.is_followup,
                "recorded_at": case_queue.iso(rec.intake.created_at),
                "duration_s": rec.stored.duration_s if rec.stored else rec.intake.duration_s,
                "is_stored": rec.stored is not None and rec.stored.purged_at is None,
                "audio_url": f"/api/recordings/{rec.intake.id}/audio",
                "default_version": recordings.default_version(case, rec.stored),
                "transcript": None
                if rec.transcript is None
                else {
                    "status": rec.transcript.status,
                    "language": rec.transcript.language,
                    "text": rec.transcript.text,
                    "segments": rec.transcript.segments,
                    "is_truncated": rec.transcript.is_truncated,
                },
            }
            for rec in view.recordings
        ],
        "notes": [
            {"id": note.id, "author": author, "text": note.text, "created_at": case_queue.iso(note.created_at)}
            for note, author in view.notes
        ],
    }


@bp.get("/cases/<int:case_id>")
@cases_only
def get_case(case_id: int) -> Response:
    """One case with its recordings, transcripts and notes (never the caller's contact)."""
    with services().sessions.begin() as db:
        case = _case_or_404(db, case_id)
        casework.audit(db, principal(), "case.viewed", case, via="api")
        return jsonify(_case_json(db, case))


def _act(case_id: int, action: Callable[[Session, Case], None]) -> Response:
    with services().sessions.begin() as db:
        case = _case_or_404(db, case_id)
        try:
            action(db, case)
        except casework.NotAllowed as exc:
            abort(403, description=exc.code)
        except casework.Invalid as exc:
            abort(422, description=exc.code)
        return jsonify(_case_json(db, case))


@bp.post("/cases/<int:case_id>/claim")
@cases_only
def claim(case_id: int) -> Response:
    """Take the case."""
    return _act(case_id, lambda db, case: casework.claim(db, principal(), case))


@bp.post("/cases/<int:case_id>/assign")
@cases_only
def assign(case_id: int) -> Response:
    """Give the case to someone (supervisors); {"assignee_id": 7} or null."""
    assignee = _body().get("assignee_id")
    if assignee is not None and not isinstance(assignee, int):
        abort(422, description="assignee_id must be an integer or null")
    return _act(case_id, lambda db, case: casework.assign(db, principal(), case, assignee))


@bp.post("/cases/<int:case_id>/status")
@cases_only
def change_status(case_id: int) -> Response:
    """{"status": "forwarded", "recipient": "agency-02"}; closing a duplicate: "duplicate_of": <case id>.

    A supervisor may add "include_identity": true when forwarding a named case (audited).
    """
    body = _body()
    duplicate_of = body.get("duplicate_of")
    return _act(
        case_id,
        lambda db, case: status_moves.move(
            db, principal(), case, str(body.get("status", "")), body.get("reason"),
            recipients_path=services().settings.recipients_path, recipient=str(body.get("recipient") or "") or None,
            include_identity=body.get("include_identity") is True,
            duplicate_of_id=duplicate_of if isinstance(duplicate_of, int) else None,
        ),
    )


@bp.post("/cases/<int:case_id>/category")
@cases_only
def set_category(case_id: int) -> Response:
    """{"category": "bribery"} or null."""
    category = _body().get("category")
    return _act(case_id, lambda db, case: casework.set_category(db, principal(), case, category))


@bp.post("/cases/<int:case_id>/notes")
@cases_only
def add_note(case_id: int) -> Response:
    """{"text": "..."}."""
    text = _body().get("text")
    if not isinstance(text, str):
        abort(422, description="text is required")

    def action(db: Session, case: Case) -> None:
        casework.add_note(db, principal(), case, text)

    return _act(case_id, action)


@bp.post("/cases/<int:case_id>/reporter-message")
@cases_only
def set_reporter_message(case_id: int) -> Response:
    """{"text": "...", "language": "kk|ru|en"?}: a message in the thread, heard when the reporter calls back."""
    body = _body()
    text, language = body.get("text"), body.get("language")
    if not isinstance(text, str) or (language is not None and not isinstance(language, str)):
        abort(422, description="text is required")
    from ivr.operator.thread_views import post_text_of

    return _act(case_id, lambda db, case: post_text_of(db, principal(), case, text, language))


def _thread_entry(entry: case_thread.Entry) -> dict[str, Any]:
    """One message of the thread: who, when, which language, heard or not, and the answers under it."""
    message = entry.message
    return {
        "id": message.id,
        "direction": message.direction,
        "author": entry.author,
        "language": message.language,
        "text": message.text if entry.is_to_reporter else (entry.transcript.text if entry.transcript else None),
        "voice": message.voice,
        "intake_id": message.intake_id,
        "at": case_queue.iso(message.created_at),
        "heard_at": case_queue.iso(message.heard_at) if message.heard_at else None,
        "replies": [_thread_entry(reply) for reply in entry.replies],
    }


@bp.post("/cases/<int:case_id>/contact")
@cases_only
def reveal_contact(case_id: int) -> Response:
    """A named caller's contact, decrypted and audited; 404 for anonymous reports."""
    with services().sessions.begin() as db:
        case = _case_or_404(db, case_id)
        contact = casework.reveal_contact(db, principal(), case, services().cipher)
        if contact is None:
            abort(404)
        return jsonify(contact=contact)


@bp.get("/recordings/<int:intake_id>/audio")
@cases_only
def recording_audio(intake_id: int) -> Response:
    """The decrypted audio with Range support; ?version=original from a supervisor is the
    explicit, audited request for an anonymous caller's own voice."""
    person = principal()
    with services().sessions.begin() as db:
        try:
            case, intake, stored = casework.visible_recording(db, person, intake_id)
        except casework.CaseHidden:
            abort(404)
        version = request.args.get("version") or recordings.default_version(case, stored)
        wants_original = (
            version == recordings.ORIGINAL and stored is not None and recordings.is_voice_protected(case, stored)
        )
        try:
            key = recordings.storage_key(person, case, stored, version, has_unlocked=wants_original)
        except recordings.Unavailable as exc:
            abort(exc.status, description=exc.code)
        if wants_original:
            casework.unlock_original(db, person, case, intake)
        casework.record_listen(db, person, case, intake, version)
    return audio_stream.respond_with_audio(request, key)


@bp.get("/cases/<int:case_id>/audit")
@supervisors_only
def case_audit(case_id: int) -> Response:
    """Everything that happened to a case."""
    with services().sessions() as db:
        case = _case_or_404(db, case_id)
        rows = audit_trail.audit_for_case(db, case)
    return jsonify(events=[row.as_json() for row in rows])


@bp.get("/audit/users/<int:operator_id>")
@_require(lambda p: p.is_supervisor or p.is_admin)
def user_audit(operator_id: int) -> Response:
    """What one person did, newest first (?before=<event id> pages back)."""
    before = request.args.get("before", "")
    with services().sessions() as db:
        before_id = int(before) if before.isdigit() else None
        rows = audit_trail.audit_for_actor(db, f"operator:{operator_id}", before_id=before_id)
    return jsonify(events=[row.as_json() for row in rows])


@bp.get("/overview")
@supervisors_only
def overview() -> Response:
    """Reports per day and region, waiting times, drop-offs per menu step (?days=30)."""
    days = case_statistics.period_days(request.args.get("days"), minimum=1)
    with services().sessions() as db:
        figures = case_statistics.overview(db, principal(), days=days)
    return jsonify(days=days, **figures.as_json())
