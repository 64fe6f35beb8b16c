"""Issue 10.9: sign-out ends the session on the server; sessions age out; names are not revealed.

A cookie copied before sign-out (from a shared computer, a proxy log, a browser profile) must
open nothing afterwards, so the check is on the server, not in the browser's cookie jar.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from argon2 import PasswordHasher
from sqlalchemy import event

from ivr import accounts
from tests.operator.console import Console, post_form, sign_in

pytestmark = pytest.mark.usefixtures("fast_password_hashes")

CSRF_FIELD = re.compile(r'name="csrf_token" value="[^"]+"')
MORNING = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
BROWSER_A = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"}
BROWSER_B = {"User-Agent": "Mozilla/5.0 (Windows NT 10.0) Chrome/140.0"}


def _session_cookie(client: Any) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value  # type: ignore[no-any-return]


def test_sign_out_ends_the_session_for_a_copied_cookie(console: Console, make_client, app) -> None:
    console.add_user("aigerim")
    case = console.add_case(region="02")
    client = make_client("aigerim")
    assert client.get(f"/operator/cases/{case.id}").status_code == 200
    stolen = _session_cookie(client)  # captured before signing out

    assert post_form(client, "/operator/logout").status_code == 302

    thief = app.test_client()
    thief.set_cookie("session", stolen, domain="localhost")
    assert thief.get(f"/operator/cases/{case.id}").status_code == 302  # sent to the login page
    assert thief.get("/operator/").status_code == 302


def test_sign_out_ends_the_session_when_idle_too_long(console: Console, make_client, app) -> None:
    console.add_user("aigerim")
    idle_minutes = app.extensions["ivr"].settings.session_idle_minutes
    with time_machine.travel(MORNING, tick=False) as traveller:
        client = make_client("aigerim")
        traveller.shift(timedelta(minutes=idle_minutes - 1))
        assert client.get("/operator/").status_code == 200  # still in use
        traveller.shift(timedelta(minutes=idle_minutes + 1))
        assert client.get("/operator/").status_code == 302  # left idle: signed out


def test_sign_out_ends_the_session_after_its_absolute_lifetime(console: Console, make_client, app) -> None:
    console.add_user("aigerim")
    max_hours = app.extensions["ivr"].settings.session_max_hours
    with time_machine.travel(MORNING, tick=False) as traveller:
        client = make_client("aigerim")
        for _ in range(max_hours * 3 - 1):  # busy all day: a request every 20 minutes
            traveller.shift(timedelta(minutes=20))
            assert client.get("/operator/").status_code == 200
        traveller.shift(timedelta(minutes=25))
        assert client.get("/operator/").status_code == 302  # however busy, the day's session ends


def test_sign_out_ends_the_session_used_from_another_browser(console: Console, app) -> None:
    # "strong" protection: a cookie replayed with another browser's fingerprint is dropped, not
    # silently kept as a "non-fresh" session (Flask-Login's behaviour for permanent sessions).
    console.add_user("aigerim")
    client = app.test_client()
    client.environ_base.update({"HTTP_USER_AGENT": BROWSER_A["User-Agent"]})
    assert sign_in(client, "aigerim").status_code == 302
    assert client.get("/operator/").status_code == 200
    assert client.get("/operator/", headers=BROWSER_B).status_code == 302


def _answer(response: Any, username: str) -> tuple[int, str]:
    # The form shows back the name that was typed, as any login form does; the rest must match.
    body = CSRF_FIELD.sub("", response.get_data(as_text=True)).replace(f'value="{username}"', 'value="…"')
    return response.status_code, body


def test_sign_in_answers_alike_for_unknown_wrong_and_locked(console: Console, app) -> None:
    console.add_user("aigerim")
    console.add_user("bolat")
    for _ in range(accounts.MAX_FAILED_LOGINS):
        sign_in(app.test_client(), "bolat", "wrong password!")  # bolat is locked now

    unknown = _answer(sign_in(app.test_client(), "nobody.here", "wrong password!"), "nobody.here")
    wrong = _answer(sign_in(app.test_client(), "aigerim", "wrong password!"), "aigerim")
    locked = _answer(sign_in(app.test_client(), "bolat"), "bolat")  # even with the right password
    assert unknown == wrong == locked
    assert unknown[0] == 401


class CountingHasher(PasswordHasher):
    """argon2-cffi's hasher at the smallest cost, counting verifications."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.verifications = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.verifications += 1
        return super().verify(hash, password)


def test_sign_in_costs_alike_for_unknown_wrong_and_locked(console: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    hasher = CountingHasher()
    monkeypatch.setattr(accounts, "_hasher", lambda: hasher)
    accounts._dummy_hash.cache_clear()
    console.add_user("aigerim")
    console.add_user("bolat")
    for _ in range(accounts.MAX_FAILED_LOGINS):
        accounts.authenticate(console.svc.sessions, "bolat", "wrong password!")

    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        words = statement.split()
        table = next((w for w in words[1:] if w.strip('"') in ("operators", "audit_events")), "")
        statements.append(f"{words[0].upper()} {table.strip(chr(34))}")

    costs = {}
    event.listen(console.svc.engine, "before_cursor_execute", record)
    try:
        for label, name, password in [("unknown", "nobody.here", "wrong password!"),
                                      ("wrong", "aigerim", "wrong password!"),
                                      ("locked", "bolat", "correct horse battery staple")]:
            statements.clear()
            before = hasher.verifications
            result = accounts.authenticate(console.svc.sessions, name, password)
            assert result.principal is None
            costs[label] = (hasher.verifications - before, [s for s in statements if s.split()[0] != "SAVEPOINT"])
    finally:
        event.remove(console.svc.engine, "before_cursor_execute", record)
    assert costs["unknown"] == costs["wrong"] == costs["locked"]
    assert costs["unknown"][0] == 1  # one Argon2 check each: a dummy hash when the name is unknown or locked
