"""The yardsticks `bench.webhooks` measures the voice webhooks against, served by gunicorn.

- `bare`: a plain WSGI callable that drains the body and answers a constant TwiML document,
  the floor of gunicorn's sync worker on this machine.
- `flask_signed()`: the least a correct Twilio webhook does: Flask parses the form, checks
  X-Twilio-Signature with `RequestValidator` against the public URL, answers constant TwiML.

Both read nothing but TWILIO_AUTH_TOKEN and IVR_PUBLIC_BASE_URL, which the harness sets for
every target alike. Run as `gunicorn 'bench.reference_apps:bare'` or
`gunicorn 'bench.reference_apps:flask_signed()'`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response, abort, request
from twilio.request_validator import RequestValidator

# What a menu step looks like on the wire, so both references send a body of realistic size.
TWIML = (
    b'<?xml version="1.0" encoding="UTF-8"?><Response>'
    b'<Gather action="https://ivr.example.test/voice/step?s=constant" method="POST" timeout="5" '
    b'actionOnEmptyResult="false" numDigits="1" input="dtmf">'
    b"<Play>https://ivr.example.test/voice/prompts/ru/menu.mp3?v=constant</Play></Gather>"
    b'<Redirect method="POST">https://ivr.example.test/voice/step?s=constant&amp;e=noinput</Redirect>'
    b"</Response>"
)


def bare(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Constant TwiML for any request; the body is read (and ignored) as a real app would."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        environ["wsgi.input"].read(length)
    start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(TWIML)))])
    return [TWIML]


def flask_signed() -> Flask:
    """A minimal signed Twilio webhook: parse the form, verify the signature, constant TwiML."""
    token = os.environ["TWILIO_AUTH_TOKEN"]
    base = os.environ["IVR_PUBLIC_BASE_URL"].rstrip("/")
    validator = RequestValidator(token)
    app = Flask(__name__)

    @app.post("/<path:path>")
    def webhook(path: str) -> Response:
        """Any POST: 403 unless Twilio signed this exact public URL and form."""
        # Twilio signs the full public URL, query string included.
        query = request.query_string.decode("latin-1")
        url = base + request.path + (f"?{query}" if query else "")
        if not validator.validate(url, request.form, request.headers.get("X-Twilio-Signature", "")):
            abort(403)
        return Response(TWIML, mimetype="text/xml")

    return app
