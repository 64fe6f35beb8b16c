"""Reconciliation files recordings Twilio holds but no callback told us about, never reading a number."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from ivr.db import utc_now
from ivr.models import DONE, Call, Case, Intake
from tests.support.fake_twilio_api import FakeTwilioApi
from tests.workers.test_jobs_support import add_intake, audit_actions, count, make_wav, new_sid, run_jobs
from workers.deps import WorkerDeps
from workers.reconcile import reconcile

CALLER = "+77012345678"


# Times here are compared across days: run at several hours of the UTC day (see the clock fixture).
pytestmark = pytest.mark.usefixtures("clock")

def test_unknown_recording_becomes_a_recovered_case(deps: WorkerDeps, fake_api: FakeTwilioApi) -> None:
    call_sid, sid = new_sid("CA"), new_sid("RE")
    fake_api.add_call(call_sid, CALLER, "+77172141424", "completed")
    fake_api.add_recording(
        sid, make_wav(7), call_sid=call_sid, duration_s=7, date_created=utc_now() - timedelta(hours=3)
    )

    report = reconcile()

    assert report.listed == 1 and len(report.recovered) == 1
    with deps.sessions() as session:
        intake = session.scalars(select(Intake)).one()
        call = intake.call
        assert (intake.kind, intake.recording_sid, intake.duration_s) == ("recovered", sid, 7)
        assert call.is_recovered and call.is_anonymous and call.language is None and call.region_code is None
        assert call.contact_ciphertext is None
    run_jobs(deps.queue)
    with deps.sessions() as session:
        case = session.scalars(select(Case)).one()
        assert case.is_recovered and session.get_one(Intake, intake.id).status == DONE
    assert not fake_api.has_recording(sid) and fake_api.call(call_sid) is None  # both deleted at Twilio
    # The Call resource (which holds From) is never read, only deleted.
    assert [r.method for r in fake_api.requests_matching(path_contains="/Calls/")] == ["DELETE"]
    assert "intake.recovered" in audit_actions(deps.sessions)


def test_known_and_very_recent_recordings_are_left_alone(deps: WorkerDeps, fake_api: FakeTwilioApi) -> None:
    add_intake(deps, fake_api, enqueue=False)  # known: filed by the webhooks
    fake_api.add_recording(new_sid("RE"), make_wav(3), call_sid=new_sid("CA"), duration_s=3)  # callbacks due
    old = utc_now() - timedelta(hours=72)
    fake_api.add_recording(new_sid("RE"), make_wav(3), call_sid=new_sid("CA"), duration_s=3, date_created=old)

    report = reconcile(hours=48)

    assert report.recovered == [] and report.too_recent == 1 and report.listed == 2
    assert count(deps.sessions, Intake) == 1 and count(deps.sessions, Call) == 1


def test_reconcile_twice_files_once(deps: WorkerDeps, fake_api: FakeTwilioApi) -> None:
    fake_api.add_recording(
        new_sid("RE"),
        make_wav(3),
        call_sid=new_sid("CA"),
        duration_s=3,
        date_created=utc_now() - timedelta(hours=1),
    )
    assert len(reconcile().recovered) == 1
    assert reconcile().recovered == []
    assert count(deps.sessions, Intake) == 1
