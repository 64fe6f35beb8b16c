"""Retention takes the thread's words and audio with the rest of an old closed case; who and when stay."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ivr.models import StoredRecording, ThreadMessage
from tests.support.fake_twilio_api import FakeTwilioApi
from tests.support.twilio_sim import make_wav
from tests.workers.test_jobs_support import add_intake, audit_actions, run_jobs
from tests.workers.test_retention import close_case
from workers.deps import WorkerDeps
from workers.retention import run_retention

pytestmark = pytest.mark.usefixtures("clock")


def test_old_closed_case_loses_its_thread_text_and_audio(deps: WorkerDeps, fake_api: FakeTwilioApi) -> None:
    intake_id = add_intake(deps, fake_api)
    run_jobs(deps.queue)
    with deps.sessions() as session:
        call_id = session.scalars(select(StoredRecording).where(StoredRecording.intake_id == intake_id)).one() \
            .intake.call_id
    key = deps.store.put("thread/retention-test.wav", make_wav(1.5)).key
    with deps.sessions.begin() as session:
        session.add(ThreadMessage(call_id=call_id, direction="to_reporter", language="ru", text="Перезвоните."))
        session.add(ThreadMessage(call_id=call_id, direction="to_reporter", language="kk", audio_key=key,
                                  voice="operator"))
    close_case(deps, call_id, days_ago=91)

    run_retention()

    assert key not in set(deps.store.keys())
    with deps.sessions() as session:
        rows = list(session.scalars(select(ThreadMessage).where(ThreadMessage.call_id == call_id)))
    assert [(m.text, m.audio_key, m.language) for m in rows] == [(None, None, "ru"), (None, None, "kk")]
    assert audit_actions(deps.sessions).count("thread.purged") == 1
