"""Issue 10.8: PINs resist offline and online guessing.

Offline: a 4-digit Argon2 hash taken from the database fell in 77 s on one core. PINs now have 6
digits and are keyed (HMAC with a key derived from the data key) before the slow hash, so a copy
of the database alone cannot even confirm the right PIN. Online: a line-wide hourly cap stops
guessing spread over many references, and an unknown reference, a locked one and a wrong PIN
run the same statements and the same hashing (the wall-clock figures are in bench/README.md).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from prometheus_client import REGISTRY
from sqlalchemy import event, select

from ivr.cases import followup
from ivr.cases import reference as case_reference
from ivr.cases.reference import damm_digit
from ivr.db import utc_now
from ivr.models import AuditEvent, Call
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL
from tests.support.twilio_sim import FlaskTransport, Press, Silence, Talk, TwilioSimulator, new_sid

OTHER_DATA_KEY = b"o" * 32


def _msg(app: Any, key: str) -> str:
    return app.extensions["ivr"].flows.current.message(key, "ru").text  # type: ignore[no-any-return]


def _spoken_after(said: list[str], label: str) -> str:
    return said[said.index(label) + 1].replace(", ", "").rstrip(".")


def _report(app: Any, twilio: TwilioSimulator) -> tuple[str, str]:
    result = twilio.call([Press("2"), Press("1"), Press("02"), Talk(20), Press("3"), Silence()])
    return _spoken_after(result.said(), _msg(app, "reference_is")), _spoken_after(result.said(), _msg(app, "pin_is"))


def _reference(body: str) -> str:
    return body + damm_digit(body)


def _audit(app: Any, action: str) -> list[AuditEvent]:
    with app.extensions["ivr"].sessions() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_pins_resist_guessing_with_six_digits(app, twilio: TwilioSimulator) -> None:
    _reference_heard, pin = _report(app, twilio)
    assert len(pin) == 6 and pin.isdigit()


def test_pins_resist_guessing_from_a_database_copy(app, twilio: TwilioSimulator) -> None:
    reference, pin = _report(app, twilio)
    with app.extensions["ivr"].sessions() as session:
        stored = session.scalars(select(Call.pin_hash).where(Call.reference == reference)).one()
    # Whoever holds the database alone cannot confirm even the right PIN against the hash ...
    with pytest.raises(VerificationError):
        PasswordHasher().verify(stored.split(":", 2)[-1], pin)
    assert not case_reference.PinHasher({"k1": OTHER_DATA_KEY}).verify(stored, pin)
    # ... while the line, holding the data key, can.
    assert app.extensions["ivr"].pins.verify(stored, pin)


def test_pins_resist_guessing_yet_old_unkeyed_hashes_still_open_their_case(app, twilio: TwilioSimulator) -> None:
    reference = _reference("5820417")
    legacy = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1).hash("4815")  # as stored until now
    with app.extensions["ivr"].sessions.begin() as session:
        session.add(Call(call_sid=new_sid("CA"), flow_version="old", reference=reference, pin_hash=legacy))

    result = twilio.call([Press("2"), Press("9"), Press(reference), Press("4815"), Press("3")])

    assert _msg(app, "wrong_pin") not in result.said() and len(_audit(app, "followup.verified")) == 1
    with app.extensions["ivr"].sessions() as session:
        rekeyed = session.scalars(select(Call.pin_hash).where(Call.reference == reference)).one()
    assert rekeyed.startswith("pin2:") and app.extensions["ivr"].pins.verify(rekeyed, "4815")


def test_pins_resist_guessing_spread_over_many_references(make_settings: Callable[..., Any], database_url: str) -> None:
    from ivr.app import create_app

    app = create_app(make_settings(database_url=database_url, followup_max_failures_per_hour=3))
    try:
        twilio = TwilioSimulator(FlaskTransport(app.test_client()), auth_token=AUTH_TOKEN,
                                 public_base_url=PUBLIC_BASE_URL, account_sid=ACCOUNT_SID)
        reference, pin = _report(app, twilio)
        refusals = REGISTRY.get_sample_value("ivr_followup_pin_cap_refusals_total") or 0.0
        for body in ("1234567", "2345678", "3456789"):  # three references that do not exist
            guess = twilio.call([Press("2"), Press("9"), Press(_reference(body)), Press("000000")])
            assert _msg(app, "wrong_pin") in guess.said()

        capped = twilio.call([Press("2"), Press("9"), Press(reference), Press(pin)])

        assert _msg(app, "too_many_tries") in capped.said()  # the right PIN waits for the next hour
        assert not _audit(app, "followup.verified")
        assert len(_audit(app, "followup.refused_capped")) == 1
        assert REGISTRY.get_sample_value("ivr_followup_pin_cap_refusals_total") == refusals + 1
    finally:
        app.extensions["ivr"].close()


class CountingArgon2(PasswordHasher):
    """argon2-cffi's hasher at the line's PIN cost, counting verifications."""

    def __init__(self) -> None:
        super().__init__(time_cost=2, memory_cost=19 * 1024, parallelism=1)
        self.verifications = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.verifications += 1
        return super().verify(hash, password)


def test_pins_resist_guessing_as_unknown_locked_and_wrong_cost_the_same(app, monkeypatch: pytest.MonkeyPatch) -> None:
    svc = app.extensions["ivr"]
    argon2 = CountingArgon2()
    monkeypatch.setattr(case_reference, "_hasher", lambda: argon2)
    known, locked, unknown = _reference("6172839"), _reference("7283940"), _reference("8394051")
    with svc.sessions.begin() as session:
        session.add(Call(call_sid=new_sid("CA"), flow_version="v", reference=known, pin_hash=svc.pins.hash("246810")))
        session.add(Call(call_sid=new_sid("CA"), flow_version="v", reference=locked, pin_hash=svc.pins.hash("246810"),
                         locked_until=utc_now() + timedelta(minutes=30)))
    limits = followup.GuessLimits(max_failures=5, lock_minutes=60, max_failures_per_hour=1000)

    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        words = statement.replace('"', "").split()
        verb = words[0].upper()
        table = next((w for w in words[1:] if w in ("calls", "audit_events", "pin_failure_hours", "cases")), "")
        statements.append(f"{verb} {table}")

    costs: dict[str, tuple[int, list[str]]] = {}
    event.listen(svc.engine, "before_cursor_execute", record)
    try:
        for label, reference in (("unknown", unknown), ("locked", locked), ("wrong", known)):
            statements.clear()
            before = argon2.verifications
            done = followup.verify_reference(svc.sessions, svc.pins, reference, "999999", limits=limits)
            assert done.outcome == "wrong"
            costs[label] = (argon2.verifications - before, list(statements))
    finally:
        event.remove(svc.engine, "before_cursor_execute", record)

    assert costs["unknown"] == costs["locked"] == costs["wrong"]
    assert costs["wrong"][0] == 1  # one keyed Argon2 check each
    assert [s.split()[0] for s in costs["wrong"][1]].count("INSERT") == 2  # the hour's count and one audit row
