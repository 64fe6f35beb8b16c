"""Issue 10.14: browsers are told to use https only (HSTS) whenever the line is served over https."""

from __future__ import annotations

import pytest

PATHS = ["/operator/login", "/healthz", "/api/me", "/voice/prompts/kk/welcome.wav"]


@pytest.mark.parametrize("path", PATHS)
def test_an_https_public_url_sends_hsts_on_every_answer(client, path: str) -> None:
    # The app sits behind a TLS proxy (plain http inside), but its public URL is https.
    response = client.get(path)
    header = response.headers.get("Strict-Transport-Security", "")
    assert "max-age=31536000" in header and "includeSubDomains" in header, (path, response.status_code)


def test_a_secure_request_gets_hsts_even_without_a_public_url(make_settings, sqlite_url) -> None:
    from ivr.app import create_app

    app = create_app(make_settings(database_url=sqlite_url, public_base_url=""))
    try:
        secure = app.test_client().get("https://ivr.example.kz/operator/login")
        plain = app.test_client().get("http://127.0.0.1:5000/operator/login")
    finally:
        app.extensions["ivr"].close()
    assert "max-age=31536000" in secure.headers.get("Strict-Transport-Security", "")
    # Over plain http the header means nothing to a browser and would pin a local name to https.
    assert "Strict-Transport-Security" not in plain.headers
