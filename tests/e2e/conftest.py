"""Browser tests: the real app on a loopback port, Debian's Chromium driven by Playwright.

Never `playwright install`: browsers cannot be downloaded here. The tests use /usr/bin/chromium
(Debian's package); if it is missing they try `apt-get install chromium` once, and skip with the
reason only if that fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from ivr.settings import Settings
from tests.conftest import ROOT
from tests.support.services import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]  # fmt: skip
ARTIFACTS = ROOT / "test-artifacts"


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker (the suite runs with --strict-markers)."""
    config.addinivalue_line("markers", "browser: drives a real Chromium with Playwright")


def _install_chromium() -> str | None:
    """Debian's Chromium, installed if missing; the reason it cannot be had otherwise."""
    if CHROMIUM.exists():
        return None
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        return "/usr/bin/chromium is missing and apt-get cannot install it here (not root or not Debian)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, check=False)
        if done.returncode != 0:
            return f"`{' '.join(command)}` failed: {done.stderr.strip()[-300:]}"
    return None if CHROMIUM.exists() else "apt-get installed chromium but /usr/bin/chromium is still missing"


@pytest.fixture(autouse=True)
def _cheap_password_hashes(fast_password_hashes: None) -> None:
    """Browsers sign people in: Argon2 at its lowest cost (tests/conftest.py) for every test here."""


@pytest.fixture(scope="session")
def playwright() -> Iterator[Any]:
    """Playwright for the session: its sync API allows one instance per thread at a time."""
    playwright_api = pytest.importorskip("playwright.sync_api", reason="the `playwright` package is not installed")
    reason = _install_chromium()
    if reason:
        pytest.skip(reason)
    with playwright_api.sync_playwright() as started:
        yield started


@pytest.fixture(scope="session")
def browser(playwright: Any) -> Iterator[Any]:
    """One headless Chromium for the session."""
    launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@pytest.fixture
def live_server(make_settings: Callable[..., Settings], sqlite_url: str) -> Iterator[Callable[..., tuple[Flask, str]]]:
    """Starts the real app behind werkzeug's server on 127.0.0.1, in a thread."""
    started: list[tuple[Any, threading.Thread, Flask]] = []

    def start(**overrides: Any) -> tuple[Flask, str]:
        from ivr.app import create_app

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        settings = make_settings(database_url=sqlite_url, public_base_url=base, **overrides)
        app = create_app(settings)
        server = make_server("127.0.0.1", port, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        started.append((server, thread, app))
        return app, base

    yield start
    for server, thread, app in started:
        server.shutdown()
        thread.join(timeout=10)
        app.extensions["ivr"].close()


@pytest.fixture
def artifacts() -> Path:
    """Where screenshots go (gitignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
