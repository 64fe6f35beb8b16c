"""Signing in and out of the console: cookies, CSRF, lock-out, next links, sessions that end."""

from __future__ import annotations

import pytest

from ivr import accounts
from tests.operator.console import PASSWORD, Console, csrf_token, post_form, sign_in


def test_sign_in_sets_a_secure_httponly_samesite_cookie(console: Console, app) -> None:
    console.add_user("aigerim")
    client = app.test_client()
    response = sign_in(client, "aigerim")
    assert response.status_code == 302 and response.headers["Location"].endswith("/operator/")
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie  # public URL is https


def test_wrong_password_is_refused_and_the_sixth_try_is_locked(console: Console, app) -> None:
    console.add_user("aigerim")
    client = app.test_client()
    for _ in range(accounts.MAX_FAILED_LOGINS):
        response = sign_in(client, "aigerim", "wrong password!")
        assert response.status_code == 401 and "Неверное имя пользователя или пароль" in response.get_data(as_text=True)
    locked = sign_in(client, "aigerim")  # the right password, while locked: the same answer as a wrong one
    assert locked.status_code == 401 and "Неверное имя пользователя или пароль" in locked.get_data(as_text=True)
    assert console.audit(action="operator.sign_in_refused")[0].detail == {"reason": "locked"}


def test_sign_in_without_csrf_token_is_refused(console: Console, app) -> None:
    console.add_user("aigerim")
    client = app.test_client()
    response = client.post("/operator/login", data={"username": "aigerim", "password": PASSWORD})
    assert response.status_code == 400 and not console.audit(action="operator.signed_in")


@pytest.mark.parametrize(
    ("target", "landing"),
    [("/operator/?region=02", "/operator/?region=02"), ("https://evil.example/", "/operator/"),
     ("//evil.example/x", "/operator/"), ("/voice/incoming", "/operator/")],
)
def test_next_link_stays_inside_the_console(console: Console, app, target: str, landing: str) -> None:
    console.add_user("aigerim")
    client = app.test_client()
    token = csrf_token(client)
    response = client.post("/operator/login", query_string={"next": target},
                           data={"username": "aigerim", "password": PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == landing


def test_sign_out_ends_the_session_and_is_audited(console: Console, make_client) -> None:
    user_id = console.add_user("aigerim")
    client = make_client("aigerim")
    assert post_form(client, "/operator/logout").status_code == 302
    assert client.get("/operator/").status_code == 302
    assert [e.action for e in console.audit(actor=f"operator:{user_id}")][-2:] == [
        "operator.signed_in", "operator.signed_out"]


def test_new_password_or_disabling_ends_open_sessions(console: Console, make_client) -> None:
    console.add_user("aigerim")
    client = make_client("aigerim")
    assert client.get("/operator/").status_code == 200
    with console.svc.sessions.begin() as session:
        accounts.set_password(session, accounts.get_operator(session, "aigerim"), "a brand new password")
    assert client.get("/operator/").status_code == 302
    client = make_client(None)
    sign_in(client, "aigerim", "a brand new password")
    with console.svc.sessions.begin() as session:
        accounts.set_active(session, accounts.get_operator(session, "aigerim"), False)
    assert client.get("/operator/").status_code == 302


def accounts_id(console: Console, username: str) -> int:
    """The id of an account."""
    with console.svc.sessions() as session:
        return accounts.get_operator(session, username).id


def test_admin_lands_on_users_and_manages_accounts(console: Console, make_client) -> None:
    console.add_user("root", role="admin")
    client = make_client("root")
    assert client.get("/operator/").status_code == 403
    created = post_form(client, "/admin/users", {
        "username": "bolat", "display_name": "Болат", "role": "operator", "regions": ["13", "14"],
        "locale": "kk", "password": "long enough password"}, page="/admin/users")
    assert created.status_code == 302
    with console.svc.sessions() as session:
        bolat = accounts.get_operator(session, "bolat")
    assert (bolat.role, bolat.region_codes, bolat.locale) == ("operator", ["13", "14"], "kk")
    bad = post_form(client, "/admin/users", {"username": "x", "role": "operator", "password": "short"},
                    page="/admin/users")
    assert bad.status_code == 400
    page = f"/admin/users/{bolat.id}"
    post_form(client, page, {"display_name": "Болат А.", "role": "supervisor", "locale": "ru"}, page=page)
    post_form(client, f"{page}/disable", page=page)
    # A token only for one's own account (tests/security/test_roles_are_separate.py).
    assert post_form(client, f"{page}/tokens", {"name": "registry"}, page=page).status_code == 403
    own = f"/admin/users/{accounts_id(console, 'root')}"
    token_page = post_form(client, f"{own}/tokens", {"name": "registry"}, page=own)
    assert "ivr_" in token_page.get_data(as_text=True)
    with console.svc.sessions() as session:
        bolat = accounts.get_operator(session, "bolat")
    assert (bolat.role, bolat.is_active, bolat.display_name) == ("supervisor", False, "Болат А.")
    actions = {e.action for e in console.audit() if e.actor.startswith("operator:")}
    assert {"operator.created", "operator.access_changed", "operator.disabled", "api_token.issued"} <= actions


def test_language_switch_is_remembered_on_the_account(console: Console, make_client) -> None:
    console.add_user("aigerim")
    client = make_client("aigerim")
    post_form(client, "/operator/locale", {"locale": "kk", "next": "/operator/"})
    assert "Өтініштер кезегі" in client.get("/operator/").get_data(as_text=True)
    with console.svc.sessions() as session:
        assert accounts.get_operator(session, "aigerim").locale == "kk"
    fresh = make_client("aigerim")
    assert "Өтініштер кезегі" in fresh.get("/operator/").get_data(as_text=True)


def test_login_page_follows_the_browser_language(app) -> None:
    client = app.test_client()
    assert "Sign in to the console" in client.get("/operator/login", headers={"Accept-Language": "en"}).get_data(
        as_text=True)
    assert "Консольге кіру" in client.get("/operator/login", headers={"Accept-Language": "kk-KZ,kk"}).get_data(
        as_text=True)


def test_voice_webhooks_need_no_csrf_token(app, twilio) -> None:
    from tests.support.twilio_sim import Press, Silence, Talk

    result = twilio.call([Press("2"), Press("1"), Press("02"), Talk(10), Press("3"), Silence()])
    assert result.ended_by == "hangup-verb"
