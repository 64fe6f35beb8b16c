"""The case page's thread with the reporter: write a message, send a recorded one, hear one back.

Thin views over `ivr.cases.thread`; every POST carries the console's CSRF token (checked for the
whole blueprint in `auth`), and every message sent is audited there.
"""

from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, jsonify, redirect, request, url_for

from ivr import audio_stream, prompts
from ivr.accounts import Principal
from ivr.cases import casework, thread
from ivr.operator import bp
from ivr.operator.auth import _, cases_only, principal
from ivr.services import services

UPLOAD_LIMIT = thread.VOICE_MAX_BYTES + 64 * 1024  # the form's few fields on top of the audio
AUDIO_TYPES = ("audio/wav", "audio/x-wav", "audio/wave", "application/octet-stream")


def _case(db: Any, case_id: int) -> Any:
    try:
        return casework.visible_case(db, principal(), case_id)
    except casework.CaseHidden:
        abort(404)


def _voiced_languages() -> set[str]:
    """Languages the line's voice (Twilio's TTS) can read; the others are rendered to audio here."""
    return set(services().flows.current.voiced_languages)


def post_text_of(db: Any, person: Principal, case: Any, text: str, language: str | None) -> Any:
    """Post a text message as this person, rendered to audio where the line has no voice (console and API)."""
    return thread.post_text(db, person, case, text, language, voiced_languages=_voiced_languages(),
                            store=audio_stream.recording_reader(), speak=prompts.speak)


@bp.post("/cases/<int:case_id>/thread/text")
@cases_only
def thread_text(case_id: int) -> Response:
    """A written message for the reporter, in the language the operator picks."""
    svc = services()
    with svc.sessions.begin() as db:
        case = _case(db, case_id)
        try:
            post_text_of(db, principal(), case, request.form.get("text", ""), request.form.get("language"))
        except casework.Invalid as exc:
            flash(_(exc.code), "error")
            return redirect(url_for("operator.case_page", case_id=case_id) + "#thread")
    flash(_("thread.sent"), "ok")
    return redirect(url_for("operator.case_page", case_id=case_id) + "#thread")


@bp.post("/cases/<int:case_id>/thread/voice")
@cases_only
def thread_voice(case_id: int) -> tuple[Response, int]:
    """A message the operator recorded in the browser (a WAV made from MediaRecorder's audio)."""
    if (request.content_length or 0) > UPLOAD_LIMIT:
        return jsonify(error=_("thread.voice_too_big")), 413
    upload = request.files.get("audio")
    if upload is None or (upload.mimetype or "") not in AUDIO_TYPES:
        return jsonify(error=_("thread.voice_format")), 415
    audio = upload.read(UPLOAD_LIMIT + 1)
    svc = services()
    with svc.sessions.begin() as db:
        case = _case(db, case_id)
        try:
            message = thread.post_voice(db, principal(), case, audio, request.form.get("language"),
                                        store=audio_stream.recording_reader())
        except casework.Invalid as exc:
            return jsonify(error=_(exc.code)), 422
        message_id = message.id
    flash(_("thread.sent"), "ok")
    return jsonify(id=message_id, redirect=url_for("operator.case_page", case_id=case_id) + "#thread"), 201


@bp.get("/cases/<int:case_id>/thread/<int:message_id>/audio")
@cases_only
def thread_audio(case_id: int, message_id: int) -> Response:
    """A message's audio, for the operator to hear what the reporter hears."""
    with services().sessions() as db:
        case = _case(db, case_id)
        message = thread.message_of_case(db, case, message_id)
        key = message.audio_key if message is not None else None
    if key is None:
        abort(404)
    return audio_stream.respond_with_audio(request, key)
