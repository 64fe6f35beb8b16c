"""The web app factory: one blueprint per audience."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from flask import Flask, Request, Response, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from ivr.logging import configure_logging
from ivr.services import Services
from ivr.settings import Settings, SettingsError, load_settings

log = logging.getLogger(__name__)

# Machines call these; they never need a session cookie, and opening one costs on every request.
SESSIONLESS_PREFIXES = ("/voice/", "/healthz", "/readyz", "/metrics")


class WebhookFreeSessions(SecureCookieSessionInterface):
    """Cookie sessions for people's pages only; Twilio's webhooks and probes get none."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """No session for webhooks and probes; the signed cookie session otherwise."""
        if request.path.startswith(SESSIONLESS_PREFIXES):
            return self.make_null_session(app)
        return super().open_session(app, request)


HSTS = "max-age=31536000; includeSubDomains"


def _hsts(public_https: bool) -> Callable[[Response], Response]:
    """An after-request hook: over https (the public URL or this request), browsers keep to https."""

    def add_header(response: Response) -> Response:
        # Behind a TLS proxy the request itself is plain http; the public URL says what browsers see.
        if public_https or request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response

    return add_header


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app from settings (the environment when none are given)."""
    if settings is None:
        try:
            settings = load_settings()
        except SettingsError as exc:
            # One line per problem, not a traceback; gunicorn halts on a worker exiting with 3
            # instead of restarting it forever.
            print(exc, file=sys.stderr, flush=True)
            raise SystemExit(3) from None
    configure_logging(settings)
    app = Flask(__name__)
    app.session_interface = WebhookFreeSessions()
    app.secret_key = settings.session_secret
    app.config.update(
        SESSION_COOKIE_SECURE=settings.public_base_url.startswith("https://"),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=1024 * 1024,
    )
    app.extensions["ivr"] = Services.from_settings(settings)
    app.after_request(_hsts(settings.public_base_url.startswith("https://")))
    from ivr.cases.deadlines import book_or_problem

    if (problem := book_or_problem(settings)[1]) is not None:
        # Calls are still answered; the console shows the same line above the queue and overview.
        log.error("deadlines.config_invalid: %s", problem)
    if not settings.verify_signatures:
        log.warning("webhook.signatures_disabled: accepting unsigned webhooks; never do this in production")
    if not settings.twilio_auth_token.get_secret_value():
        log.warning("webhook.no_auth_token: TWILIO_AUTH_TOKEN is empty, every webhook will be refused")
    if not settings.secret_key.get_secret_value() or not settings.data_key.get_secret_value():
        log.warning("keys.development: IVR_SECRET_KEY or IVR_DATA_KEY is unset; a public development key "
                    "protects nothing (production refuses to start like this)")

    # Each blueprint is declared in its package's __init__, which imports its view modules.
    from ivr.admin import bp as admin_bp
    from ivr.api import bp as api_bp
    from ivr.operator import bp as operator_bp
    from ivr.ops import bp as ops_bp
    from ivr.voice import bp as voice_bp

    app.register_blueprint(voice_bp, url_prefix="/voice")
    app.register_blueprint(operator_bp, url_prefix="/operator")
    app.register_blueprint(api_bp, url_prefix="/api")
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(ops_bp)
    return app
