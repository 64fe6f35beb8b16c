"""report text encrypted at rest: transcripts, notes and the message for the reporter

Each column becomes binary and every stored value is encrypted with the data key (AES-256-GCM,
key id at the head of the blob, associated data naming the table and column), as the models'
EncryptedText and EncryptedJSON types write them from now on.

The keys come from `ivr.migrations.upgrade(url, data_keys=...)`, which `ivr db upgrade` and
`ivr up` call with the configured settings; a bare `alembic upgrade` reads them from the
environment (IVR_DATA_KEY, IVR_OLD_DATA_KEYS). A database with report text and no key refuses
the upgrade before changing anything. Afterwards `upgrade()` compacts the tables (VACUUM), so
the old plain values do not linger in free pages or dropped columns.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 01:30:00
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from ivr.crypto import Cipher, text_context

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# table -> its key column and [(column, is_json, nullable)], as the earlier migrations made them.
COLUMNS: dict[str, tuple[str, list[tuple[str, bool, bool]]]] = {
    "transcripts": ("id", [("text", False, True), ("segments", True, False)]),
    "case_notes": ("id", [("text", False, False)]),
    "case_details": ("case_id", [("reporter_message", False, True)]),
}
SEALED = "{}_sealed"


def _plain_type(is_json: bool) -> sa.types.TypeEngine[Any]:
    return sa.JSON() if is_json else sa.Text()


def _count_values(table: str, columns: list[tuple[str, bool, bool]]) -> int:
    bind = op.get_bind()
    found = sa.or_(*(sa.column(name).isnot(None) for name, _, _ in columns))
    return int(bind.execute(sa.select(sa.func.count()).select_from(sa.table(table)).where(found)).scalar_one())


def _cipher() -> Cipher:
    keys: Mapping[str, bytes] | None = context.config.attributes.get("data_keys")
    if keys is None:  # a bare `alembic upgrade`: the keys of the environment, as every process reads them
        from ivr.settings import load_settings

        keys = load_settings().data_keys
    if not keys:
        raise RuntimeError(
            "report text is stored in this database and no data key was given to encrypt it: "
            "run `ivr db upgrade` with IVR_DATA_KEY set"
        )
    return Cipher(dict(keys))


def _rewrite(table: str, *, seal: bool, cipher: Cipher | None) -> None:
    """Copy each column into its new-typed twin (sealing or opening it), then swap the two."""
    key, columns = COLUMNS[table]
    bind = op.get_bind()
    new_type = (lambda is_json: sa.LargeBinary()) if seal else _plain_type
    with op.batch_alter_table(table) as batch:
        for name, is_json, _ in columns:
            batch.add_column(sa.Column(SEALED.format(name), new_type(is_json), nullable=True))
    if cipher is not None:
        for name, is_json, _ in columns:
            old_type = _plain_type(is_json) if seal else sa.LargeBinary()
            twin = sa.column(SEALED.format(name), new_type(is_json))
            rows = sa.table(table, sa.column(key), sa.column(name, old_type), twin)
            ctx = text_context(table, name)
            for row_key, value in bind.execute(sa.select(rows.c[key], rows.c[name]).where(rows.c[name].isnot(None))):
                if seal:
                    plain = json.dumps(value, ensure_ascii=False, separators=(",", ":")) if is_json else value
                    new: Any = cipher.encrypt(plain.encode(), context=ctx)
                else:
                    text = cipher.decrypt(bytes(value), context=ctx).decode()
                    new = json.loads(text) if is_json else text
                bind.execute(sa.update(rows).where(rows.c[key] == row_key).values({SEALED.format(name): new}))
    with op.batch_alter_table(table) as batch:
        for name, is_json, nullable in columns:
            batch.drop_column(name)
            batch.alter_column(
                SEALED.format(name), new_column_name=name, existing_type=new_type(is_json), nullable=nullable
            )


def _migrate(*, seal: bool) -> None:
    counts = {table: _count_values(table, columns) for table, (_, columns) in COLUMNS.items()}
    # Check for the key before the first change: SQLite cannot roll back a half-done schema change.
    cipher = _cipher() if any(counts.values()) else None
    for table in COLUMNS:
        _rewrite(table, seal=seal, cipher=cipher if counts[table] else None)
    if cipher is not None:
        # ivr.migrations.upgrade() compacts these once the transaction is over (VACUUM cannot run in one).
        context.config.attributes["compact_tables"] = sorted(t for t, n in counts.items() if n)


def upgrade() -> None:
    _migrate(seal=True)


def downgrade() -> None:
    _migrate(seal=False)
