"""Issue 11, item 6: "record again" replaces the first take — one intake per report, one case,
and no recording left behind at Twilio (the replaced take is deleted there by the job chain,
even when Redis was down during the call).

Signed webhooks from the Twilio player, the fake Twilio REST API, jobs run in-process by RQ's
worker on the real Redis, SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select

from ivr.cases.case import case_view
from ivr.db import utc_now
from ivr.intake import CallFacts, ensure_call, record_intake
from ivr.models import DONE, QUEUED, AuditEvent, Case, StoredRecording
from ivr.retakes import DISCARDED, HELD_AT_MOST_S
from ivr.settings import Settings
from ivr.twilio_standin.player import Hangup, Input, Press, Silence, Talk, make_wav, new_sid
from ivr.twilio_standin.rest_api import FakeTwilioApi
from ivr.voice import credentials
from tests.support.services import RedisServer
from tests.workers.test_e2e_support import cases, intakes, simulator
from tests.workers.test_jobs_support import run_jobs
from workers.deps import WorkerDeps
from workers.sweeper import sweep

# English, anonymous, Almaty by its code, a first take, "record again" (2), a second take.
UP_TO_REVIEW: list[Input] = [Press("3"), Press("1"), Press("02"), Talk(5)]
RECORD_AGAIN: list[Input] = [Press("2"), Talk(7)]


class Checked:
    """A scripted caller that runs a check just before giving the n-th answer."""

    def __init__(self, script: Sequence[Input], checks: dict[int, Callable[[], None]]) -> None:
        self.script, self.checks, self.given = list(script), checks, 0

    def answer(self, verb: str, attrs: dict[str, str]) -> Input:
        if self.given >= len(self.script):
            return Silence()
        if verb == "Gather" and isinstance(self.script[self.given], Talk):
            return Silence()  # the guidance before the beep plays out, as a scripted caller lets it
        index, self.given = self.given, self.given + 1
        if index in self.checks:
            self.checks[index]()
        return self.script[index]


def _stored(deps: WorkerDeps, intake_id: int) -> StoredRecording | None:
    with deps.sessions() as session:
        return session.scalars(select(StoredRecording).where(StoredRecording.intake_id == intake_id)).first()


def _assert_one_report(deps: WorkerDeps, fake_api: FakeTwilioApi, call_sid: str, first: str, second: str) -> None:
    """One case from the second take; the first deleted at Twilio without a copy here or a case."""
    rows = {i.recording_sid: i for i in intakes(deps.sessions)}
    assert set(rows) == {first, second}
    replaced, kept = rows[first], rows[second]
    assert (replaced.kind, replaced.status, replaced.is_held) == (DISCARDED, DONE, False)
    assert (kept.kind, kept.status, kept.is_held) == ("report", DONE, False)
    assert _stored(deps, replaced.id) is None
    assert not deps.store.exists(f"intake-{replaced.id}/original.wav")
    stored = _stored(deps, kept.id)
    assert stored is not None and stored.deleted_at_twilio is not None
    [case] = cases(deps.sessions)
    with deps.sessions() as session:
        view = case_view(session, session.get_one(Case, case.id))
        opened = session.scalars(select(AuditEvent.intake_id).where(AuditEvent.action == "case.opened")).all()
        updated = session.scalars(select(AuditEvent.id).where(AuditEvent.action == "case.updated")).all()
    assert [r.intake.recording_sid for r in view.recordings] == [second]
    assert opened == [kept.id] and not updated and not case.has_new_info
    assert case.transcript_status != "pending"  # the replaced take waits for no transcript
    deleted = fake_api.deleted()
    assert first in deleted and second in deleted  # nothing of the call left at Twilio
    assert call_sid in deleted  # anonymous: the call's log goes too, after both recordings
    assert set(fake_api.recording_sids()).isdisjoint({first, second})


def test_record_again_keeps_one_report_and_deletes_the_first_take_at_twilio(
    wired_app: Flask, e2e_deps: WorkerDeps, fake_api: FakeTwilioApi
) -> None:
    def held_at_first_review() -> None:
        [take] = intakes(e2e_deps.sessions)
        # Filed and ready, but the caller may still record it again: nothing on the queue yet.
        assert take.is_ready and take.is_held and take.status != QUEUED
        assert e2e_deps.queue.count == 0

    def first_discarded_at_second_review() -> None:
        first, second = intakes(e2e_deps.sessions)
        assert (first.kind, first.status) == (DISCARDED, QUEUED)  # its deletion is on its way
        assert second.is_held and second.kind == "report"

    script: list[Input] = [*UP_TO_REVIEW, *RECORD_AGAIN, Press("3"), Silence()]
    caller = Checked(script, {4: held_at_first_review, 6: first_discarded_at_second_review})
    result = simulator(wired_app, fake_api).call(caller)
    assert result.ended_by == "hangup-verb"
    first, second = result.recordings

    run_jobs(e2e_deps.queue)

    _assert_one_report(e2e_deps, fake_api, result.call_sid, first, second)


def test_a_caller_who_hangs_up_after_recording_again_with_redis_down_still_leaves_nothing_at_twilio(
    wired_app: Flask, e2e_settings: Settings, e2e_deps: WorkerDeps, fake_api: FakeTwilioApi,
    redis_server: RedisServer,
) -> None:
    redis_server.stop()
    try:
        result = simulator(wired_app, fake_api).call([*UP_TO_REVIEW, *RECORD_AGAIN, Hangup()])
    finally:
        redis_server.start()
    first, second = result.recordings
    # Both rows are in the outbox: the kept take sent by the hang-up, the first one discarded.
    rows = {i.recording_sid: i for i in intakes(e2e_deps.sessions)}
    assert rows[first].kind == DISCARDED and not rows[second].is_held
    assert all(i.status == "pending" for i in rows.values())

    swept = sweep(e2e_deps.sessions, e2e_deps.queue, settings=e2e_settings)
    assert sorted(swept.enqueued) == sorted(i.id for i in rows.values())
    run_jobs(e2e_deps.queue)

    _assert_one_report(e2e_deps, fake_api, result.call_sid, first, second)


def test_a_take_too_short_is_replaced_by_the_one_recorded_after_it(
    wired_app: Flask, e2e_deps: WorkerDeps, fake_api: FakeTwilioApi
) -> None:
    script: list[Any] = [Press("3"), Press("1"), Press("02"), Talk(1), Talk(6), Press("3"), Silence()]
    result = simulator(wired_app, fake_api).call(script)
    short, full = result.recordings

    run_jobs(e2e_deps.queue)

    _assert_one_report(e2e_deps, fake_api, result.call_sid, short, full)


def test_a_caller_who_hangs_up_at_the_review_still_files_the_first_take(
    wired_app: Flask, e2e_deps: WorkerDeps, fake_api: FakeTwilioApi
) -> None:
    result = simulator(wired_app, fake_api).call([*UP_TO_REVIEW, Hangup()])
    [sid] = result.recordings
    [take] = intakes(e2e_deps.sessions)
    assert not take.is_held and take.status == QUEUED  # the call's end sent it

    run_jobs(e2e_deps.queue)

    [case] = cases(e2e_deps.sessions)
    assert case.region_code == "02" and sid in fake_api.deleted()


def test_a_take_whose_call_end_never_came_is_sent_by_the_sweeper_after_a_while(
    wired_app: Flask, e2e_settings: Settings, e2e_deps: WorkerDeps, fake_api: FakeTwilioApi
) -> None:
    player = simulator(wired_app, fake_api)
    player.call_status_path = None  # Twilio's call status callback is lost
    result = player.call([*UP_TO_REVIEW, Hangup()])
    [take] = intakes(e2e_deps.sessions)
    assert take.is_held  # the line cannot tell a hang-up from a long listen

    early = sweep(e2e_deps.sessions, e2e_deps.queue, settings=e2e_settings)
    assert not early.released_holds and not early.enqueued
    later = utc_now() + timedelta(seconds=HELD_AT_MOST_S + 1)
    swept = sweep(e2e_deps.sessions, e2e_deps.queue, settings=e2e_settings, now=later)
    assert swept.released_holds == [take.id] and swept.enqueued == [take.id]
    # The case opens; Twilio's copy waits for the call to be over (a release re-check is scheduled).
    run_jobs(e2e_deps.queue, until=lambda: bool(cases(e2e_deps.sessions)))

    [case] = cases(e2e_deps.sessions)
    assert case.region_code == "02" and result.recordings


def test_record_again_while_the_database_is_down_is_applied_when_the_spool_is_filed(
    wired_app: Flask, e2e_deps: WorkerDeps, fake_api: FakeTwilioApi
) -> None:
    svc = wired_app.extensions["ivr"]
    call_sid, first, second = new_sid("CA"), new_sid("RE"), new_sid("RE")
    for sid in (first, second):
        fake_api.add_recording(sid, make_wav(5), call_sid=call_sid, duration_s=5)
    facts = CallFacts("public", "v1", "ru", True, False, "02", None)
    with e2e_deps.sessions.begin() as session:  # the first take, filed and held at the review menu
        call = ensure_call(session, call_sid, facts, svc.cipher)
        record_intake(session, call=call, recording_sid=first, duration_s=5, is_ready=True, is_held=True)
    # The database is down when the second take comes: this host's spool keeps it, and what it replaces.
    credentials.spool_report(svc, call_sid, facts, second, 6, is_ready=True, pin_digits=6, replaces=first)

    assert credentials.replay(svc) == 1
    rows = {i.recording_sid: i for i in intakes(e2e_deps.sessions)}
    assert rows[first].kind == DISCARDED and not rows[first].is_held
    sweep(e2e_deps.sessions, e2e_deps.queue, settings=e2e_deps.settings)
    run_jobs(e2e_deps.queue, until=lambda: first in fake_api.deleted() and bool(cases(e2e_deps.sessions)))

    [case] = cases(e2e_deps.sessions)
    with e2e_deps.sessions() as session:
        view = case_view(session, session.get_one(Case, case.id))
    assert [r.intake.recording_sid for r in view.recordings] == [second]
    assert _stored(e2e_deps, rows[first].id) is None
