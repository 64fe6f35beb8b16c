"""the thread with the reporter: messages both ways, in order, each with author, time and language

One table, `thread_messages`, keyed by the case's call. The old single message for the reporter
(case_details.reporter_message) becomes the thread's first message, unheard, so the reporter
still hears it; the column stays for the previous release (expand, then contract). Follow-up
recordings already filed become the reporter's entries, in the order they came.

The message text is re-sealed for its new column (the associated data names table and column),
with the keys `ivr db upgrade` passes in (IVR_DATA_KEY for a bare `alembic upgrade`).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 04:40:00
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
from alembic import context, op

from ivr.crypto import Cipher, text_context

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _cipher() -> Cipher:
    keys: Mapping[str, bytes] | None = context.config.attributes.get("data_keys")
    if keys is None:
        from ivr.settings import load_settings

        keys = load_settings().data_keys
    if not keys:
        raise RuntimeError("a message for a reporter is stored and no data key was given: "
                           "run `ivr db upgrade` with IVR_DATA_KEY set")
    return Cipher(dict(keys))


def upgrade() -> None:
    """Create the thread and move the old message and the follow-up recordings into it."""
    op.create_table(
        "thread_messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("call_id", sa.Integer(), sa.ForeignKey("calls.id"), nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("operator_id", sa.Integer(), sa.ForeignKey("operators.id"), nullable=True),
        sa.Column("language", sa.String(2), nullable=True),
        sa.Column("text", sa.LargeBinary(), nullable=True),
        sa.Column("audio_key", sa.String(255), nullable=True),
        sa.Column("audio_sha256", sa.String(64), nullable=True),
        sa.Column("audio_size", sa.Integer(), nullable=True),
        sa.Column("audio_duration_s", sa.Float(), nullable=True),
        sa.Column("voice", sa.String(16), nullable=True),
        sa.Column("intake_id", sa.Integer(), sa.ForeignKey("intakes.id"), nullable=True, unique=True),
        sa.Column("reply_to_id", sa.Integer(), sa.ForeignKey("thread_messages.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heard_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("times_heard", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index("ix_thread_messages_call_id", "thread_messages", ["call_id"])
    op.create_index("ix_thread_messages_reply_to_id", "thread_messages", ["reply_to_id"])
    bind = op.get_bind()
    thread = sa.table(
        "thread_messages", sa.column("call_id", sa.Integer()), sa.column("direction", sa.String()),
        sa.column("operator_id", sa.Integer()), sa.column("language", sa.String()),
        sa.column("text", sa.LargeBinary()), sa.column("intake_id", sa.Integer()),
        sa.column("created_at", sa.DateTime(timezone=True)), sa.column("times_heard", sa.Integer()),
    )
    # Every follow-up recording, with the time already stored for it (cut for anonymous calls).
    intakes = sa.table("intakes", sa.column("id", sa.Integer()), sa.column("call_id", sa.Integer()),
                       sa.column("kind", sa.String()), sa.column("created_at", sa.DateTime(timezone=True)))
    rows = bind.execute(sa.select(intakes.c.id, intakes.c.call_id, intakes.c.created_at)
                        .where(intakes.c.kind == "followup").order_by(intakes.c.id)).all()
    details = sa.table(
        "case_details", sa.column("case_id", sa.Integer()), sa.column("reporter_message", sa.LargeBinary()),
        sa.column("reporter_message_at", sa.DateTime(timezone=True)), sa.column("reporter_message_by", sa.Integer()),
    )
    cases = sa.table("cases", sa.column("id", sa.Integer()), sa.column("call_id", sa.Integer()),
                     sa.column("language", sa.String()), sa.column("created_at", sa.DateTime(timezone=True)))
    messages = bind.execute(
        sa.select(cases.c.call_id, cases.c.language, cases.c.created_at, details.c.reporter_message,
                  details.c.reporter_message_at, details.c.reporter_message_by)
        .join(cases, cases.c.id == details.c.case_id).where(details.c.reporter_message.isnot(None))
    ).all()
    cipher = _cipher() if messages else None
    entries = [
        {"call_id": call_id, "direction": "from_reporter", "operator_id": None, "language": None, "text": None,
         "intake_id": intake_id, "created_at": created_at, "times_heard": 0}
        for intake_id, call_id, created_at in rows
    ]
    for call_id, language, case_created_at, blob, written_at, written_by in messages:
        assert cipher is not None
        plain = cipher.decrypt(bytes(blob), context=text_context("case_details", "reporter_message"))
        entries.append({
            "call_id": call_id, "direction": "to_reporter", "operator_id": written_by, "language": language,
            "text": cipher.encrypt(plain, context=text_context("thread_messages", "text")), "intake_id": None,
            "created_at": written_at or case_created_at, "times_heard": 0,
        })
    entries.sort(key=lambda entry: (entry["call_id"], entry["created_at"]))
    if entries:
        op.bulk_insert(thread, entries)


def downgrade() -> None:
    """Drop the thread; the old single message is still in case_details."""
    op.drop_index("ix_thread_messages_reply_to_id", table_name="thread_messages")
    op.drop_index("ix_thread_messages_call_id", table_name="thread_messages")
    op.drop_table("thread_messages")
