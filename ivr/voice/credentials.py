"""A caller's reference, PIN and contact never ride in a URL: they are kept under the CallSid.

The sealed call state travels in every webhook URL, and URLs end up in access logs; whoever
holds the secret and a log would read them. So the state carries markers only: `#` for "this
call's reference and PIN are stored" and for "this caller's contact is stored", `#<call id>` for
the case a follow-up caller keyed in. The reference and PIN are read back from the database (or,
while it is down, from this host's spool) when the caller is to hear them again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, replace

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from ivr.cases.reference import new_pin, new_reference
from ivr.crypto import DecryptionError
from ivr.flow.engine import CallState
from ivr.intake import CallFacts, ensure_call, issue_pin
from ivr.models import Call
from ivr.services import Services
from ivr.spool import ReportSpool, SpoolError, pending_pin_context
from ivr.spool import replay_quietly as spool_replay_quietly

log = logging.getLogger(__name__)

STORED = "#"  # in a URL's state: the value is stored under this call's CallSid

REPLAY_RETRY_S = 2.0
_spools: dict[int, ReportSpool] = {}
_retry_at: dict[int, float] = {}


def spool_of(svc: Services) -> ReportSpool:
    """This web process's spool (one folder per host)."""
    spool = _spools.get(id(svc))
    if spool is None or spool.cipher is not svc.cipher:
        spool = _spools[id(svc)] = ReportSpool(svc.settings.spool_dir, svc.cipher)
    return spool


def for_url(svc: Services, call_sid: str, state: CallState) -> CallState:
    """The state as it may travel in a URL: choices and markers, no reference, PIN, contact or message."""
    reference = state.reference
    if reference and not reference.startswith(STORED):
        if state.recording_sid is not None and not state.is_followup:
            reference = STORED  # this call's own report: kept under its CallSid
        else:
            reference = f"{STORED}{_call_id_of(svc, reference)}"  # the case a follow-up caller keyed in
    contact = STORED if state.contact is not None else None
    if reference == state.reference and contact == state.contact and state.pin is None \
            and state.reporter_message is None and state.thread is None:
        return state
    # The thread's messages are said in this step only; the URL keeps just their ids (thread_ids).
    return replace(state, reference=reference, pin=None, contact=contact, reporter_message=None, thread=None)


def hydrate(svc: Services, call_sid: str, state: CallState) -> CallState:
    """The state with the reference (and PIN, for the call's own report) read back from where they are kept."""
    reference = state.reference
    if not reference or not reference.startswith(STORED):
        return state
    if reference == STORED:
        stored_reference, pin = credentials(svc, call_sid, read_before=state.reference_read)
        return replace(state, reference=stored_reference, pin=pin)
    call_id = int(reference[1:]) if reference[1:].isdigit() else 0
    found = None
    if call_id:
        try:
            with svc.sessions() as session:
                found = session.scalar(select(Call.reference).where(Call.id == call_id))
        except SQLAlchemyError:
            log.warning("followup.reference_unavailable", extra={"call_sid": call_sid})
    return replace(state, reference=found)


def credentials(svc: Services, call_sid: str, *, read_before: bool = False) -> tuple[str | None, str | None]:
    """This call's reference and the PIN its caller is hearing: from the database, else this host's spool.

    Once a pair was read out (`read_before`), only a pair marked spoken is read again: with the
    database down, two hosts may each have spooled a pair for the call, and the caller must never
    hear a second one. None then, and the caller is told the numbers cannot be repeated now.
    """
    try:
        with svc.sessions() as session:
            row = session.execute(
                select(Call.reference, Call.pending_pin_ciphertext, Call.reference_spoken)
                .where(Call.call_sid == call_sid)
            ).first()
        if row is not None and row.reference and (row.reference_spoken or not read_before):
            return row.reference, _pending_pin(svc, call_sid, row.pending_pin_ciphertext)
    except SQLAlchemyError:
        log.warning("credentials.database_unavailable", extra={"call_sid": call_sid})
    record = spool_of(svc).find(call_sid)
    if record is None or (read_before and not record.get("spoken")):
        return None, None
    return record.get("reference"), record.get("pin")


def mark_spoken(svc: Services, call_sid: str, reference: str) -> None:
    """Note, before the TwiML goes out, that this pair is read to the caller (database, else spool).

    Best effort: if neither takes the mark, the pair is still durably kept (that was checked when
    it was filed), only a later "repeat" on another host may not find it.
    """
    if _update_call(svc, call_sid, reference, reference_spoken=True):
        return
    if not _mark_spooled(svc, call_sid, reference, "spoken"):
        log.warning("credentials.spoken_not_marked", extra={"call_sid": call_sid})


def mark_heard(svc: Services, call_sid: str, reference: str) -> None:
    """The caller stayed on the line to the end of the numbers (the "go" after them came)."""
    if _update_call(svc, call_sid, reference, reference_heard=True):
        return
    if not _mark_spooled(svc, call_sid, reference, "heard"):
        log.warning("credentials.heard_not_marked", extra={"call_sid": call_sid})


def _update_call(svc: Services, call_sid: str, reference: str, **flags: bool) -> bool:
    try:
        with svc.sessions.begin() as session:
            changed = session.execute(
                update(Call).where(Call.call_sid == call_sid, Call.reference == reference).values(**flags)
            )
            return bool(changed.rowcount)  # type: ignore[attr-defined]
    except SQLAlchemyError:
        return False


def _mark_spooled(svc: Services, call_sid: str, reference: str, flag: str) -> bool:
    spool = spool_of(svc)
    record = spool.find(call_sid)
    if record is None or record.get("reference") != reference:
        return False
    if record.get(flag):
        return True
    try:
        spool.write(call_sid, record["recording_sid"], {**record, flag: True})
    except SpoolError:
        return False
    return True


def _pending_pin(svc: Services, call_sid: str, blob: bytes | None) -> str | None:
    if blob is None:
        return None
    try:
        return svc.cipher.decrypt(blob, context=pending_pin_context(call_sid)).decode()
    except DecryptionError:
        return None


def issue_pin_once(svc: Services, call: Call, digits: int) -> str | None:
    """The PIN the caller will hear: issued (and its keyed hash stored) by the first writer only."""
    if call.pin_hash is None:
        pin = issue_pin(call, digits, svc.pins)
        call.pending_pin_ciphertext = svc.cipher.encrypt(pin.encode(), context=pending_pin_context(call.call_sid))
        return pin
    return _pending_pin(svc, call.call_sid, call.pending_pin_ciphertext)


def spool_report(
    svc: Services, call_sid: str, facts: CallFacts, recording_sid: str, duration_s: int | None, *,
    is_ready: bool, pin_digits: int, replaces: str | None = None,
) -> tuple[str | None, str | None]:
    """Keep a report on this host's disk while the database is down; the reference and PIN, or None if not kept."""
    spool = spool_of(svc)
    earlier = spool.find(call_sid)  # the other callback of this recording, on this host
    reference = earlier["reference"] if earlier else new_reference()
    pin = earlier["pin"] if earlier else new_pin(pin_digits)
    record = {"call_sid": call_sid, "facts": asdict(facts), "recording_sid": recording_sid,
              "duration_s": duration_s, "is_ready": is_ready, "reference": reference, "pin": pin}
    if earlier:  # what the caller was read and heard of this pair stays known
        record.update({flag: True for flag in ("spoken", "heard") if earlier.get(flag)})
    if replaces:
        record["replaces"] = replaces  # the take this one replaces ("record again"), discarded on replay
    try:
        spool.write(call_sid, recording_sid, record)
    except SpoolError as exc:
        log.error("spool.write_failed", extra={"call_sid": call_sid, "error": str(exc)})
        return None, None
    log.warning("intake.spooled", extra={"call_sid": call_sid, "recording_sid": recording_sid})
    return reference, pin


def store_contact(svc: Services, call_sid: str, facts: CallFacts) -> bool:
    """Keep a named caller's contact (encrypted) under the CallSid at the step that takes it."""
    try:
        with svc.sessions.begin() as session:
            ensure_call(session, call_sid, facts, svc.cipher)
        return True
    except SQLAlchemyError:
        log.warning("contact.database_unavailable", extra={"call_sid": call_sid})
    try:
        spool_of(svc).write(call_sid, "contact", {"call_sid": call_sid, "facts": asdict(facts)})
        return True
    except SpoolError as exc:
        log.error("spool.write_failed", extra={"call_sid": call_sid, "error": str(exc)})
        return False


def replay(svc: Services) -> int:
    """Move this host's spooled reports into the database; the sweeper enqueues them. Returns how many."""
    spool = spool_of(svc)
    if not spool.has_records() or time.monotonic() < _retry_at.get(id(svc), 0.0):
        return 0
    filed = spool_replay_quietly(spool, svc.sessions, svc.pins)
    if filed is None:
        # Still down: webhooks must not each wait on it; try again a little later.
        _retry_at[id(svc)] = time.monotonic() + REPLAY_RETRY_S
        return 0
    return len(filed)


def _call_id_of(svc: Services, reference: str) -> int:
    try:
        with svc.sessions() as session:
            return session.scalar(select(Call.id).where(Call.reference == reference)) or 0
    except SQLAlchemyError:
        return 0
