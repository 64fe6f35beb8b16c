"""Health, readiness and metrics."""

from __future__ import annotations

from tests.support.services import RedisServer
from tests.support.twilio_sim import Press, TwilioSimulator


def test_healthz_answers(client) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_reports_database_redis_and_flow(client) -> None:
    body = client.get("/readyz").get_json()
    assert body["status"] == "ok" and body["checks"] == {"database": "ok", "redis": "ok", "flow": "ok"}


def test_readyz_is_degraded_not_down_without_redis(client, redis_server: RedisServer) -> None:
    redis_server.stop()
    try:
        response = client.get("/readyz")
    finally:
        redis_server.start()
    assert response.status_code == 200 and response.get_json()["status"] == "degraded"


def test_metrics_count_calls_and_answers_per_node(client, twilio: TwilioSimulator) -> None:
    twilio.call([Press("2"), Press("1")])
    text = client.get("/metrics").get_data(as_text=True)
    assert 'ivr_node_answers_total{node="choose_language",outcome="left"}' in text
    assert "ivr_calls_total" in text and "ivr_webhook_seconds_bucket" in text
    assert "ivr_intakes_pending" in text and "ivr_queue_depth" in text


def test_prompt_audio_is_served_with_caching_headers(client) -> None:
    response = client.get("/voice/prompts/kk/welcome.wav?v=x")
    assert response.status_code == 200 and response.data[:4] == b"RIFF"
    assert "max-age=86400" in response.headers["Cache-Control"]
    assert client.get("/voice/prompts/../flow.yaml").status_code == 404
