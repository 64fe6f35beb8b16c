"""Retention keeps what proof of authorship needs for forwarded and investigated cases, and removes the PIN
hash of the others with the rest (issue 13.6; README "Proof of authorship"), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from ivr import accounts
from ivr.accounts import Principal
from ivr.cases import authorship
from ivr.cases.followup import GuessLimits
from ivr.cases.reference import PinHasher
from ivr.cases.referrals import report_fingerprint
from ivr.db import utc_now
from ivr.models import Call, Case, CaseDetail, CaseReferral, StoredRecording
from tests.support.fake_twilio_api import FakeTwilioApi
from tests.workers.test_jobs_support import add_intake, audit_actions, run_jobs
from workers.deps import WorkerDeps
from workers.retention import run_retention

pytestmark = pytest.mark.usefixtures("clock")
PIN = "730412"


def test_forwarded_and_investigated_cases_keep_their_proof_past_retention(
    deps: WorkerDeps, fake_api: FakeTwilioApi
) -> None:
    intakes = {name: add_intake(deps, fake_api, is_anonymous=True) for name in ("plain", "forwarded", "investigated")}
    run_jobs(deps.queue)
    pins = PinHasher(deps.settings.data_keys)
    with deps.sessions.begin() as session:
        supervisor = accounts.create_operator(session, username="dana", password="correct horse battery",
                                              role="supervisor")
        calls = {s.intake_id: s.intake.call_id for s in session.scalars(select(StoredRecording))}
        cases = {name: session.scalars(select(Case).where(Case.call_id == calls[intake])).one()
                 for name, intake in intakes.items()}
        for case in cases.values():
            session.execute(update(Call).where(Call.id == case.call_id).values(pin_hash=pins.hash(PIN)))
        session.add(CaseReferral(case_id=cases["forwarded"].id, recipient_code="agency-02",
                                 recipient_names={"ru": "Департамент"}, forwarded_by=supervisor.id))
        session.add(CaseDetail(case_id=cases["investigated"].id, investigation_at=utc_now(),
                               investigation_by=supervisor.id))
        session.flush()
        fingerprints = {name: report_fingerprint(session, case) for name, case in cases.items()}
        ids = {name: (case.id, case.call_id, case.reference) for name, case in cases.items()}
        principal = Principal.of(supervisor)
        session.execute(update(Case).values(status="closed", updated_at=utc_now() - timedelta(days=91)))

    report = run_retention()

    assert sorted(report.cases) == sorted(case_id for case_id, _, _ in ids.values())
    assert report.pins == 1 and report.proofs_kept == 2
    with deps.sessions() as session:
        hashes = {name: session.get_one(Call, call_id).pin_hash for name, (_, call_id, _) in ids.items()}
        after = {name: report_fingerprint(session, session.get_one(Case, case_id))
                 for name, (case_id, _, _) in ids.items()}
    assert hashes["plain"] is None and hashes["forwarded"] and hashes["investigated"]
    assert after == fingerprints  # the recordings are gone, their checksums (the fingerprint) are not
    actions = audit_actions(deps.sessions)
    assert actions.count("authorship.purged") == 1 and actions.count("authorship.kept") == 2

    # Years later the reporter of the investigated case proves authorship; the plain one cannot.
    limits = GuessLimits()
    verified = authorship.verify(deps.sessions, pins, principal, ids["investigated"][2] or "", PIN, limits=limits)
    assert verified is not None and verified.fingerprint == fingerprints["investigated"] and verified.was_anonymous
    assert verified.investigation_at is not None and verified.status == "closed"
    assert authorship.verify(deps.sessions, pins, principal, ids["plain"][2] or "", PIN, limits=limits) is None
