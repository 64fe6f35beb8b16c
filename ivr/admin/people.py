"""The admin's account pages at /admin/users: people, their roles, regions and API tokens.

The same rules as `ivr user ...` (`ivr.accounts`); moved here from /operator/admin/users, which
now redirects (`ivr.operator.moved`).
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from ivr import accounts
from ivr.admin import bp
from ivr.models import ApiToken, Operator
from ivr.operator.auth import _, admins_only, principal, region_codes
from ivr.operator.forms import ActionForm, PasswordForm, TokenForm, UserForm
from ivr.services import services


def _user_form(operator: Operator | None = None) -> UserForm:
    form = UserForm(obj=None)
    if operator is not None and not form.is_submitted():
        form.display_name.data = operator.display_name
        form.role.data = operator.role
        form.regions.data = list(operator.region_codes or [])
        form.locale.data = operator.locale
    return form


def _users_page(form: UserForm, *, token: str | None = None, status: int = 200) -> tuple[str, int]:
    with services().sessions() as db:
        people = accounts.list_operators(db)
        tokens = list(db.scalars(select(ApiToken).where(ApiToken.revoked_at.is_(None)).order_by(ApiToken.id)))
    return render_template(
        "admin/users.html",
        people=people,
        tokens=tokens,
        form=form,
        roles=accounts.ROLES,
        regions=region_codes(),
        min_password=accounts.MIN_PASSWORD_LENGTH,
        token=token,
        is_locked=accounts.is_locked,
    ), status


@bp.get("/users")
@admins_only
def users() -> tuple[str, int]:
    """Every account, and a form for a new one."""
    return _users_page(_user_form())


@bp.post("/users")
@admins_only
def create_user() -> Any:
    """Create an account."""
    form = _user_form()
    if not form.validate_on_submit():
        flash(_("form.required"), "error")
        return _users_page(form, status=400)
    try:
        with services().sessions.begin() as db:
            accounts.create_operator(
                db,
                username=form.username.data or "",
                password=form.password.data or "",
                role=form.role.data or "operator",
                regions=list(form.regions.data or []),
                display_name=form.display_name.data or "",
                locale=form.locale.data or "ru",
                known_regions=set(region_codes()),
                actor=principal().actor,
            )
    except accounts.AccountError as exc:
        flash(_("users.error", reason=str(exc)), "error")
        return _users_page(form, status=400)
    flash(_("users.created"), "ok")
    return redirect(url_for("admin.users"))


def _operator_or_404(db: Any, operator_id: int) -> Operator:
    operator = db.get(Operator, operator_id)
    if operator is None:
        abort(404)
    return operator  # type: ignore[no-any-return]


@bp.route("/users/<int:operator_id>", methods=["GET", "POST"])
@admins_only
def edit_user(operator_id: int) -> Any:
    """Change an account's name, role, regions or language."""
    with services().sessions() as db:
        operator = _operator_or_404(db, operator_id)
        form = _user_form(operator)
        tokens = list(db.scalars(select(ApiToken).where(ApiToken.operator_id == operator_id).order_by(ApiToken.id)))
    if form.validate_on_submit():
        try:
            with services().sessions.begin() as db:
                operator = _operator_or_404(db, operator_id)
                accounts.update_operator(
                    db,
                    operator,
                    role=form.role.data,
                    regions=list(form.regions.data or []),
                    display_name=form.display_name.data,
                    locale=form.locale.data,
                    known_regions=set(region_codes()),
                    actor=principal().actor,
                )
        except accounts.AccountError as exc:
            flash(_("users.error", reason=str(exc)), "error")
            with services().sessions() as db:  # the refused change rolled back and expired the row
                operator = _operator_or_404(db, operator_id)
        else:
            flash(_("users.saved"), "ok")
            return redirect(url_for("admin.edit_user", operator_id=operator_id))
    return render_template(
        "admin/user.html",
        subject=operator,
        form=form,
        roles=accounts.ROLES,
        regions=region_codes(),
        password_form=PasswordForm(),
        token_form=TokenForm(),
        tokens=tokens,
        min_password=accounts.MIN_PASSWORD_LENGTH,
        is_locked=accounts.is_locked(operator),
        token=None,
    )


def _account_action(operator_id: int, action: Any, form: Any = None) -> Response:
    form = form or ActionForm()
    if not form.validate_on_submit():
        flash(_("form.required"), "error")
        return redirect(url_for("admin.edit_user", operator_id=operator_id))
    try:
        with services().sessions.begin() as db:
            action(db, _operator_or_404(db, operator_id), form)
    except accounts.AccountError as exc:
        flash(_("users.error", reason=str(exc)), "error")
    else:
        flash(_("users.saved"), "ok")
    return redirect(url_for("admin.edit_user", operator_id=operator_id))


@bp.post("/users/<int:operator_id>/password")
@admins_only
def set_user_password(operator_id: int) -> Response:
    """Set a new password (ends the person's sessions)."""
    return _account_action(
        operator_id,
        lambda db, op, form: accounts.set_password(db, op, form.password.data or "", actor=principal().actor),
        PasswordForm(),
    )


@bp.post("/users/<int:operator_id>/disable")
@admins_only
def disable_user(operator_id: int) -> Response:
    """Disable an account."""
    if operator_id == principal().id:
        flash(_("users.error", reason="you cannot disable yourself"), "error")
        return redirect(url_for("admin.edit_user", operator_id=operator_id))
    return _account_action(
        operator_id, lambda db, op, form: accounts.set_active(db, op, False, actor=principal().actor)
    )


@bp.post("/users/<int:operator_id>/enable")
@admins_only
def enable_user(operator_id: int) -> Response:
    """Enable an account."""
    return _account_action(operator_id, lambda db, op, form: accounts.set_active(db, op, True, actor=principal().actor))


@bp.post("/users/<int:operator_id>/unlock")
@admins_only
def unlock_user(operator_id: int) -> Response:
    """Lift a lock-out."""
    return _account_action(operator_id, lambda db, op, form: accounts.unlock(db, op, actor=principal().actor))


@bp.post("/users/<int:operator_id>/tokens")
@admins_only
def issue_user_token(operator_id: int) -> Any:
    """Issue an API token acting as this account (only one's own); it is shown once."""
    if operator_id != principal().id:
        abort(403)  # a token for another account would let an admin act (and read cases) as them
    form = TokenForm()
    if not form.validate_on_submit():
        flash(_("form.required"), "error")
        return redirect(url_for("admin.edit_user", operator_id=operator_id))
    with services().sessions.begin() as db:
        operator = _operator_or_404(db, operator_id)
        token = accounts.issue_token(db, operator, form.name.data or "api", actor=principal().actor)
        tokens = list(db.scalars(select(ApiToken).where(ApiToken.operator_id == operator_id).order_by(ApiToken.id)))
        return render_template(
            "admin/user.html",
            subject=operator,
            form=_user_form(operator),
            roles=accounts.ROLES,
            regions=region_codes(),
            password_form=PasswordForm(formdata=None),
            token_form=TokenForm(formdata=None),
            tokens=tokens,
            min_password=accounts.MIN_PASSWORD_LENGTH,
            is_locked=accounts.is_locked(operator),
            token=token,
        )


@bp.post("/tokens/<int:token_id>/revoke")
@admins_only
def revoke_token(token_id: int) -> Response:
    """Stop an API token from working."""
    form = ActionForm()
    with services().sessions.begin() as db:
        row = db.get(ApiToken, token_id)
        if row is None or not form.validate_on_submit():
            return redirect(url_for("admin.users"))
        accounts.revoke_token(db, token_id, actor=principal().actor)
        operator_id = row.operator_id
    flash(_("users.saved"), "ok")
    return redirect(url_for("admin.edit_user", operator_id=operator_id))
