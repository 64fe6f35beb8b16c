"""Recordings for people: which version a person may hear, and streaming it with HTTP Range.

The store itself is `ivr.storage`, shared with the workers. Decrypted audio is never written to
disk or cached: it is read, served and dropped.
"""

from __future__ import annotations

from flask import Request, Response, abort, current_app

from ivr.accounts import Principal
from ivr.models import Case, StoredRecording
from ivr.settings import Settings
from ivr.storage import RecordingStore, make_recording_store

ORIGINAL, DISGUISED = "original", "disguised"


class Unavailable(LookupError):
    """The requested version of this recording cannot be served; `code` is an i18n key."""

    def __init__(self, code: str, status: int = 404) -> None:
        super().__init__(code)
        self.code = code
        self.status = status


def recording_reader() -> RecordingStore:
    """This app's recording store, built once from its settings."""
    cache = current_app.extensions.setdefault("operator", {})
    if "recordings" not in cache:
        settings: Settings = current_app.extensions["ivr"].settings
        cache["recordings"] = make_recording_store(settings)
    reader: RecordingStore = cache["recordings"]
    return reader


def is_voice_protected(case: Case, stored: StoredRecording) -> bool:
    """Anonymous callers' voices are disguised for everyone by default."""
    return case.is_anonymous or stored.disguised_key is not None


def default_version(case: Case, stored: StoredRecording | None) -> str:
    """The version a person hears without asking for more."""
    return DISGUISED if stored is not None and is_voice_protected(case, stored) else ORIGINAL


def storage_key(
    principal: Principal, case: Case, stored: StoredRecording | None, version: str, *, has_unlocked: bool
) -> str:
    """The store key of the version this person may hear; Unavailable (403/404/410) otherwise.

    The original voice of an anonymous caller needs a supervisor who has explicitly unlocked it;
    a missing disguised copy is never replaced by the original.
    """
    if stored is None:
        raise Unavailable("case.audio_missing")
    if stored.purged_at is not None:
        raise Unavailable("case.audio_purged", 410)
    if version not in (ORIGINAL, DISGUISED):
        raise Unavailable("error.404")
    if not is_voice_protected(case, stored):
        return stored.storage_key  # a named caller: there is only the original
    if version == DISGUISED:
        if not stored.disguised_key:
            raise Unavailable("case.disguise_missing")
        return stored.disguised_key
    if not principal.is_supervisor or not has_unlocked:
        raise Unavailable("error.403", 403)
    return stored.storage_key


def read_audio(key: str) -> bytes:
    """The decrypted bytes of one stored recording."""
    try:
        with recording_reader().open(key) as handle:
            return handle.read()
    except LookupError as exc:  # RecordingMissing
        raise Unavailable("case.audio_missing") from exc


def audio_response(request: Request, audio: bytes) -> Response:
    """The audio with Range support (206 partial content), so players can seek; never cached."""
    mimetype = "audio/wav" if audio[:4] == b"RIFF" else "application/octet-stream"
    response = Response(audio, mimetype=mimetype)
    response.headers["Cache-Control"] = "no-store, private"
    response.headers["Content-Disposition"] = "inline"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.add_etag()  # lets a player resume with If-Range after a seek
    return response.make_conditional(request.environ, accept_ranges=True, complete_length=len(audio))


def respond_with_audio(req: Request, key: str) -> Response:
    """The decrypted recording under `key`, ranges honoured; aborts with its status when it is gone."""
    try:
        audio = read_audio(key)
    except Unavailable as exc:
        abort(exc.status, description=exc.code)
    return audio_response(req, audio)
