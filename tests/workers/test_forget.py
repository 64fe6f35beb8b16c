"""Twilio's log of an anonymous call is deleted, also for calls that leave no case of their own."""

from __future__ import annotations

from datetime import timedelta

from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from ivr.db import utc_now
from ivr.models import Call, Case, Intake
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL
from tests.support.fake_twilio_api import FakeTwilioApi
from tests.support.twilio_sim import FlaskTransport, Press, Silence, Talk, TwilioSimulator
from tests.workers.test_jobs_support import run_jobs
from workers.deps import WorkerDeps
from workers.sweeper import sweep
from workers.twilio_cleanup import forget_call


def simulator(app, fake: FakeTwilioApi) -> TwilioSimulator:  # type: ignore[no-untyped-def]
    return TwilioSimulator(FlaskTransport(app.test_client()), auth_token=AUTH_TOKEN, public_base_url=PUBLIC_BASE_URL,
                           account_sid=ACCOUNT_SID, fake_api=fake, api_base_url=fake.base_url)


def deletes_of(fake: FakeTwilioApi, call_sid: str) -> int:
    return len([r for r in fake.requests_matching("DELETE", f"/Calls/{call_sid}") if r.auth_ok])


def intakes_done(deps: WorkerDeps) -> bool:
    """Every intake processed and its recording gone from Twilio (forget jobs stay scheduled)."""
    from ivr.models import DONE, StoredRecording

    with deps.sessions() as session:
        intakes = session.scalars(select(Intake)).all()
        released = session.scalars(select(StoredRecording.deleted_at_twilio)).all()
        return all(i.status == DONE for i in intakes) and len(released) == len(intakes) and all(released)


def call_by_sid(deps: WorkerDeps, call_sid: str) -> Call:
    with deps.sessions() as session:
        return session.scalars(select(Call).where(Call.call_sid == call_sid)).one()


def test_dropped_anonymous_call_is_forgotten_at_twilio(app, fake_api: FakeTwilioApi, deps: WorkerDeps) -> None:
    result = simulator(app, fake_api).call([Press("2")], from_="+77019998877")
    call = call_by_sid(deps, result.call_sid)
    scheduled = ScheduledJobRegistry(queue=app.extensions["ivr"].queue).get_job_ids()
    assert f"forget-{call.id}" in scheduled

    assert forget_call(call.id) is True
    assert deletes_of(fake_api, result.call_sid) == 1
    assert call_by_sid(deps, result.call_sid).deleted_at_twilio is not None
    assert forget_call(call.id) is True and deletes_of(fake_api, result.call_sid) == 1  # idempotent


def test_followup_call_is_forgotten_only_after_its_recording_is_safe(app, fake_api: FakeTwilioApi,
                                                                     deps: WorkerDeps) -> None:
    sim = simulator(app, fake_api)
    first = sim.call([Press("2"), Press("1"), Press("02"), Talk(6), Press("3"), Silence()])
    said = first.said()
    label = app.extensions["ivr"].flows.current.message("reference_is", "ru").text
    reference = said[said.index(label) + 1].replace(", ", "").rstrip(".")
    pin = said[said.index(label) + 3].replace(", ", "").rstrip(".")
    run_jobs(deps.queue, until=lambda: intakes_done(deps))

    second = sim.call([Press("2"), Press("9"), Press(reference), Press(pin), Press("1"), Talk(5), Press("3")])
    followup_call = call_by_sid(deps, second.call_sid)
    assert followup_call.reference is None
    assert forget_call(followup_call.id) is False  # its recording is not safe yet
    assert deletes_of(fake_api, second.call_sid) == 0

    run_jobs(deps.queue, until=lambda: intakes_done(deps))
    with deps.sessions() as session:
        followup_intake = session.scalars(select(Intake).where(Intake.kind == "followup")).one()
        assert followup_intake.source_call_sid == second.call_sid
        case = session.scalars(select(Case)).one()
        assert case.has_new_info and followup_intake.call_id == case.call_id
    assert forget_call(followup_call.id) is True
    assert deletes_of(fake_api, second.call_sid) == 1


def test_sweeper_forgets_calls_whose_job_was_lost(app, fake_api: FakeTwilioApi, deps: WorkerDeps) -> None:
    result = simulator(app, fake_api).call([Press("2"), Press("1")])
    deps.redis.flushall()  # the scheduled job is gone
    call = call_by_sid(deps, result.call_sid)
    report = sweep(deps.sessions, deps.queue, settings=deps.settings, now=utc_now() + timedelta(hours=2))
    assert report.forgets == [call.id]
    run_jobs(deps.queue, until=lambda: deletes_of(fake_api, result.call_sid) == 1)
    assert deletes_of(fake_api, result.call_sid) == 1
