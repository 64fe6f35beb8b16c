"""The counters that stop PIN guessing: one per reference (a lock after too many wrong PINs) and
one for the whole line per clock hour. Each moves in one SQL statement, before the PIN is
checked, so parallel guesses over many processes get exactly the allowed number of checks.
The phone's follow-up (ivr.cases.followup) and a supervisor's proof of authorship
(ivr.cases.authorship) share them, so a reference locked on one is locked on the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ivr.models import Call, PinFailureHour


@dataclass(frozen=True)
class GuessLimits:
    """How many wrong PINs a reference and the whole line may take."""

    max_failures: int = 5
    lock_minutes: int = 60
    max_failures_per_hour: int = 200


@dataclass(frozen=True)
class Claim:
    """One attempt taken on a reference: the call, its PIN hash and where its count now stands."""

    call_id: int
    pin_hash: str | None
    failures: int
    is_now_locked: bool


def hour_of(moment: datetime) -> int:
    """The clock hour the line-wide count files a moment under (hours since the epoch)."""
    return int(moment.timestamp() // 3600)


def count_line_attempt(session: Session, hour: int) -> int:
    """One more unfinished check this hour, line-wide; the new count (one atomic upsert)."""
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(PinFailureHour)
    statement = (
        insert.values(hour=hour, failures=1)
        .on_conflict_do_update(index_elements=["hour"], set_={"failures": PinFailureHour.failures + 1})
        .returning(PinFailureHour.failures)
    )
    return int(session.execute(statement).scalar_one())


def claim_attempt(session: Session, reference: str, limits: GuessLimits, now: datetime) -> Claim | None:
    """Take one of the reference's allowed attempts; None if it is locked (or unknown).

    One statement: the database serialises concurrent claims on the row, and the claim that
    reaches the limit sets the lock in the same write. SET expressions read the old row.
    """
    is_open = or_(Call.locked_until.is_(None), Call.locked_until <= now)
    counted = case((Call.locked_until.is_(None), Call.pin_failures + 1), else_=1)  # an expired lock starts over
    until = now + timedelta(minutes=limits.lock_minutes)
    statement = (
        update(Call)
        .where(Call.reference == reference, is_open)
        .values(pin_failures=counted, locked_until=case((counted >= limits.max_failures, until), else_=None))
        .returning(Call.id, Call.pin_hash, Call.pin_failures, Call.locked_until)
        .execution_options(synchronize_session=False)
    )
    row = session.execute(statement).first()
    if row is None:
        return None
    return Claim(row.id, row.pin_hash, row.pin_failures, row.locked_until is not None)


def forget_attempt(session: Session, call_id: int, hour: int) -> None:
    """A right PIN: the reference starts over, and the line's count of this hour drops the attempt."""
    session.execute(
        update(Call).where(Call.id == call_id).values(pin_failures=0, locked_until=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(PinFailureHour).where(PinFailureHour.hour == hour)
        .values(failures=PinFailureHour.failures - 1).execution_options(synchronize_session=False)
    )


def prune_hours(session: Session, now: datetime) -> None:
    """Drop the line-wide counts of hours before the last one: the cap reads only the current hour.

    One more hour is kept so an attempt claimed just before the hour turned can still forget itself.
    """
    session.execute(delete(PinFailureHour).where(PinFailureHour.hour < hour_of(now) - 1))
