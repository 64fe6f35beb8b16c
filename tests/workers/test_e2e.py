"""Whole reports end to end: a signed call through the app, a real `rq worker` process, the real
speech model on espeak-ng speech, SQLite and PostgreSQL, Twilio's REST API played by a local fake."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from ivr.models import DONE, StoredRecording, Transcript
from ivr.settings import Settings
from tests.support.fake_twilio_api import FakeTwilioApi
from tests.support.twilio_sim import Press, Silence, Talk
from tests.workers.test_e2e_support import cases, finish, intakes, simulator, start_worker
from tests.workers.test_jobs_support import add_intake, espeak_wav, run_jobs, wav_seconds
from workers.deps import WorkerDeps

LANGUAGE_KEYS = {"kk": "1", "ru": "2", "en": "3"}
ENGLISH = "The police officer demanded money from me at the hospital."


@pytest.fixture
def e2e_settings(worker_settings, fake_api):  # type: ignore[no-untyped-def]
    """These tests run the real speech model."""
    return worker_settings(transcriber="faster-whisper", transcribe_timeout_s=120)


@pytest.mark.slow
def test_english_report_from_call_to_case_with_a_real_worker_process(
    wired_app, e2e_settings: Settings, e2e_deps: WorkerDeps, fake_api: FakeTwilioApi  # type: ignore[no-untyped-def]
) -> None:
    speech = espeak_wav(ENGLISH)
    seconds = round(wav_seconds(speech))
    result = simulator(wired_app, fake_api).call(
        [Press(LANGUAGE_KEYS["en"]), Press("1"), Press("02"), Talk(seconds), Press("3"), Silence()]
    )
    [sid] = result.recordings
    fake_api.add_recording(sid, speech, call_sid=result.call_sid, duration_s=seconds)  # what the caller said

    output = finish(start_worker(e2e_settings), timeout_s=300)

    [intake] = intakes(e2e_deps.sessions)
    assert intake.status == DONE, output[-3000:]
    [case] = cases(e2e_deps.sessions)
    assert (case.language, case.region_code, case.is_anonymous, case.transcript_status) == ("en", "02", True, "done")
    with e2e_deps.sessions() as session:
        transcript = session.scalars(select(Transcript)).one()
        stored = session.scalars(select(StoredRecording)).one()
    words = (transcript.text or "").lower()
    assert all(word in words for word in ("police", "officer", "money", "hospital")), words
    assert transcript.language == "en" and transcript.engine and transcript.model
    with e2e_deps.store.open(stored.storage_key) as handle:
        assert handle.read() == speech
    assert stored.disguised_key and e2e_deps.store.exists(stored.disguised_key)
    assert fake_api.requests_matching("DELETE", f"/Recordings/{sid}.json")
    assert fake_api.requests_matching("DELETE", f"/Calls/{result.call_sid}.json")  # anonymous: log gone too
    assert not fake_api.requests_matching("GET", "/Calls/")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("ru", "Сотрудник акимата потребовал взятку за выдачу справки."),
        ("kk", "Әкімдік қызметкері анықтама беру үшін пара талап етті."),
    ],
)
def test_russian_and_kazakh_reports_get_a_transcript_or_a_marked_failure_in_time(
    e2e_deps: WorkerDeps, fake_api: FakeTwilioApi, language: str, text: str
) -> None:
    speech = espeak_wav(text, voice=language)
    intake_id = add_intake(
        e2e_deps, fake_api, audio=speech, duration_s=round(wav_seconds(speech)), language=language
    )
    started = time.monotonic()

    run_jobs(e2e_deps.queue, timeout_s=240)

    assert time.monotonic() - started < e2e_deps.settings.transcribe_timeout_s + 60
    [case] = cases(e2e_deps.sessions)
    assert case.language == language and case.transcript_status in ("done", "failed")
    with e2e_deps.sessions() as session:
        transcript = session.scalars(select(Transcript).where(Transcript.intake_id == intake_id)).one()
    assert transcript.language == language
    assert (transcript.status == "done" and transcript.text is not None) or (
        transcript.status == "failed" and transcript.error
    )
