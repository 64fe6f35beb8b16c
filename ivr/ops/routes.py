"""/healthz (this process), /readyz (database and Redis), /metrics (Prometheus)."""

from __future__ import annotations

from flask import Response, jsonify, request
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ivr.cases.recipients import recipients_status
from ivr.metrics import StateCollector, render_metrics
from ivr.ops import bp
from ivr.ops.metrics_access import may_read_metrics
from ivr.services import services
from ivr.settings import twilio_credential_problems
from ivr.speech_config import speech_status


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
    stored = svc.flows.served_from_archive()
    if stored:
        checks["flow"] = "; ".join(
            f"{line}: flow file invalid at start, serving stored version {version}" for line, version in stored.items()
        )
    # Without real Twilio credentials every call is refused (403): not ready, whatever else works.
    twilio = twilio_credential_problems(
        svc.settings.twilio_account_sid, svc.settings.twilio_auth_token.get_secret_value()
    )
    checks["twilio"] = "; ".join(twilio) or "ok"
    # A missing or corrupt speech model stops transcripts, not calls: degraded, named.
    checks["speech"] = "; ".join(speech_status(svc.settings)) or "ok"
    # A broken list of receiving bodies stops forwarding, not calls: degraded, with file and line.
    checks["recipients"] = recipients_status(svc.settings.recipients_path)
    if checks["database"] != "ok" or twilio:
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
