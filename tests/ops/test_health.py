"""Health, readiness and metrics."""

from __future__ import annotations

from tests.support.services import RedisServer
from tests.support.twilio_sim import Press, TwilioSimulator


def test_healthz_answers(client) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_reports_database_redis_and_flow(client) -> None:
    body = client.get("/readyz").get_json()
    assert body["status"] == "ok" and body["checks"] == {
        "database": "ok", "redis": "ok", "flow": "ok", "twilio": "ok", "speech": "ok", "recipients": "ok"
    }


def test_readyz_names_the_file_and_line_of_a_broken_recipients_list(make_settings, database_url, tmp_path) -> None:
    from ivr.app import create_app

    broken = tmp_path / "recipients.yaml"
    broken.write_text("recipients:\n  - code: police-x\n    kind: militia\n    names: {kk: а, ru: б, en: c}\n")
    app = create_app(make_settings(database_url=database_url, recipients_path=broken))
    try:
        response = app.test_client().get("/readyz")
    finally:
        app.extensions["ivr"].close()
    body = response.get_json()
    assert response.status_code == 200 and body["status"] == "degraded"
    assert body["checks"]["recipients"].startswith(f"{broken}:3: recipients.0.kind: Input should be 'agency'")


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


def _sample(name: str, **labels: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_every_webhook_is_timed_forged_ones_too(client, twilio: TwilioSimulator) -> None:
    before = {e: _sample("ivr_webhook_seconds_count", endpoint=e) for e in ("incoming", "step", "prompt_audio")}
    twilio.call([Press("2")])
    assert client.post("/voice/incoming", data={"CallSid": "CA" + "0" * 32}).status_code == 403  # unsigned
    client.get("/voice/prompts/kk/welcome.wav")
    after = {e: _sample("ivr_webhook_seconds_count", endpoint=e) for e in before}
    assert after["incoming"] - before["incoming"] == 2  # the call and the forged request
    assert after["step"] - before["step"] >= 1
    assert after["prompt_audio"] - before["prompt_audio"] == 1


def test_a_webhook_over_its_budget_is_logged(make_settings, sqlite_url, caplog) -> None:
    from ivr.app import create_app
    from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL
    from tests.support.twilio_sim import FlaskTransport, new_sid

    app = create_app(make_settings(database_url=sqlite_url, webhook_budget_ms=0))
    sim = TwilioSimulator(FlaskTransport(app.test_client()), auth_token=AUTH_TOKEN,
                          public_base_url=PUBLIC_BASE_URL, account_sid=ACCOUNT_SID)
    try:
        status, _ = sim.post("/voice/incoming", sim.voice_form(new_sid("CA"), "+77012345678", "+77172141424", None))
    finally:
        app.extensions["ivr"].close()
    assert status == 200
    assert any(r.getMessage() == "webhook.slow" and getattr(r, "endpoint", None) == "incoming" for r in caplog.records)
