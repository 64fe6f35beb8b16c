"""The local spool: a report's facts, kept on this host's disk while the database is unreachable.

A caller must never hear a reference and PIN that are not durably stored. When the database
refuses the record step's write, the facts (call, recording, reference, PIN, region, language,
anonymity, contact) go into one file per recording: encrypted with the data key (AES-GCM, bound
to the file's name), written 0600, fsynced, renamed into place. Each web process replays its
spool into the database once it answers again, and so do the sweeper and reconcile on that host
(a host whose webhooks got no more traffic still files its reports); the spool dir is per host
(IVR_SPOOL_DIR).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ivr.crypto import Cipher, DecryptionError
from ivr.intake import CallFacts, ensure_call, record_intake
from ivr.models import Call
from ivr.retakes import discard_replaced

log = logging.getLogger(__name__)

SUFFIX = ".spool"
_NAME = re.compile(r"\A(CA[0-9a-f]{32})-([A-Za-z0-9]{1,40})\.spool\Z")


class PinHashing(Protocol):
    """What filing a spooled PIN needs of the line's PinHasher."""

    def hash(self, pin: str) -> str:
        """The keyed slow hash of a PIN."""
        ...


class SpoolError(Exception):
    """The spool could not keep a record (disk full, read-only, no folder)."""


class ReportSpool:
    """Encrypted, fsynced records under one folder, one per call and recording."""

    def __init__(self, directory: Path, cipher: Cipher) -> None:
        self.directory = directory
        self.cipher = cipher

    def write(self, call_sid: str, key: str, record: dict[str, Any]) -> Path:
        """Keep `record` durably for (call, key); SpoolError if the disk refuses."""
        name = f"{call_sid}-{key}{SUFFIX}"
        if not _NAME.match(name):
            raise SpoolError("not a spool record name")
        path = self.directory / name
        blob = self.cipher.encrypt(json.dumps(record).encode(), context=name.encode())
        tmp = self.directory / f".{name}.{os.getpid()}.tmp"
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # private from the first byte
            try:
                os.write(fd, blob)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
            dir_fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)  # the rename itself must survive a power cut
            finally:
                os.close(dir_fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            raise SpoolError(type(exc).__name__) from None
        return path

    def has_records(self) -> bool:
        """True if anything waits for the database (one directory read)."""
        try:
            with os.scandir(self.directory) as entries:
                return any(entry.name.endswith(SUFFIX) for entry in entries)
        except OSError:
            return False

    def records(self, call_sid: str | None = None) -> Iterator[tuple[Path, dict[str, Any]]]:
        """Readable records, oldest first; only this call's if `call_sid` is given."""
        try:
            paths = sorted(self.directory.glob(f"{call_sid or 'CA*'}-*{SUFFIX}"), key=_mtime)
        except OSError:
            return
        for path in paths:
            if not _NAME.match(path.name):
                continue
            try:
                record = json.loads(self.cipher.decrypt(path.read_bytes(), context=path.name.encode()))
            except (OSError, DecryptionError, ValueError):
                log.error("spool.unreadable", extra={"file": path.name})
                continue
            yield path, record

    def find(self, call_sid: str) -> dict[str, Any] | None:
        """The newest record of a call that carries credentials, if this host spooled one."""
        found = None
        for _path, record in self.records(call_sid):
            if record.get("reference"):
                found = record
        return found

    @staticmethod
    def remove(path: Path) -> None:
        """Forget a record once the database holds it."""
        path.unlink(missing_ok=True)


def pending_pin_context(call_sid: str) -> bytes:
    """Binds a pending PIN's ciphertext to its call."""
    return b"pending-pin:" + call_sid.encode()


def replay(spool: ReportSpool, sessions: sessionmaker[Session], pins: PinHashing) -> list[int]:
    """Move the spooled records into the database, oldest first; the ids of the intakes filed.

    A record is removed only once its transaction committed. SQLAlchemyError (still down) stops
    the replay; what is left stays for the next one. Safe to run in several processes at once:
    filing is idempotent (CallSid, RecordingSid).
    """
    filed: list[int] = []
    for path, record in spool.records():
        try:
            with sessions.begin() as session:
                intake_id = file_record(session, record, spool.cipher, pins)
        except (KeyError, TypeError, ValueError):
            # Not a record this version can file: kept on disk for a person, never lost.
            log.error("spool.unfileable", extra={"file": path.name})
            continue
        spool.remove(path)
        if intake_id is not None:
            filed.append(intake_id)
        log.info("spool.replayed", extra={"call_sid": record.get("call_sid")})
    return filed


def replay_quietly(spool: ReportSpool, sessions: sessionmaker[Session], pins: PinHashing) -> list[int] | None:
    """`replay`, logging instead of raising when the database still refuses; None then."""
    if not spool.has_records():
        return []
    try:
        return replay(spool, sessions, pins)
    except SQLAlchemyError:
        log.warning("spool.replay_failed", extra={"directory": str(spool.directory)})
        return None


def file_record(session: Session, record: dict[str, Any], cipher: Cipher, pins: PinHashing) -> int | None:
    """File one spooled record (call facts, credentials, recording); its intake id, if it has a recording."""
    call_sid = record["call_sid"]
    facts = CallFacts(**record["facts"])
    existing = session.scalars(select(Call).where(Call.call_sid == call_sid)).first()
    pin = record.get("pin")
    # Spooled credentials count if they were read out (and the stored pair was not), or if
    # nothing else was stored for the call.
    spoken = bool(record.get("spoken"))
    adopt = record.get("reference") is not None and (
        existing is None or existing.pin_hash is None or (spoken and not existing.reference_spoken))
    call = ensure_call(session, call_sid, facts, cipher, reference=record["reference"] if adopt else None)
    if adopt and pin:
        call.pin_hash = pins.hash(pin)  # hashed once, here
        if call.ended_at is None:
            # The call goes on: "repeat" must still find the PIN once the database is back.
            call.pending_pin_ciphertext = cipher.encrypt(pin.encode(), context=pending_pin_context(call_sid))
    if adopt and call.reference != record["reference"]:
        taken = session.scalar(select(Call.id).where(Call.reference == record["reference"]))
        if taken is None:
            call.reference = record["reference"]
    if adopt and call.reference == record["reference"]:
        call.reference_spoken = call.reference_spoken or spoken
        call.reference_heard = call.reference_heard or bool(record.get("heard"))
    if not record.get("recording_sid"):
        return None
    intake = record_intake(session, call=call, recording_sid=record["recording_sid"],
                           duration_s=record.get("duration_s"), is_ready=bool(record.get("is_ready")))
    if record.get("replaces"):
        # "Record again" while the database was down: the earlier take, if still held, is
        # discarded (its job deletes it at Twilio; a pending, ready one the sweeper enqueues).
        discard_replaced(session, call, str(record["replaces"]), intake)
    return intake.id


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
