"""/healthz (this process), /readyz (database and Redis), /metrics (Prometheus)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ivr.metrics import StateCollector, render_metrics
from ivr.ops.metrics_access import may_read_metrics
from ivr.services import services

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process answers."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Ready unless the database is down; a down Redis is `degraded` (calls still record)."""
    svc = services()
    checks: dict[str, str] = {}
    try:
        with svc.engine.connect() as conn:
            conn.execute(text("select 1"))
        checks["database"] = "ok"
    except SQLAlchemyError:
        checks["database"] = "down"
    try:
        svc.redis.ping()
        checks["redis"] = "ok"
    except RedisError:
        checks["redis"] = "down"
    checks["flow"] = "ok" if svc.flows.last_error is None else "invalid edit refused"
    if checks["database"] != "ok":
        status, code = "down", 503
    elif any(value != "ok" for value in checks.values()):
        status, code = "degraded", 200
    else:
        status, code = "ok", 200
    return jsonify(status=status, checks=checks, flow_version=svc.flows.current.version), code


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus metrics, for the scrape token or the allowed networks only."""
    if not may_read_metrics(services().settings, request):
        return Response("metrics need the scrape token (IVR_METRICS_TOKEN)\n", status=403,
                        content_type="text/plain", headers={"WWW-Authenticate": "Bearer"})
    body, content_type = render_metrics(StateCollector(services().gauges))
    return Response(body, content_type=content_type)
