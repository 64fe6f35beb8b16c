"""A reporter's spoken answer goes the whole normal way: stored, transcribed, shown under the question, case flagged.

Signed webhooks from the Twilio player, the fake Twilio REST API serving the recordings, the
jobs run in-process by RQ's worker on the real Redis, SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ivr.cases import thread
from ivr.models import Call, Case, ThreadMessage, Transcript
from ivr.twilio_standin.player import Press, Silence, Talk
from ivr.twilio_standin.rest_api import FakeTwilioApi
from tests.voice.test_followup import msg, spoken_after
from tests.workers.test_e2e_support import simulator
from tests.workers.test_jobs_support import run_jobs
from workers.deps import WorkerDeps


def _transcribed(deps: WorkerDeps, count: int) -> bool:
    """The worker has opened the case and transcribed `count` recordings."""
    with deps.sessions() as session:
        done = session.scalars(select(Transcript).where(Transcript.status == "done")).all()
        return len(done) >= count and session.scalars(select(Case)).first() is not None


def test_an_answer_is_transcribed_shown_under_the_question_and_flags_the_case(
    app: Any, deps: WorkerDeps, fake_api: FakeTwilioApi, transcriber: Any
) -> None:
    twilio = simulator(app, fake_api)
    said = twilio.call([Press("2"), Press("1"), Press("02"), Talk(20), Press("3"), Silence()]).said()
    reference, pin = spoken_after(said, msg(app, "reference_is")), spoken_after(said, msg(app, "pin_is"))
    run_jobs(deps.queue, until=lambda: _transcribed(deps, 1))
    with deps.sessions.begin() as session:
        call = session.scalars(select(Call).where(Call.reference == reference)).one()
        case = session.scalars(select(Case).where(Case.call_id == call.id)).one()
        assert not case.has_new_info
        question = ThreadMessage(call_id=call.id, direction="to_reporter", language="ru",
                                 text="В каком кабинете это было?")
        session.add(question)
        session.flush()
        question_id, case_id = question.id, case.id

    transcriber.text = "в кабинете номер двенадцать"
    result = twilio.call([Press("2"), Press("9"), Press(reference), Press(pin), Press("1"), Talk(9), Press("3")],
                         from_="+77017775566")
    assert "В каком кабинете это было?" in result.said() and msg(app, "reply_received") in result.said()
    run_jobs(deps.queue, until=lambda: _transcribed(deps, 2))

    with deps.sessions() as session:
        case = session.get_one(Case, case_id)
        assert case.has_new_info  # the case is flagged as having new information
        [entry] = thread.thread_of(session, case)
        assert entry.message.id == question_id and entry.message.heard_at is not None
        [reply] = entry.replies
        assert reply.message.direction == "from_reporter"
        assert reply.transcript is not None and reply.transcript.text == "в кабинете номер двенадцать"
