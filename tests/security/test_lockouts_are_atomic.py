"""Issue 10.7: lock-outs are atomic, proven with 50 parallel wrong answers against a real gunicorn.

Two gunicorn workers with eight threads each take the guesses, so read-then-write counters race
across processes as they would on a real line. Exactly the allowed number of guesses is checked;
every other one is refused as locked, and then even the right PIN or password is refused.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from ivr import accounts
from ivr.models import AuditEvent
from ivr.settings import Settings
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL, ROOT
from tests.support.services import free_port
from tests.support.twilio_sim import HttpTransport, Press, Silence, Talk, TwilioSimulator

GUESSES = 50
SECRET_KEY = "security-test-secret-key-0123456789abcdef"
PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Line:
    """A live line: gunicorn's address, and the app (in this process) on the same database."""

    base_url: str
    app: object

    @property
    def svc(self):  # type: ignore[no-untyped-def]
        return self.app.extensions["ivr"]  # type: ignore[attr-defined]

    def simulator(self) -> TwilioSimulator:
        return TwilioSimulator(HttpTransport(self.base_url, timeout_s=60), auth_token=AUTH_TOKEN,
                               public_base_url=PUBLIC_BASE_URL, account_sid=ACCOUNT_SID)

    def message(self, key: str) -> str:
        return self.svc.flows.current.message(key, "ru").text  # type: ignore[no-any-return]

    def audit_count(self, action: str) -> int:
        with self.svc.sessions() as session:
            return session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action))


def _environment(settings: Settings) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("IVR_", "TWILIO_"))}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update({
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "IVR_PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "IVR_SECRET_KEY": settings.secret_key.get_secret_value(),
        "IVR_DATA_KEY": settings.data_key.get_secret_value(),
        "IVR_FLOW_PATH": str(settings.flow_path),
        "IVR_PROMPTS_DIR": str(settings.prompts_dir),
        "IVR_RECORDINGS_DIR": str(settings.recordings_dir),
        "IVR_MODEL_CACHE_DIR": str(settings.model_cache_dir),
        "IVR_LOG_JSON": "true",
        "IVR_LOG_LEVEL": "WARNING",
    })
    return env


@pytest.fixture
def line(make_settings, database_url: str, tmp_path: Path) -> Iterator[Line]:  # type: ignore[no-untyped-def]
    """gunicorn with 2 workers x 8 threads on the test's database, and the same app in-process."""
    from ivr.app import create_app

    settings = make_settings(database_url=database_url, secret_key=SECRET_KEY)
    app = create_app(settings)
    port = free_port()
    log = (tmp_path / "gunicorn.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "8",
         "--timeout", "120", "ivr.app:create_app()"],
        cwd=ROOT, env=_environment(settings), stdout=log, stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        http = requests.Session()
        http.trust_env = False  # never route loopback test traffic through an env proxy
        while True:
            assert server.poll() is None, (tmp_path / "gunicorn.log").read_text()
            try:
                if http.get(f"{base_url}/operator/login", timeout=10).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        yield Line(base_url, app)
    finally:
        server.terminate()
        server.wait(30)
        log.close()
        app.extensions["ivr"].close()


def _spoken_after(said: list[str], label: str) -> str:
    return said[said.index(label) + 1].replace(", ", "").rstrip(".")


def test_lockouts_are_atomic_for_pins_under_parallel_guessing(line: Line) -> None:
    result = line.simulator().call([Press("2"), Press("1"), Press("02"), Talk(20), Press("3"), Silence()])
    reference = _spoken_after(result.said(), line.message("reference_is"))
    pin = _spoken_after(result.said(), line.message("pin_is"))
    wrong = "9" * len(pin) if pin != "9" * len(pin) else "1" * len(pin)

    def guess(index: int) -> list[str]:
        # Each guess is its own call from its own number, as a spread-out attacker would place them.
        call = line.simulator().call([Press("2"), Press("9"), Press(reference), Press(wrong)],
                                     from_=f"+7701{index:07d}")
        return call.said()

    with ThreadPoolExecutor(GUESSES) as pool:
        heard = list(pool.map(guess, range(GUESSES)))

    assert all(line.message("wrong_pin") in said for said in heard)  # every guess hears the same answer
    max_failures = line.svc.settings.followup_max_failures
    refused = line.audit_count("followup.refused_locked")
    assert GUESSES - refused == max_failures  # exactly the allowed number was checked
    assert line.audit_count("followup.locked") == 1

    right = line.simulator().call([Press("2"), Press("9"), Press(reference), Press(pin)])
    assert line.message("wrong_pin") in right.said()  # locked: the right PIN is refused too
    assert line.audit_count("followup.verified") == 0


def _sign_in(base_url: str, username: str, password: str) -> int:
    # The session cookie is Secure (the public URL is https) and this is plain http on loopback,
    # so the cookie is carried by hand, as a browser behind a TLS proxy would.
    http = requests.Session()
    http.trust_env = False
    page = http.get(f"{base_url}/operator/login", timeout=60)
    token = CSRF.search(page.text)
    assert token, page.text
    cookie = page.headers["Set-Cookie"].split(";", 1)[0]
    response = http.post(f"{base_url}/operator/login", data={"username": username, "password": password,
                                                              "csrf_token": token.group(1)},
                         headers={"Cookie": cookie}, allow_redirects=False, timeout=60)
    return response.status_code


def test_lockouts_are_atomic_for_operator_sign_in_under_parallel_guessing(line: Line) -> None:
    with line.svc.sessions.begin() as session:
        operator = accounts.create_operator(session, username="aigerim", password=PASSWORD, regions=["02"])
        actor = f"operator:{operator.id}"

    with ThreadPoolExecutor(GUESSES) as pool:
        codes = list(pool.map(lambda _: _sign_in(line.base_url, "aigerim", "wrong password!"), range(GUESSES)))

    assert codes == [401] * GUESSES
    with line.svc.sessions() as session:
        events = list(session.scalars(select(AuditEvent).where(AuditEvent.actor == actor)))
    checked = [e for e in events if e.action == "operator.sign_in_failed"]
    refused = [e for e in events if e.action == "operator.sign_in_refused"]
    assert len(checked) == accounts.MAX_FAILED_LOGINS  # exactly the allowed number was checked
    assert len(refused) == GUESSES - accounts.MAX_FAILED_LOGINS

    assert _sign_in(line.base_url, "aigerim", PASSWORD) == 401  # locked: the right password is refused too
