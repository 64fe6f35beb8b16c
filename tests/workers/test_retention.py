"""Retention removes recordings, transcripts and contacts of old closed cases, and nothing else."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from ivr.db import utc_now
from ivr.models import Call, Case, StoredRecording, Transcript
from tests.support.fake_twilio_api import FakeTwilioApi
from tests.workers.test_jobs_support import add_intake, audit_actions, count, run_jobs
from workers.deps import WorkerDeps
from workers.retention import apply_retention, run_retention


def close_case(deps: WorkerDeps, call_id: int, *, days_ago: int) -> None:
    with deps.sessions.begin() as session:
        session.execute(
            update(Case)
            .where(Case.call_id == call_id)
            .values(status="closed", updated_at=utc_now() - timedelta(days=days_ago))
        )


def call_id_of(deps: WorkerDeps, intake_id: int) -> int:
    with deps.sessions() as session:
        return session.scalars(select(StoredRecording.intake)).first().call_id  # type: ignore[union-attr]


# Times here are compared across days: run at several hours of the UTC day (see the clock fixture).
pytestmark = pytest.mark.usefixtures("clock")

def test_old_closed_case_loses_recordings_transcripts_and_contact(deps: WorkerDeps, fake_api: FakeTwilioApi) -> None:
    old = add_intake(deps, fake_api, contact="+77012345678")
    young = add_intake(deps, fake_api, is_anonymous=True)
    still_open = add_intake(deps, fake_api)
    run_jobs(deps.queue)
    with deps.sessions() as session:
        calls = {s.intake_id: s.intake.call_id for s in session.scalars(select(StoredRecording))}
    close_case(deps, calls[old], days_ago=91)
    close_case(deps, calls[young], days_ago=10)
    keys_before = sorted(deps.store.keys())

    dry = run_retention(dry_run=True)

    assert dry.dry_run and dry.recordings == 1 and dry.transcripts == 1 and dry.contacts == 1
    assert sorted(deps.store.keys()) == keys_before and "case.purged" not in audit_actions(deps.sessions)

    report = run_retention()

    assert report.cases == dry.cases and len(report.cases) == 1
    assert f"intake-{old}/original.wav" not in set(deps.store.keys())
    assert f"intake-{young}/original.wav" in set(deps.store.keys())
    assert f"intake-{still_open}/original.wav" in set(deps.store.keys())
    with deps.sessions() as session:
        assert session.get_one(Call, calls[old]).contact_ciphertext is None
        assert session.scalars(select(Transcript.intake_id).order_by(Transcript.intake_id)).all() == [
            young,
            still_open,
        ]
        stored = session.scalars(select(StoredRecording).where(StoredRecording.intake_id == old)).one()
        case = session.scalars(select(Case).where(Case.call_id == calls[old])).one()
    assert stored.purged_at is not None and case.purged_at is not None and case.status == "closed"
    actions = audit_actions(deps.sessions)
    for action in ("recording.purged", "transcript.purged", "contact.purged", "case.purged"):
        assert actions.count(action) == 1, action

    again = apply_retention(deps.sessions, deps.store, days=90)
    assert again.cases == [] and count(deps.sessions, Case) == 3
