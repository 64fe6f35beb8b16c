"""Issue 10.6: /metrics is not public; per-node counters show what a caller chose seconds ago."""

from __future__ import annotations

import pytest

TOKEN = "scrape-token-0123456789abcdef0123456789"


@pytest.fixture
def metrics_app(make_settings, sqlite_url):  # type: ignore[no-untyped-def]
    from ivr.app import create_app

    def build(**overrides: object):  # type: ignore[no-untyped-def]
        app = create_app(make_settings(database_url=sqlite_url, **overrides))
        built.append(app)
        return app.test_client()

    built: list = []
    yield build
    for app in built:
        app.extensions["ivr"].close()


def _get(client, remote: str, **headers: str) -> int:  # type: ignore[no-untyped-def]
    return client.get("/metrics", headers=headers, environ_base={"REMOTE_ADDR": remote}).status_code


def test_metrics_not_public_by_default(metrics_app) -> None:
    client = metrics_app()
    assert _get(client, "203.0.113.9") == 403
    assert _get(client, "10.1.2.3") == 403
    assert _get(client, "127.0.0.1") == 200  # Prometheus on the same host
    assert _get(client, "::1") == 200
    # Through a reverse proxy on the same host every request comes from 127.0.0.1: a forwarded
    # request is someone outside, and needs the token.
    assert _get(client, "127.0.0.1", **{"X-Forwarded-For": "203.0.113.9"}) == 403
    assert _get(client, "127.0.0.1", Forwarded="for=203.0.113.9") == 403


def test_metrics_with_bearer_token_from_anywhere(metrics_app) -> None:
    client = metrics_app(metrics_token=TOKEN)
    assert _get(client, "203.0.113.9", Authorization=f"Bearer {TOKEN}") == 200
    assert _get(client, "203.0.113.9", Authorization=f"Bearer {TOKEN[:-1]}x") == 403
    assert _get(client, "203.0.113.9", Authorization=f"Basic {TOKEN}") == 403
    assert _get(client, "203.0.113.9") == 403
    body = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"},
                      environ_base={"REMOTE_ADDR": "203.0.113.9"}).get_data(as_text=True)
    assert "ivr_calls_total" in body


def test_metrics_to_configured_networks(metrics_app) -> None:
    client = metrics_app(metrics_allow="10.0.0.0/8, fd00::/8")
    assert _get(client, "10.1.2.3") == 200
    assert _get(client, "fd00::5") == 200
    assert _get(client, "127.0.0.1") == 403  # the list replaces the default
    assert _get(client, "11.1.2.3") == 403


def test_a_bad_network_stops_the_start_with_one_line(monkeypatch) -> None:
    from ivr.settings import SettingsError, load_settings

    monkeypatch.setenv("IVR_ENV_FILE", "")
    monkeypatch.setenv("IVR_METRICS_ALLOW", "10.0.0.0/8,not-a-network")
    with pytest.raises(SettingsError, match=r"IVR_METRICS_ALLOW: .*not-a-network"):
        load_settings()
