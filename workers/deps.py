"""What the jobs need (database, recording store, transcriber, HTTP, queue), built once per process."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import requests
from redis import Redis
from rq import Queue
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ivr.call_times import remember_settings
from ivr.db import engine_for, make_sessionmaker
from ivr.queueing import make_redis
from ivr.settings import Settings, load_settings

if TYPE_CHECKING:
    from ivr.storage import RecordingStore
    from workers.transcriber import Transcriber

# Workers talk to Redis from a data centre, not from a webhook: wait longer than the web side.
REDIS_TIMEOUT_S = 10.0


def make_worker_redis(url: str) -> Redis:
    """A Redis client for workers, the sweeper and the CLI (plain or Sentinel-managed, as the URL says)."""
    return make_redis(url, timeout_s=REDIS_TIMEOUT_S, patient=True)


@dataclass
class WorkerDeps:
    """Sessions, store, HTTP session, queue and a lazily loaded transcriber."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    store: RecordingStore
    http: requests.Session
    redis: Redis
    transcriber_factory: Callable[[], Transcriber | None]
    pid: int = field(default_factory=os.getpid)
    _transcriber: Transcriber | None = field(default=None, init=False)
    _transcriber_loaded: bool = field(default=False, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerDeps:
        """Everything built from settings; the speech model loads on first use."""
        from ivr.storage import make_recording_store
        from workers.transcriber import make_transcriber

        engine = engine_for(settings)
        http = requests.Session()
        http.trust_env = False  # recordings go straight to Twilio, never through an env proxy
        return cls(
            settings=settings,
            engine=engine,
            sessions=remember_settings(make_sessionmaker(engine), settings),
            store=make_recording_store(settings),
            http=http,
            redis=make_worker_redis(settings.redis_url),
            transcriber_factory=lambda: make_transcriber(settings),
        )

    @property
    def transcriber(self) -> Transcriber | None:
        """The speech model, loaded once; None when transcription is switched off."""
        with self._lock:
            if not self._transcriber_loaded:
                self._transcriber = self.transcriber_factory()
                self._transcriber_loaded = True
            return self._transcriber

    @property
    def queue(self) -> Queue:
        """The intake queue, for the follow-up jobs a job schedules."""
        return Queue(self.settings.queue_name, connection=self.redis)

    @property
    def transcribe_queue(self) -> Queue:
        """The transcription queue: its own workers and retries, never ahead of a case."""
        return Queue(self.settings.transcribe_queue_name, connection=self.redis)

    def after_fork(self) -> None:
        """Drop connections inherited from a parent process (RQ forks a work horse per job)."""
        self.engine.dispose(close=False)
        self.http = requests.Session()
        self.http.trust_env = False
        self.pid = os.getpid()

    def close(self) -> None:
        """Release connections."""
        self.http.close()
        self.engine.dispose()
        self.redis.close()


_deps: WorkerDeps | None = None
_deps_lock = threading.Lock()


def worker_deps() -> WorkerDeps:
    """This process's dependencies, built from the environment on first use."""
    global _deps
    with _deps_lock:
        if _deps is None:
            _deps = WorkerDeps.from_settings(load_settings())
        elif _deps.pid != os.getpid():
            _deps.after_fork()
        return _deps


def set_worker_deps(deps: WorkerDeps | None) -> None:
    """Install dependencies (tests), or None to build them from the environment next time."""
    global _deps
    with _deps_lock:
        _deps = deps
