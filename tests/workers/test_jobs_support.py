"""Shared parts of the worker tests: a fake Twilio API, worker deps on the test DB, fake transcribers.

Named test_jobs_support so it sits with the job tests; it holds helpers, no tests. The fixtures
(`fake_api`, `worker_settings`, `transcriber`, `deps`, `fast_retries`) are in tests/conftest.py.
"""

from __future__ import annotations

import io
import subprocess
import threading
import time
import wave
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from redis import Redis
from rq import Queue, SimpleWorker
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ivr.crypto import Cipher
from ivr.db import utc_now
from ivr.intake import CallFacts, claim_for_enqueue, ensure_call, record_intake
from ivr.models import AuditEvent, Call, Intake
from ivr.queueing import TRANSCRIBE_QUEUE, enqueue_processing
from tests.support.fake_twilio_api import FakeTwilioApi
from tests.support.twilio_sim import make_wav, new_sid
from workers.deps import WorkerDeps, set_worker_deps
from workers.transcriber import Segment, Transcript, TranscriptionFailed

__all__ = [
    "FailingTranscriber",
    "FakeTranscriber",
    "add_intake",
    "audit_actions",
    "count",
    "espeak_wav",
    "make_wav",
    "new_sid",
    "run_jobs",
]


class FakeTranscriber:
    """Says the same words for any audio; counts calls."""

    def __init__(self, text: str = "a bribe was demanded at the office") -> None:
        self.text = text
        self.calls = 0

    def transcribe(self, audio: Any, *, language: Any) -> Transcript:
        """A one-segment transcript."""
        self.calls += 1
        return Transcript(
            language=language,
            segments=(Segment(0.0, 1.0, self.text),),
            text=self.text,
            confidence=0.9,
            engine="fake",
            model="fake-1",
            duration_s=1.0,
            is_truncated=False,
        )


class FailingTranscriber(FakeTranscriber):
    """Fails the first `failures` calls (or sleeps `sleep_s` in them), then works."""

    def __init__(self, failures: int = 1, *, sleep_s: float = 0.0) -> None:
        super().__init__()
        self.failures = failures
        self.sleep_s = sleep_s

    def transcribe(self, audio: Any, *, language: Any) -> Transcript:
        """Fail, stall, or transcribe."""
        self.calls += 1
        if self.calls <= self.failures:
            if self.sleep_s:
                time.sleep(self.sleep_s)
            raise TranscriptionFailed("model failed to run")
        return super().transcribe(audio, language=language)


def use_settings(deps: WorkerDeps, **overrides: object) -> WorkerDeps:
    """Install deps whose settings differ (same DB, store and transcriber)."""
    changed = replace(deps, settings=deps.settings.model_copy(update=overrides))
    set_worker_deps(changed)
    return changed


def add_intake(
    deps: WorkerDeps,
    fake: FakeTwilioApi | None,
    *,
    audio: bytes | None = None,
    duration_s: int | None = 5,
    call_sid: str | None = None,
    call_status: str = "completed",
    language: str | None = "ru",
    is_anonymous: bool = False,
    is_urgent: bool = False,
    region_code: str | None = "02",
    contact: str | None = None,
    kind: str = "report",
    enqueue: bool = True,
) -> int:
    """A call and intake as the webhooks write them; the recording published at the fake Twilio."""
    call_sid = call_sid or new_sid("CA")
    recording_sid = new_sid("RE")
    if fake is not None:
        fake.add_recording(
            recording_sid,
            audio if audio is not None else make_wav(duration_s or 5),
            call_sid=call_sid,
            duration_s=duration_s or 0,
        )
        fake.add_call(call_sid, "+77012345678", "+77172141424", status=call_status)
    if contact is None and not is_anonymous:
        contact = "77012345678"  # a named caller left a number (without one the line keeps them anonymous)
    facts = CallFacts("public", "v1", language, is_anonymous, is_urgent, region_code, contact)
    with deps.sessions.begin() as session:
        call = ensure_call(session, call_sid, facts, Cipher(deps.settings.data_keys))
        call.status = call_status
        intake = record_intake(
            session, call=call, recording_sid=recording_sid, duration_s=duration_s, is_ready=True, kind=kind
        )
        intake_id = intake.id
        claimed = enqueue and claim_for_enqueue(session, intake_id)
    if claimed:
        enqueue_processing(deps.queue, intake_id)
    return intake_id


def set_call_status(sessions: sessionmaker[Session], intake_id: int, status: str) -> None:
    """What the call status callback does to the call."""
    with sessions.begin() as session:
        call = session.get_one(Intake, intake_id).call
        call.status = status
        call.ended_at = utc_now()


def run_jobs(queue: Queue, *, timeout_s: float = 30.0, until: Callable[[], bool] | None = None) -> None:
    """Work the queue and the transcription queue in-process (RQ's SimpleWorker, intake first) until
    they and their scheduled jobs are empty."""
    queues = [queue, Queue(TRANSCRIBE_QUEUE, connection=queue.connection)]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        SimpleWorker(queues, connection=queue.connection).work(burst=True, with_scheduler=True)
        scheduled = [i for q in queues for i in q.scheduled_job_registry.get_job_ids()]
        if until is None and not scheduled and not any(q.count for q in queues):
            return
        if until is not None and until():
            return
        time.sleep(0.2)
    raise AssertionError("jobs did not settle in time")


def count(sessions: sessionmaker[Session], model: Any, *where: Any) -> int:
    """Rows of a model matching the conditions."""
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def audit_actions(sessions: sessionmaker[Session], *, intake_id: int | None = None) -> list[str]:
    """Audit actions written by the worker, oldest first (optionally for one intake)."""
    with sessions() as session:
        query = select(AuditEvent.action).where(AuditEvent.actor == "worker").order_by(AuditEvent.id)
        if intake_id is not None:
            query = query.where(AuditEvent.intake_id == intake_id)
        return list(session.scalars(query))


def call_of(sessions: sessionmaker[Session], intake_id: int) -> Call:
    """The call row of an intake."""
    with sessions() as session:
        return session.get_one(Intake, intake_id).call


def espeak_wav(text: str, *, voice: str = "en", sample_rate: int = 8000) -> bytes:
    """Speech for `text` from espeak-ng, as Twilio would record it (8 kHz mono 16-bit WAV)."""
    spoken = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", "140", "--stdout", text], capture_output=True, check=True
    ).stdout
    resampled = subprocess.run(
        ["sox", "-t", "wav", "-", "-r", str(sample_rate), "-c", "1", "-b", "16", "-t", "wav", "-"],
        input=spoken,
        capture_output=True,
        check=True,
    ).stdout
    # sox writes a streaming header (unknown length); rewrite it so every reader agrees.
    with wave.open(io.BytesIO(resampled)) as source:
        frames = source.readframes(source.getnframes())
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(frames)
    return buffer.getvalue()


def wav_seconds(audio: bytes) -> float:
    """Length of a WAV in seconds."""
    with wave.open(io.BytesIO(audio)) as source:
        return source.getnframes() / source.getframerate()


class WebhookReceiver:
    """A tiny HTTP server that records JSON POSTs (the urgent-report webhook's far end)."""

    def __init__(self, fail_first: int = 0) -> None:
        self.bodies: list[bytes] = []
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.bodies.append(body)
                status = 500 if len(receiver.bodies) <= receiver.fail_first else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Where to POST."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/urgent"

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def redis_of(url: str) -> Redis:
    """A plain client for assertions."""
    return Redis.from_url(url)


def older(moment_s: float) -> timedelta:
    """A timedelta of `moment_s` seconds (reads better in sweeps run 'later')."""
    return timedelta(seconds=moment_s)
