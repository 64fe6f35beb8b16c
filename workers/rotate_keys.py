"""Re-encrypt everything at rest with the current data key: recordings and every encrypted column.

The columns are those listed in `ivr.crypto.ENCRYPTED_COLUMNS` (contacts, report text, whatever
is added there); they are read and written as raw bytes, past the column types that decrypt them.

The key id stored with each item is the progress record. A recording file or a column value
already under the current key is skipped, so a rotation killed at any point is finished by
running it again; no item is ever half rewritten (files are replaced by rename, rows in a
transaction). Recordings: both files of a row are rewritten first, then the row's `key_id`, so a
crash in between leaves a row that the next run finds and completes.

Order of work for a deployer (the README says the same): give every process the new key as
IVR_DATA_KEY / IVR_DATA_KEY_ID with the old one in IVR_OLD_DATA_KEYS, restart, rotate until it
reports nothing left, and only then drop the old key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ivr.crypto import ENCRYPTED_COLUMNS, Cipher, EncryptedColumn
from ivr.models import StoredRecording
from ivr.storage import RecordingMissing, RecordingStore

BATCH = 200
# Called after every item handled (its name); the CLI moves its progress bar, tests stop mid-way.
Progress = Callable[[str], None]


@dataclass
class RotationReport:
    """What one run did: items rewritten, items already under the current key, problems."""

    key_id: str
    rewritten: dict[str, int] = field(default_factory=dict)
    already_current: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def count(self, part: str, *, rewritten: bool) -> None:
        """Count one item of `part`."""
        target = self.rewritten if rewritten else self.already_current
        target[part] = target.get(part, 0) + 1


def _recordings_to_do(current: str) -> Any:
    return select(StoredRecording).where(
        StoredRecording.purged_at.is_(None), StoredRecording.key_id != current
    )


def _raw(column: EncryptedColumn) -> Any:
    """The column as raw bytes: past any column type that would decrypt it on the way out."""
    extra: list[Any] = [sa.column(column.context_column)] if column.context_column else []
    return sa.table(column.table, sa.column(column.key_column), sa.column(column.column, sa.LargeBinary), *extra)


def _name(column: EncryptedColumn) -> str:
    return f"{column.table}.{column.column}"


def remaining(sessions: sessionmaker[Session], current: str,
              columns: Iterable[EncryptedColumn] = ENCRYPTED_COLUMNS) -> int:
    """Items a run will visit: recording files not yet under `current`, and column values to check."""
    with sessions() as session:
        todo = _recordings_to_do(current).subquery()
        total = session.scalar(select(func.count() + func.count(todo.c.disguised_key)).select_from(todo)) or 0
        for column in columns:
            table = _raw(column)
            total += session.scalar(
                select(func.count()).select_from(table).where(table.c[column.column].is_not(None))
            ) or 0
    return int(total)


def not_current(sessions: sessionmaker[Session], current: str,
                columns: Iterable[EncryptedColumn] = ENCRYPTED_COLUMNS) -> dict[str, int]:
    """Items still under another key, per part (the key id is at the head of every blob)."""
    found: dict[str, int] = {}
    with sessions() as session:
        found["recordings"] = session.scalar(
            select(func.count()).select_from(_recordings_to_do(current).subquery())
        ) or 0
        for column in columns:
            table = _raw(column)
            blob = table.c[column.column]
            blobs: Iterable[bytes] = session.scalars(select(blob).where(blob.is_not(None)))
            found[_name(column)] = sum(Cipher.key_id_of(bytes(value)) != current for value in blobs)
    return found


def rotate(
    sessions: sessionmaker[Session],
    store: RecordingStore,
    cipher: Cipher,
    *,
    columns: Iterable[EncryptedColumn] = ENCRYPTED_COLUMNS,
    progress: Progress | None = None,
) -> RotationReport:
    """Re-encrypt every recording and every registered column to `cipher`'s current key."""
    report = RotationReport(cipher.current_key_id)
    tick = progress or (lambda _name: None)
    _rotate_recordings(sessions, store, cipher, report, tick)
    for column in columns:
        _rotate_column(sessions, column, cipher, report, tick)
    return report


def _rotate_recordings(sessions: sessionmaker[Session], store: RecordingStore, cipher: Cipher,
                       report: RotationReport, tick: Progress) -> None:
    current, after = cipher.current_key_id, 0
    while True:
        with sessions() as session:
            rows = [(r.id, r.storage_key, r.disguised_key) for r in session.scalars(
                _recordings_to_do(current).where(StoredRecording.id > after).order_by(StoredRecording.id).limit(BATCH)
            )]
        if not rows:
            return
        for row_id, *keys in rows:
            after = row_id
            try:
                for key in filter(None, keys):
                    report.count("recordings", rewritten=store.rekey(key))
                    tick(key)
            except RecordingMissing as missing:
                report.problems.append(f"stored recording {row_id}: file {missing} is missing")
                continue
            with sessions.begin() as session:
                session.get_one(StoredRecording, row_id).key_id = current


def _rotate_column(sessions: sessionmaker[Session], column: EncryptedColumn, cipher: Cipher,
                   report: RotationReport, tick: Progress) -> None:
    current, after, name = cipher.current_key_id, None, _name(column)
    table = _raw(column)
    key, blob_column = table.c[column.key_column], table.c[column.column]
    wanted = [key, blob_column] + ([table.c[column.context_column]] if column.context_column else [])
    while True:
        query = select(*wanted).where(blob_column.is_not(None)).order_by(key).limit(BATCH)
        if after is not None:
            query = query.where(key > after)
        # One transaction per batch: a crash loses at most the batch in flight, which is redone.
        with sessions.begin() as session:
            rows = list(session.execute(query).mappings())
            if not rows:
                return
            for row in rows:
                after = row[column.key_column]
                blob = bytes(row[column.column])
                done = Cipher.key_id_of(blob) == current
                if not done:
                    context = column.context(dict(row))
                    fresh = cipher.encrypt(cipher.decrypt(blob, context=context), context=context)
                    # Only if nobody rewrote it meanwhile (a running process writes with the new key).
                    session.execute(sa.update(table).where(key == after, blob_column == blob).values(
                        {column.column: fresh}))
                report.count(name, rewritten=not done)
                tick(name)
