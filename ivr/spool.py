"""The local spool: a report's facts, kept on this host's disk while the database is unreachable.

A caller must never hear a reference and PIN that are not durably stored. When the database
refuses the record step's write, the facts (call, recording, reference, PIN, region, language,
anonymity, contact) go into one file per recording: encrypted with the data key (AES-GCM, bound
to the file's name), written 0600, fsynced, renamed into place. Each web process replays its
spool into the database once it answers again; the spool dir is per host (IVR_SPOOL_DIR).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ivr.crypto import Cipher, DecryptionError

log = logging.getLogger(__name__)

SUFFIX = ".spool"
_NAME = re.compile(r"\A(CA[0-9a-f]{32})-([A-Za-z0-9]{1,40})\.spool\Z")


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


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
