"""Signing in and out, who may open which page, the console's language, and its error pages.

Sessions are Flask's signed cookies (Secure when the public URL is https, HttpOnly, SameSite),
managed by Flask-Login. A session names the operator and their `session_version`, checked on
every request, so signing out, a new password, a new role or a disabled account ends every
session at its next request, even a copy of the cookie. Sessions also end after
IVR_SESSION_IDLE_MINUTES unused and IVR_SESSION_MAX_HOURS after signing in. Every POST
to the console must carry Flask-WTF's CSRF token; the voice webhooks and the token-authenticated
API are not affected (the check runs in this blueprint only).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from flask_babel import Babel, gettext
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from markupsafe import Markup
from sqlalchemy import update
from werkzeug.exceptions import HTTPException

from ivr import accounts, catalogues, display_time, i18n
from ivr.accounts import Principal
from ivr.db import utc_now
from ivr.models import AuditEvent, Operator
from ivr.operator import bp
from ivr.operator.forms import ActionForm, LocaleForm, LoginForm
from ivr.services import services

F = TypeVar("F", bound=Callable[..., Any])
SESSION_LIFETIME = timedelta(hours=12)
SIGNED_IN_AT = "signed_in_at"
SEEN_AT = "seen_at"


class ConsoleUser(UserMixin):  # type: ignore[misc]
    """Flask-Login's view of a signed-in principal."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    def get_id(self) -> str:
        """Operator id and session version: a bumped version ends this session."""
        return f"{self.principal.id}:{self.principal.session_version}"


def _load_user(user_id: str) -> ConsoleUser | None:
    """The signed-in person, checked on every request: live session version, idle and absolute lifetimes."""
    operator_id, _, version = user_id.partition(":")
    if not operator_id.isdigit() or not version.isdigit():
        return None
    settings = services().settings
    now = int(time.time())
    signed_in_at, seen_at = session.get(SIGNED_IN_AT), session.get(SEEN_AT)
    if (
        not isinstance(signed_in_at, int)
        or not isinstance(seen_at, int)
        or now - signed_in_at > settings.session_max_hours * 3600
        or now - seen_at > settings.session_idle_minutes * 60
    ):
        return None
    session[SEEN_AT] = now
    with services().sessions() as db:
        principal = accounts.load_principal(db, int(operator_id), int(version))
    return ConsoleUser(principal) if principal else None


def _unauthorized() -> Response:
    flash(i18n.translate("login.required", locale()), "info")
    return redirect(url_for("operator.login", next=request.full_path if request.method == "GET" else None))


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    """Flask-Login and CSRF protection for the app this blueprint joins."""
    app: Flask = state.app
    manager = LoginManager()
    manager.init_app(app)
    manager.session_protection = "strong"  # a stolen cookie from another browser is dropped
    manager.user_loader(_load_user)
    manager.unauthorized_handler(_unauthorized)
    # Flask refuses a cookie signed longer ago than this: a backstop to the checks in _load_user.
    lifetime = timedelta(hours=app.extensions["ivr"].settings.session_max_hours) if "ivr" in app.extensions \
        else SESSION_LIFETIME
    app.config.setdefault("PERMANENT_SESSION_LIFETIME", lifetime)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", int(lifetime.total_seconds()))
    app.config["REMEMBER_COOKIE_HTTPONLY"] = True
    app.config["REMEMBER_COOKIE_SECURE"] = app.config.get("SESSION_COOKIE_SECURE", False)
    # Checked by this blueprint alone (below): Twilio's webhooks carry signatures, not CSRF tokens.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.extensions.setdefault("operator", {})["csrf"] = CSRFProtect(app)
    # The console's words: the gettext catalogues, compiled at install and again here if stale.
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(catalogues.ready()))
    Babel(app, default_locale=i18n.DEFAULT_LOCALE, locale_selector=locale)


def principal() -> Principal:
    """The signed-in person (views behind login_required only)."""
    user: ConsoleUser = current_user._get_current_object()  # type: ignore[attr-defined]
    return user.principal


def locale() -> str:
    """The console's language for this request."""
    if "locale" in g:
        return str(g.locale)
    preferred = session.get("locale")
    if current_user and current_user.is_authenticated:
        preferred = preferred or principal().locale
    g.locale = i18n.negotiate(request.accept_languages, preferred)
    return str(g.locale)


def _(key: str, **params: Any) -> str:
    """Translate `key` for this request (Flask-Babel, in `locale()`), with %(params)s filled in."""
    return gettext(key, **params)


def guard_console(blueprint: Blueprint, *, scripts: bool = True) -> None:
    """CSRF on every POST and strict security headers, for each blueprint people use in a browser."""

    @blueprint.before_request
    def _check_csrf() -> None:
        if request.method == "POST":
            current_app.extensions["operator"]["csrf"].protect()

    @blueprint.after_request
    def _security_headers(response: Response) -> Response:
        # Nothing is loaded from elsewhere: no CDN, no fonts, no frames. Media may be a blob: the
        # page's own recording of a voice message, heard back before it is sent.
        script_src = "'self'" if scripts else "'none'"
        response.headers.setdefault(
            "Content-Security-Policy",
            f"default-src 'self'; img-src 'self' data:; media-src 'self' blob:; style-src 'self'; "
            f"script-src {script_src}; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        )
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if request.endpoint != f"{blueprint.name}.static":
            response.headers.setdefault("Cache-Control", "no-store, private")
        return response


guard_console(bp)


@bp.app_template_global("region_name")
def region_name(code: str | None) -> str:
    """A region's name in the console's language."""
    if not code:
        return _("region.unknown")
    for region in services().flows.current.doc.regions:
        if region.code == code:
            return region.names.get(locale(), region.names.get("ru", code))  # type: ignore[call-overload, no-any-return]
    return code


def region_codes() -> list[str]:
    """Every region code of the current flow, in order."""
    return [region.code for region in services().flows.current.doc.regions]


@bp.context_processor
def console_context() -> dict[str, Any]:
    """What the console's templates use: the words, the language, who is signed in, the formats."""
    signed_in = current_user.is_authenticated if current_user else False
    return {
        "_": _,
        "locale": locale(),
        "locales": i18n.LOCALES,
        "locale_names": i18n.LOCALE_NAMES,
        "me": principal() if signed_in else None,
        "action_form": ActionForm(),
        "fmt_dt": display_time.format_datetime,
        "fmt_date": display_time.format_date,
        "date_pattern": display_time.DATE_PATTERN,
        "fmt_time": display_time.format_time,
        "fmt_duration": display_time.format_duration,
        "fmt_wait": lambda seconds: i18n.format_wait(seconds, locale()),
        "nbsp": Markup("&nbsp;"),
        "url_rules": current_app.view_functions,
    }


def roles(*allowed: str) -> Callable[[F], F]:
    """Only people with one of these roles; others get 403."""

    def decorate(view: F) -> F:
        @wraps(view)
        @login_required  # type: ignore[misc]
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if principal().role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def cases_only(view: F) -> F:
    """Operators and supervisors; an admin gets 403 (accounts, not reports)."""

    @wraps(view)
    @login_required  # type: ignore[misc]
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not principal().sees_cases:
            abort(403)
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def supervisors_only(view: F) -> F:
    """Supervisors only."""

    @wraps(view)
    @login_required  # type: ignore[misc]
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not principal().is_supervisor:
            abort(403)
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def admins_only(view: F) -> F:
    """Admins only."""

    @wraps(view)
    @login_required  # type: ignore[misc]
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not principal().is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def home_for(person: Principal) -> str:
    """Where a person lands after signing in."""
    return url_for("admin.users") if person.is_admin else url_for("operator.queue")


def _safe_next(target: str | None) -> str | None:
    """Only a path inside the console or the admin area: never another site (an open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    inside = parts.path.startswith(("/operator/", "/admin/")) or parts.path == "/admin"
    if parts.scheme or parts.netloc or not inside or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """The sign-in page."""
    if current_user.is_authenticated:
        return redirect(home_for(principal()))
    form = LoginForm()
    error = None
    status = 200
    if form.validate_on_submit():
        result = accounts.authenticate(services().sessions, form.username.data or "", form.password.data or "")
        if result.principal is not None:
            chosen = session.get("locale")
            session.clear()  # a fresh session: nothing from before signing in carries over
            if chosen:
                session["locale"] = chosen
            # Not permanent: a browser-session cookie, so "strong" protection really drops a cookie
            # replayed from another browser (Flask-Login downgrades it to "basic" for permanent
            # sessions). The lifetimes are enforced here on the server, in _load_user.
            session.permanent = False
            session[SIGNED_IN_AT] = session[SEEN_AT] = int(time.time())
            login_user(ConsoleUser(result.principal))
            return redirect(_safe_next(request.args.get("next")) or home_for(result.principal))
        # Unknown name, wrong password, locked account: one answer, so none reveals that a name
        # exists. A disabled account is only named to someone who gave its right password.
        error = _("login.disabled") if result.reason == "disabled" else _("login.bad")
        status = 401
    elif request.method == "POST":
        error = _("login.bad")
        status = 400
    return render_template("operator/login.html", form=form, error=error), status


@bp.post("/logout")
@login_required  # type: ignore[misc]
def logout() -> Response:
    """Sign out (a POST with a CSRF token, so no other site can sign anyone out)."""
    person = principal()
    with services().sessions.begin() as db:
        # A new session version ends this session on the server: a copy of the cookie taken
        # before signing out opens nothing afterwards (nor do the person's other sessions).
        db.execute(update(Operator).where(Operator.id == person.id)
                   .values(session_version=Operator.session_version + 1))
        db.add(AuditEvent(actor=person.actor, action="operator.signed_out", detail={}))
    chosen = session.get("locale")
    logout_user()
    session.clear()
    if chosen:
        session["locale"] = chosen
    flash(i18n.translate("login.signed_out", chosen or person.locale), "info")
    return redirect(url_for("operator.login"))


@bp.post("/locale")
def set_locale() -> Response:
    """Switch the console's language (remembered on the account when signed in)."""
    form = LocaleForm()
    chosen = form.locale.data if form.locale.data in i18n.LOCALES else None
    if chosen:
        session["locale"] = chosen
        if current_user.is_authenticated:
            with services().sessions.begin() as db:
                operator = db.get(Operator, principal().id)
                if operator is not None:
                    operator.locale = chosen
    target = _safe_next(request.form.get("next")) or url_for("operator.login")
    return redirect(target)


@bp.errorhandler(CSRFError)
def _csrf_failed(error: CSRFError) -> tuple[str, int]:
    return render_template("operator/error.html", code=400, message=_("form.csrf")), 400


@bp.errorhandler(403)
@bp.errorhandler(404)
@bp.errorhandler(410)
def _http_error(error: HTTPException) -> tuple[str, int]:
    code = error.code or 500
    key = f"error.{code}" if i18n.has_key(f"error.{code}") else "error.404"
    description = error.description if isinstance(error.description, str) and i18n.has_key(error.description) else None
    return render_template("operator/error.html", code=code, message=_(description or key)), code


def now_local() -> str:
    """The time now, for "updated at" labels."""
    return display_time.format_time(utc_now())


def console_blueprint(blueprint: Blueprint, *, scripts: bool = True) -> None:
    """Another blueprint people use in a browser, made part of the console (the admin area is one).

    It gets the console's CSRF check and security headers, its templates' helpers (so its pages
    can extend operator/base.html: one navigation, the language switch and signing out), and the
    console's error pages in the person's language.
    """
    guard_console(blueprint, scripts=scripts)
    blueprint.context_processor(console_context)
    blueprint.register_error_handler(CSRFError, _csrf_failed)
    for code in (403, 404, 410):
        blueprint.register_error_handler(code, _http_error)
