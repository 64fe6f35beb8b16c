"""Serving a stored recording over HTTP, for the console and the API alike.

Decrypted audio is never written to disk or cached: it is read, served and dropped.
"""

from __future__ import annotations

from flask import Request, Response, abort, current_app

from ivr.cases.recordings import Unavailable
from ivr.settings import Settings
from ivr.storage import RecordingStore, make_recording_store


def recording_reader() -> RecordingStore:
    """This app's recording store, built once from its settings."""
    cache = current_app.extensions.setdefault("operator", {})
    if "recordings" not in cache:
        settings: Settings = current_app.extensions["ivr"].settings
        cache["recordings"] = make_recording_store(settings)
    reader: RecordingStore = cache["recordings"]
    return reader


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
