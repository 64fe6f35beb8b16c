"""An anonymous report becomes a case even when its voice disguise fails; the disguise is retried on its own."""

from __future__ import annotations

import pytest
from rq.job import Job
from sqlalchemy import select

from ivr.models import DONE, Case, Intake, StoredRecording
from tests.support.fake_twilio_api import FakeTwilioApi
from tests.workers.test_jobs_support import add_intake, audit_actions, run_jobs
from workers import intake
from workers.audio import VoiceDisguiseUnavailable
from workers.deps import WorkerDeps
from workers.sweeper import sweep


def stored(deps: WorkerDeps) -> StoredRecording:
    with deps.sessions() as session:
        return session.scalars(select(StoredRecording)).one()


def test_a_failing_disguise_opens_the_case_and_is_retried_on_its_own(
    deps: WorkerDeps, fake_api: FakeTwilioApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = intake.disguise_voice

    def broken(audio: bytes) -> bytes:
        raise VoiceDisguiseUnavailable("the pedalboard package is not installed")

    monkeypatch.setattr(intake, "disguise_voice", broken)
    intake_id = add_intake(deps, fake_api, is_anonymous=True, duration_s=4, enqueue=False)

    intake.process_intake(intake_id)

    with deps.sessions() as session:
        assert session.get_one(Intake, intake_id).status == DONE
        assert session.scalars(select(Case)).one().is_anonymous  # operators see it; the original needs the unlock
    assert stored(deps).disguised_key is None
    job = Job.fetch(f"disguise-{intake_id}", connection=deps.redis)
    assert job.func_name == "workers.intake.disguise_intake" and job.args == (intake_id,)

    monkeypatch.setattr(intake, "disguise_voice", real)
    run_jobs(deps.queue)

    row = stored(deps)
    assert row.disguised_key == f"intake-{intake_id}/disguised.wav" and deps.store.exists(row.disguised_key)
    assert audit_actions(deps.sessions, intake_id=intake_id).count("recording.disguised") == 1


def test_the_sweeper_schedules_a_missing_disguise(deps: WorkerDeps, fake_api: FakeTwilioApi,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(intake, "disguise_voice", lambda audio: (_ for _ in ()).throw(VoiceDisguiseUnavailable("x")))
    intake_id = add_intake(deps, fake_api, is_anonymous=True, duration_s=3, enqueue=False)
    intake.process_intake(intake_id)
    deps.queue.connection.flushdb()  # Redis lost the disguise job

    report = sweep(deps.sessions, deps.queue, settings=deps.settings)

    assert report.disguises == [intake_id]
    assert Job.fetch(f"disguise-{intake_id}", connection=deps.redis).args == (intake_id,)
