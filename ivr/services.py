"""What the web app's views need, built once from settings: `services()` returns it."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from dataclasses import dataclass
from typing import Any

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ivr import metrics
from ivr.call_state import CallStateCodec
from ivr.call_times import remember_settings
from ivr.cases.reference import PinHasher
from ivr.crypto import Cipher
from ivr.db import engine_for, make_sessionmaker, utc_now
from ivr.flow.catalog import FlowCatalog
from ivr.flow.model import Flow
from ivr.line_gauges import read_line_gauges, unknown_line_gauges
from ivr.models import FlowVersion
from ivr.queueing import make_queue, make_redis
from ivr.settings import Settings

log = logging.getLogger(__name__)


class DatabaseFlowArchive:
    """Keeps every served flow version in the database, shared by all web hosts."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def save(self, flow: Flow) -> None:
        """Store this version unless it is there already."""
        try:
            with self.sessions.begin() as session:
                if session.get(FlowVersion, flow.version) is None:
                    session.add(FlowVersion(version=flow.version, name=flow.name, path=flow.path, source=flow.source))
        except IntegrityError:
            pass  # another web process stored the same version a moment earlier

    def latest_of(self, path: str) -> tuple[str, str] | None:
        """The (path, source) of the newest version stored for a flow file, if any."""
        with self.sessions() as session:
            row = session.scalars(
                select(FlowVersion).where(FlowVersion.path == path).order_by(FlowVersion.loaded_at.desc()).limit(1)
            ).first()
            return (row.path, row.source) if row else None

    def source_of(self, version: str) -> tuple[str, str] | None:
        """The path and source of a stored version."""
        with self.sessions() as session:
            row = session.get(FlowVersion, version)
            return (row.path, row.source) if row else None


class CallTracker:
    """Best-effort memory of each live call's last menu node, for drop-off figures.

    Webhooks only note the node in memory; a background thread sends the notes to Redis a few
    times a second. A Redis round trip on every webhook cost more than the menu step itself
    (bench/README.md), and a slow Redis must never hold up a caller.
    """

    def __init__(self, redis: Redis, *, ttl_s: int = 4 * 3600, flush_interval_s: float = 0.2) -> None:
        self.redis = redis
        self.ttl_s = ttl_s
        self.flush_interval_s = flush_interval_s
        self._pending: dict[str, tuple[str, str]] = {}
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._stopped = threading.Event()
        self._thread_pid: int | None = None

    def touch(self, call_sid: str, node: str, flow_version: str) -> None:
        """Remember where the call is now (sent to Redis shortly)."""
        if self._stopped.is_set():
            return
        with self._lock:
            self._pending[call_sid] = (node, flow_version)
        if self._thread_pid != os.getpid():
            self._start_thread()  # first touch in this process (gunicorn forks after the app is built)

    def last_seen(self, call_sid: str) -> dict[str, str]:
        """Where the call was last; empty if unknown."""
        with self._lock:
            pending = self._pending.get(call_sid)
        if pending is not None:
            return {"node": pending[0], "flow": pending[1]}
        try:
            raw = self.redis.hgetall(f"ivr:call:{call_sid}")
        except RedisError:
            return {}
        return {k.decode(): v.decode() for k, v in raw.items()}  # type: ignore[union-attr]

    def forget(self, call_sid: str) -> None:
        """The call ended: drop its note, so Redis keeps no trace of when it was (issue 10)."""
        with self._flushing:  # a flush in flight must not write the note back after the delete
            with self._lock:
                self._pending.pop(call_sid, None)
            with contextlib.suppress(RedisError, OSError, ValueError):  # else it expires on its own (ttl_s)
                self.redis.delete(f"ivr:call:{call_sid}")

    def flush(self) -> None:
        """Send what was noted since the last flush; on a Redis failure the notes are dropped."""
        with self._flushing:  # close() waits for a flush in flight, so nothing lands after it
            self._flush()

    def _flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return
        try:
            pipe = self.redis.pipeline(transaction=False)
            for call_sid, (node, flow_version) in pending.items():
                pipe.hset(f"ivr:call:{call_sid}", mapping={"node": node, "flow": flow_version})
                pipe.expire(f"ivr:call:{call_sid}", self.ttl_s)
            pipe.execute()
        except (RedisError, OSError, ValueError):  # down, or its connection closed under us
            log.warning("call_tracker.flush_failed", extra={"calls": len(pending)})

    def close(self) -> None:
        """Flush once more and stop the thread; later notes are dropped (the process is ending)."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self.flush()

    def _start_thread(self) -> None:
        with self._lock:
            if self._thread_pid == os.getpid():
                return
            self._thread_pid = os.getpid()
        threading.Thread(target=self._run, name="call-tracker", daemon=True).start()

    def _run(self) -> None:
        while not self._stopped.wait(self.flush_interval_s):
            self.flush()


@dataclass
class Services:
    """Database, Redis, queue, flows and crypto for the views; no module globals."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    redis: Redis
    queue: Queue
    flows: FlowCatalog  # every line's flow; reads like one FlowRegistry for the default line
    cipher: Cipher
    call_states: CallStateCodec
    tracker: CallTracker
    pins: PinHasher

    @classmethod
    def from_settings(cls, settings: Settings) -> Services:
        """Build everything the app needs; an invalid flow raises FlowError here."""
        engine = engine_for(settings)
        sessions = remember_settings(make_sessionmaker(engine), settings)
        redis = make_redis(settings.redis_url)
        flows = FlowCatalog.open(
            settings.flow_path,
            prompts_dir=settings.prompts_dir,
            check_interval_s=settings.flow_check_interval_s,
            archive=DatabaseFlowArchive(sessions),
            on_refused=lambda _error: metrics.FLOW_RELOAD_ERRORS.inc(),
        )
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            redis=redis,
            queue=make_queue(redis, settings.queue_name),
            flows=flows,
            cipher=Cipher(settings.data_keys),
            call_states=CallStateCodec(settings.session_secret),
            tracker=CallTracker(redis),
            pins=PinHasher(settings.data_keys),
        )

    def gauges(self) -> dict[str, tuple[str, float]]:
        """Values read at scrape time; a down dependency reads as -1, never as an error."""
        values: dict[str, tuple[str, float]] = {}
        try:
            with self.sessions() as session:
                values.update(read_line_gauges(session, utc_now()))
        except Exception:
            values.update(unknown_line_gauges())
        try:
            values["ivr_queue_depth"] = ("Jobs waiting on the intake queue.", float(self.queue.count))
        except RedisError:
            values["ivr_queue_depth"] = ("Jobs waiting on the intake queue.", -1.0)
        values["ivr_flow_valid"] = ("1 if the flow file on disk is valid.", 0.0 if self.flows.last_error else 1.0)
        return values

    def close(self) -> None:
        """Release connections (tests build many apps)."""
        self.tracker.close()
        self.engine.dispose()
        self.redis.close()


def services() -> Services:
    """The current app's services."""
    result: Any = current_app.extensions["ivr"]
    return result  # type: ignore[no-any-return]
