"""The outbox: a recording is filed in the database before anything is enqueued, and enqueued once.

Twilio's record action and recording status callback may arrive in either order, twice, or
one without the other (the caller hung up, our server was down). Each writes the same rows
idempotently, keyed by CallSid and RecordingSid, so every order ends with one call and one
intake per recording. Whoever files or finds a ready intake (the voice webhooks, reconcile,
the sweeper) claims it in the database and enqueues it here: one winner, one job; a Redis
error gives the claim back for the sweeper.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError
from rq import Queue
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ivr.call_times import blur_call_times
from ivr.cases.reference import PinHasher, new_pin, new_reference
from ivr.crypto import Cipher
from ivr.db import utc_now
from ivr.logging import get_logger
from ivr.models import PENDING, QUEUED, AuditEvent, Call, Intake
from ivr.queueing import enqueue_processing

log = get_logger(__name__)


@dataclass(frozen=True)
class CallFacts:
    """What the caller told the menu, as the intake stores it."""

    flow_name: str
    flow_version: str
    language: str | None
    is_anonymous: bool
    is_urgent: bool
    region_code: str | None
    contact: str | None  # a phone number, only ever for callers who chose to leave one


def contact_context(call_sid: str) -> bytes:
    """Binds a contact's ciphertext to its call, so it cannot be pasted onto another row."""
    return b"contact:" + call_sid.encode()


def _insert(session: Session, model: type[Any]) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


def ensure_call(
    session: Session,
    call_sid: str,
    facts: CallFacts,
    cipher: Cipher,
    *,
    reference: str | None = None,
    pin: str | None = None,
    pins: PinHasher | None = None,
) -> Call:
    """The call's row, created on first sight; later sightings refresh what the menu learnt.

    `reference` and `pin` are what the caller will hear; the first writer stores the reference
    and the PIN's hash, and a collision with another call's reference draws a new one (the
    caller then hears the stored one).
    """
    # Named only with a contact a key confirmed: "not anonymous" alone (a spoken answer, say) keeps
    # the disguised voice and the forgetting of Twilio's call log.
    is_anonymous = facts.is_anonymous or not facts.contact
    contact_ciphertext = (
        None
        if is_anonymous or facts.contact is None
        else cipher.encrypt(facts.contact.encode(), context=contact_context(call_sid))
    )
    values: dict[str, object] = {
        "call_sid": call_sid,
        "flow_name": facts.flow_name,
        "flow_version": facts.flow_version,
        "language": facts.language,
        "is_anonymous": is_anonymous,
        "is_urgent": facts.is_urgent,
        "region_code": facts.region_code,
        "contact_ciphertext": contact_ciphertext,
        "started_at": utc_now(),
    }
    if pin and pins is None:
        raise ValueError("a PIN is stored only as a keyed hash: pass the line's PinHasher")
    pin_hash = pins.hash(pin) if pin and pins else None
    values["pin_hash"] = pin_hash
    drawn = reference
    for attempt in range(5):
        drawn = reference if reference and attempt == 0 else new_reference()
        values["reference"] = drawn
        try:
            with session.begin_nested():
                insert = _insert(session, Call).values(**values)
                session.execute(insert.on_conflict_do_nothing(index_elements=["call_sid"]))
        except IntegrityError:
            continue  # the random reference collided with another call's: draw again
        break
    call = session.scalars(select(Call).where(Call.call_sid == call_sid)).one()
    # An earlier write (the other callback) may have known less; never unset what is known.
    call.language = facts.language or call.language
    call.region_code = facts.region_code or call.region_code
    call.is_urgent = call.is_urgent or facts.is_urgent
    if call.pin_hash is None and pin_hash is not None:
        call.pin_hash = pin_hash
    if call.reference is None:
        call.reference = drawn
    if facts.is_anonymous:
        call.is_anonymous, call.contact_ciphertext = True, None
    elif contact_ciphertext is not None and call.contact_ciphertext is None:
        call.is_anonymous, call.contact_ciphertext = False, contact_ciphertext
    return call


def issue_pin(call: Call, digits: int, pins: PinHasher) -> str:
    """A new PIN for the call; only its keyed hash is kept, the caller hears it once."""
    pin = new_pin(digits)
    call.pin_hash = pins.hash(pin)
    return pin


def record_call_end(
    session: Session,
    *,
    call_sid: str,
    status: str,
    duration_s: int | None,
    last_node: str | None,
    flow_version: str,
    flow_name: str = "public",
    anonymous_time_resolution_minutes: int = 60,
) -> Call:
    """Note how and where a call ended; calls that never recorded get a row too, for drop-off figures.

    Twilio's status callback carries the caller's number; none of it is read here. An anonymous
    call keeps no end or length, and its times are cut to the resolution (`ivr.call_times`).
    """
    session.execute(
        _insert(session, Call)
        .values(
            call_sid=call_sid,
            flow_name=flow_name,
            flow_version=flow_version,
            is_anonymous=True,
            is_urgent=False,
            status="in-progress",
            is_recovered=False,
            started_at=utc_now(),
        )
        .on_conflict_do_nothing(index_elements=["call_sid"])
    )
    call = session.scalars(select(Call).where(Call.call_sid == call_sid)).one()
    call.status = status
    if not call.is_anonymous:
        call.duration_s = duration_s
        call.ended_at = utc_now()
    call.pending_pin_ciphertext = None  # the caller has heard it; only the keyed hash stays
    call.last_node = last_node or call.last_node
    detail: dict[str, object] = {"status": status, "last_node": last_node}
    if not call.is_anonymous:
        detail["duration_s"] = duration_s
    session.add(AuditEvent(actor="voice", action="call.ended", call_id=call.id, detail=detail))
    session.flush()
    blur_call_times(session, call.id, minutes=anonymous_time_resolution_minutes, assumed_over_after_s=0)
    return call


def record_intake(
    session: Session,
    *,
    call: Call,
    recording_sid: str,
    duration_s: int | None,
    is_ready: bool,
    kind: str = "report",
    actor: str = "voice",
    source_call_sid: str | None = None,
    is_held: bool = False,
) -> Intake:
    """The intake for one recording, written once; a repeat only adds what it newly knows.

    `is_held` (first write only): the caller may still record this take again (ivr.retakes).
    """
    inserted = session.execute(
        _insert(session, Intake)
        .values(
            recording_sid=recording_sid,
            call_id=call.id,
            kind=kind,
            source_call_sid=source_call_sid or call.call_sid,
            status=PENDING,
            is_ready=is_ready,
            is_held=is_held,
            duration_s=duration_s,
            attempts=0,
            created_at=utc_now(),
            updated_at=utc_now(),
        )
        .on_conflict_do_nothing(index_elements=["recording_sid"])
        .returning(Intake.id)
    ).first()
    intake = session.scalars(select(Intake).where(Intake.recording_sid == recording_sid)).one()
    is_new = inserted is not None  # RETURNING yields a row only when this call inserted it
    if duration_s is not None and intake.duration_s is None:
        intake.duration_s = duration_s
    if is_ready and not intake.is_ready:
        intake.is_ready = True
    if is_new:
        session.add(
            AuditEvent(
                actor=actor,
                action="intake.recorded",
                call_id=call.id,
                intake_id=intake.id,
                detail={"kind": kind, "duration_s": duration_s},
            )
        )
    session.flush()
    return intake


def claim_for_enqueue(session: Session, intake_id: int, *, is_ready: bool = True) -> bool:
    """Atomically move a pending intake to queued; True for the one caller that did it.

    Several web processes may see the same callback; only the winner enqueues, so the queue
    gets the job once. `is_ready=False` claims an intake whose recording status callback never
    came (the sweeper's call: the download retries until the recording is there). A held take
    (the caller may still record it again, ivr.retakes) is never claimed.
    """
    result = session.execute(
        update(Intake)
        .where(Intake.id == intake_id, Intake.status == PENDING, Intake.is_ready.is_(is_ready),
               Intake.is_held.is_(False))
        .values(status=QUEUED, enqueued_at=utc_now(), updated_at=utc_now())
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def enqueue_claimed(sessions: sessionmaker[Session], queue: Queue, intake_id: int) -> bool:
    """Enqueue processing of an intake this caller claimed; True if Redis took the job.

    On a Redis error the claim goes back (pending, with the error), so the sweeper retries;
    if even the database refuses that, the intake stays queued and the sweeper finds it lost.
    """
    try:
        enqueue_processing(queue, intake_id)
    except RedisError as error:
        log.warning("intake.enqueue_failed", intake_id=intake_id, error=type(error).__name__)
        try:
            with sessions.begin() as session:
                release_claim(session, intake_id, f"enqueue failed: {type(error).__name__}")
        except SQLAlchemyError:
            log.exception("intake.release_failed", intake_id=intake_id)
        return False
    log.info("intake.enqueued", intake_id=intake_id)
    return True


def claim_and_enqueue(sessions: sessionmaker[Session], queue: Queue, intake_id: int, *, is_ready: bool = True) -> bool:
    """Claim a pending intake in its own transaction and enqueue it; False if another got there first."""
    with sessions.begin() as session:
        if not claim_for_enqueue(session, intake_id, is_ready=is_ready):
            return False
    return enqueue_claimed(sessions, queue, intake_id)


def release_claim(session: Session, intake_id: int, error: str) -> None:
    """Put an intake back to pending after the queue refused it; the sweeper will retry."""
    session.execute(
        update(Intake)
        .where(Intake.id == intake_id, Intake.status == QUEUED)
        .values(status=PENDING, enqueued_at=None, last_error=error[:500], updated_at=utc_now())
    )
