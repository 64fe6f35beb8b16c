"""Accounts: Argon2id passwords, lock-out, roles and regions, API tokens (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError

from ivr import accounts
from ivr.db import utc_now
from ivr.models import AuditEvent, Case, Operator
from tests.operator.console import PASSWORD, Console


def test_password_is_stored_only_as_an_argon2id_hash(console: Console) -> None:
    console.add_user("aigerim", regions=["02"])
    with console.svc.sessions() as session:
        operator = accounts.get_operator(session, "AIGERIM ")
        assert operator.password_hash.startswith("$argon2id$")
        assert PASSWORD not in operator.password_hash
        assert accounts.verify_password(operator.password_hash, PASSWORD)
        assert not accounts.verify_password(operator.password_hash, PASSWORD + "!")
        assert not accounts.verify_password(None, PASSWORD)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"username": "a"}, "username"),
        ({"username": "имя"}, "username"),
        ({"password": "short"}, "at least"),
        ({"role": "root"}, "role must be"),
        ({"regions": []}, "at least one region"),
        ({"regions": ["99"]}, "unknown region"),
        ({"locale": "de"}, "locale"),
    ],
)
def test_create_operator_refuses_bad_values(console: Console, kwargs: dict, message: str) -> None:
    values = {"username": "aigerim", "password": PASSWORD, "role": "operator", "regions": ["02"]}
    values.update(kwargs)
    with console.svc.sessions.begin() as session, pytest.raises(accounts.AccountError, match=message):
        accounts.create_operator(session, known_regions={"01", "02"}, **values)


def test_usernames_are_unique_whatever_the_case(console: Console) -> None:
    console.add_user("aigerim")
    with pytest.raises(accounts.AccountError, match="exists already"):
        console.add_user("Aigerim")


def test_supervisors_and_admins_keep_no_regions(console: Console) -> None:
    console.add_user("dana", role="supervisor", regions=["02"])
    with console.svc.sessions() as session:
        assert accounts.get_operator(session, "dana").region_codes == []


def test_sign_in_succeeds_and_is_audited(console: Console) -> None:
    user_id = console.add_user("aigerim")
    result = accounts.authenticate(console.svc.sessions, "aigerim", PASSWORD)
    assert result.principal is not None and result.principal.id == user_id
    assert result.principal.region_codes == ("02",)
    [event] = console.audit(action="operator.signed_in")
    assert event.actor == f"operator:{user_id}"


def test_five_wrong_passwords_lock_the_account_until_unlocked(console: Console) -> None:
    user_id = console.add_user("aigerim")
    for attempt in range(accounts.MAX_FAILED_LOGINS):
        result = accounts.authenticate(console.svc.sessions, "aigerim", "wrong password")
        assert result.principal is None
        assert result.reason == ("locked" if attempt == accounts.MAX_FAILED_LOGINS - 1 else "bad")
    locked = accounts.authenticate(console.svc.sessions, "aigerim", PASSWORD)  # even the right password
    assert locked.principal is None and locked.reason == "locked" and locked.locked_until is not None
    with console.svc.sessions.begin() as session:
        accounts.unlock(session, accounts.get_operator(session, "aigerim"), actor="test")
    assert accounts.authenticate(console.svc.sessions, "aigerim", PASSWORD).principal is not None
    failures = console.audit(action="operator.sign_in_failed", actor=f"operator:{user_id}")
    assert [e.detail["reason"] for e in failures] == ["bad"] * 4 + ["locked"]
    assert console.audit(action="operator.sign_in_refused")[0].detail == {"reason": "locked"}


def test_lock_out_expires_by_itself(console: Console) -> None:
    console.add_user("aigerim")
    with console.svc.sessions.begin() as session:
        operator = accounts.get_operator(session, "aigerim")
        operator.locked_until = utc_now() - timedelta(seconds=1)
    assert accounts.authenticate(console.svc.sessions, "aigerim", PASSWORD).principal is not None


def test_unknown_user_fails_without_naming_them_in_the_audit(console: Console) -> None:
    assert accounts.authenticate(console.svc.sessions, "my secret password", PASSWORD).reason == "bad"
    [event] = console.audit(action="operator.sign_in_failed")
    assert event.actor == "anonymous" and "secret" not in repr(event.detail)


def test_disabled_account_cannot_sign_in_and_loses_its_sessions(console: Console) -> None:
    user_id = console.add_user("aigerim")
    with console.svc.sessions.begin() as session:
        version = accounts.get_operator(session, "aigerim").session_version
        accounts.set_active(session, accounts.get_operator(session, "aigerim"), False)
    with console.svc.sessions.begin() as session:
        assert accounts.authenticate(console.svc.sessions, "aigerim", PASSWORD).reason == "disabled"
        assert accounts.load_principal(session, user_id, version) is None


def test_new_password_or_regions_end_old_sessions(console: Console) -> None:
    user_id = console.add_user("aigerim")
    with console.svc.sessions.begin() as session:
        operator = accounts.get_operator(session, "aigerim")
        first = operator.session_version
        accounts.set_password(session, operator, "another long password")
        second = operator.session_version
        accounts.update_operator(session, operator, regions=["02", "13"])
        third = operator.session_version
        accounts.update_operator(session, operator, display_name="Айгерим")  # a name is harmless
    assert first < second < third
    with console.svc.sessions() as session:
        assert accounts.load_principal(session, user_id, first) is None
        assert accounts.load_principal(session, user_id, third).region_codes == ("02", "13")


def test_api_tokens_are_stored_hashed_and_can_be_revoked(console: Console) -> None:
    console.add_user("aigerim")
    token = console.token_for("aigerim")
    with console.svc.sessions.begin() as session:
        principal = accounts.principal_for_token(session, token)
        assert principal is not None and principal.username == "aigerim"
        assert accounts.principal_for_token(session, token + "x") is None
        assert accounts.principal_for_token(session, "not-a-token") is None
    dump = repr([(e.detail) for e in console.audit()])
    assert token not in dump
    with console.svc.sessions.begin() as session:
        from sqlalchemy import select

        from ivr.models import ApiToken

        row = session.scalars(select(ApiToken)).one()
        assert token not in row.token_sha256
        accounts.revoke_token(session, row.id)
    with console.svc.sessions.begin() as session:
        assert accounts.principal_for_token(session, token) is None


def test_token_of_a_disabled_account_stops_working(console: Console) -> None:
    console.add_user("aigerim")
    token = console.token_for("aigerim")
    with console.svc.sessions.begin() as session:
        accounts.set_active(session, accounts.get_operator(session, "aigerim"), False)
    with console.svc.sessions.begin() as session:
        assert accounts.principal_for_token(session, token) is None


def test_scope_follows_role_and_regions(console: Console) -> None:
    almaty = console.add_case(region="02")
    karaganda = console.add_case(region="13")
    unknown = console.add_case(region=None)
    console.add_user("aigerim", regions=["02"])
    console.add_user("dana", role="supervisor")
    console.add_user("root", role="admin")
    from sqlalchemy import select

    with console.svc.sessions() as session:
        people = {
            name: accounts.Principal.of(accounts.get_operator(session, name)) for name in ("aigerim", "dana", "root")
        }
        seen = {
            name: sorted(session.scalars(select(Case.id).where(person.case_scope())))
            for name, person in people.items()
        }
        cases = {ref.id: session.get_one(Case, ref.id) for ref in (almaty, karaganda, unknown)}
        # A case without a region is in the duty queue every operator sees (issue 12.1).
        assert seen == {"aigerim": sorted([almaty.id, unknown.id]), "dana": sorted(cases), "root": []}
        for name, person in people.items():
            assert [cid for cid, case in cases.items() if person.may_see(case)] == (
                seen[name] if name != "dana" else list(cases)
            )


def test_audit_events_cannot_be_changed_or_deleted(console: Console) -> None:
    console.add_user("aigerim")
    with pytest.raises(DBAPIError), console.svc.sessions.begin() as session:
        session.execute(update(AuditEvent).values(actor="someone else"))
    with pytest.raises(DBAPIError), console.svc.sessions.begin() as session:
        session.execute(AuditEvent.__table__.delete())
    assert console.audit(action="operator.created")[0].actor == "cli"


def test_operator_rows_hold_no_plain_password(console: Console) -> None:
    console.add_user("aigerim")
    with console.svc.sessions() as session:
        from sqlalchemy import select

        row = session.scalars(select(Operator)).one()
        assert PASSWORD not in repr(vars(row))
