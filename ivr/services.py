"""What the web app's views need, built once from settings: `services()` returns it."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from ivr import metrics
from ivr.crypto import Cipher
from ivr.db import make_engine, make_sessionmaker
from ivr.flow.catalog import FlowCatalog
from ivr.flow.schema import Flow
from ivr.models import PENDING, FlowVersion, Intake
from ivr.queueing import make_queue, make_redis
from ivr.settings import Settings
from ivr.voice.call_state import CallStateCodec

log = logging.getLogger(__name__)


class DatabaseFlowArchive:
    """Keeps every served flow version in the database, shared by all web hosts."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def save(self, flow: Flow) -> None:
        """Store this version unless it is there already."""
        with self.sessions.begin() as session:
            if session.get(FlowVersion, flow.version) is None:
                session.add(FlowVersion(version=flow.version, name=flow.name, path=flow.path, source=flow.source))

    def source_of(self, version: str) -> tuple[str, str] | None:
        """The path and source of a stored version."""
        with self.sessions() as session:
            row = session.get(FlowVersion, version)
            return (row.path, row.source) if row else None


@dataclass
class CallTracker:
    """Best-effort memory of each live call's last menu node, for drop-off figures.

    Lives in Redis with a TTL and never blocks a call: after a failure it stays quiet for a
    few seconds instead of paying a timeout on every webhook.
    """

    redis: Redis
    ttl_s: int = 4 * 3600
    _quiet_until: float = field(default=0.0)

    def touch(self, call_sid: str, node: str, flow_version: str) -> None:
        """Remember where the call is now."""
        if time.monotonic() < self._quiet_until:
            return
        try:
            pipe = self.redis.pipeline(transaction=False)
            pipe.hset(f"ivr:call:{call_sid}", mapping={"node": node, "flow": flow_version})
            pipe.expire(f"ivr:call:{call_sid}", self.ttl_s)
            pipe.execute()
        except RedisError:
            self._quiet_until = time.monotonic() + 5

    def last_seen(self, call_sid: str) -> dict[str, str]:
        """Where the call was last; empty if unknown."""
        try:
            raw = self.redis.hgetall(f"ivr:call:{call_sid}")
        except RedisError:
            return {}
        return {k.decode(): v.decode() for k, v in raw.items()}  # type: ignore[union-attr]


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

    @classmethod
    def from_settings(cls, settings: Settings) -> Services:
        """Build everything the app needs; an invalid flow raises FlowError here."""
        engine = make_engine(settings.database_url)
        sessions = make_sessionmaker(engine)
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
        )

    def gauges(self) -> dict[str, tuple[str, float]]:
        """Values read at scrape time; a down dependency reads as -1, never as an error."""
        values: dict[str, tuple[str, float]] = {}
        try:
            with self.sessions() as session:
                pending = session.scalar(select(func.count()).select_from(Intake).where(Intake.status == PENDING))
            values["ivr_intakes_pending"] = ("Intakes not yet on the queue.", float(pending or 0))
        except Exception:
            values["ivr_intakes_pending"] = ("Intakes not yet on the queue.", -1.0)
        try:
            values["ivr_queue_depth"] = ("Jobs waiting on the intake queue.", float(self.queue.count))
        except RedisError:
            values["ivr_queue_depth"] = ("Jobs waiting on the intake queue.", -1.0)
        values["ivr_flow_valid"] = ("1 if the flow file on disk is valid.", 0.0 if self.flows.last_error else 1.0)
        return values

    def close(self) -> None:
        """Release connections (tests build many apps)."""
        self.engine.dispose()
        self.redis.close()


def services() -> Services:
    """The current app's services."""
    result: Any = current_app.extensions["ivr"]
    return result  # type: ignore[no-any-return]
