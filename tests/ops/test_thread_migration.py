"""Migration 0011: the old single message for the reporter and the follow-up recordings become the thread."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import select

from ivr.crypto import Cipher, text_context
from ivr.db import make_engine
from ivr.migrations import upgrade
from ivr.models import ThreadMessage
from ivr.settings import Settings


def test_the_old_message_and_followups_move_into_the_thread(make_settings: Callable[..., Settings],
                                                            tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'before_0011.db'}"
    keys = make_settings(database_url=url).data_keys
    upgrade(url, "0010", data_keys=keys)
    cipher = Cipher(dict(keys))
    engine = sa.create_engine(url)
    at = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    with engine.begin() as db:
        db.execute(sa.text("INSERT INTO calls (id, call_sid, flow_name, flow_version, language, is_anonymous, "
                           "is_urgent, pin_failures, status, is_recovered, started_at) VALUES (1, 'CA1', 'public', "
                           "'v1', 'kk', :t, :f, 0, 'completed', :f, :at)"), {"t": True, "f": False, "at": at})
        for intake_id, kind in ((1, "report"), (2, "followup")):
            db.execute(sa.text("INSERT INTO intakes (id, recording_sid, call_id, kind, status, is_ready, attempts, "
                               "created_at, updated_at) VALUES (:i, :sid, 1, :k, 'done', :t, 1, :at, :at)"),
                       {"i": intake_id, "sid": f"RE{intake_id}", "k": kind, "t": True, "at": at})
        db.execute(sa.text("INSERT INTO cases (id, call_id, reference, status, is_urgent, language, is_anonymous, "
                           "has_new_info, is_recovered, transcript_status, created_at, updated_at) VALUES "
                           "(1, 1, '12345678', 'in_review', :f, 'kk', :t, :f, :f, 'done', :at, :at)"),
                   {"t": True, "f": False, "at": at})
        blob = cipher.encrypt("Хабарласыңыз.".encode(), context=text_context("case_details", "reporter_message"))
        db.execute(sa.text("INSERT INTO case_details (case_id, reporter_message, reporter_message_at, updated_at) "
                           "VALUES (1, :m, :later, :later)"), {"m": blob, "later": at.replace(hour=11)})
    engine.dispose()

    upgrade(url, "0011", data_keys=keys)
    orm = make_engine(url, data_keys=keys)
    with orm.connect() as db:
        rows = list(db.execute(select(ThreadMessage.direction, ThreadMessage.intake_id, ThreadMessage.text,
                                      ThreadMessage.language, ThreadMessage.heard_at).order_by(ThreadMessage.id)))
    orm.dispose()
    # In time order: the follow-up at 09:00, the message at 11:00, unheard so the reporter still hears it.
    assert [tuple(r) for r in rows] == [("from_reporter", 2, None, None, None),
                                       ("to_reporter", None, "Хабарласыңыз.", "kk", None)]
