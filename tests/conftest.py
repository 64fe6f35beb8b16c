"""Shared fixtures: a real Redis, real SQLite and PostgreSQL, the real app, a signed Twilio stand-in,
the worker side (a fake Twilio REST API, worker deps on the test database, a fake transcriber),
the console (people, cases, signed-in clients) and the `ivr` command run in-process.

Fixtures live in conftest.py files only; test modules never import one by name."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import redis
import time_machine

from ivr.settings import Settings
from tests.support.services import MigratedTemplates, RedisServer

if TYPE_CHECKING:
    from flask import Flask
    from flask.testing import FlaskClient

    from tests.operator.console import Console
    from tests.support.fake_twilio_api import FakeTwilioApi
    from tests.support.recording_stores import Backend
    from workers.deps import WorkerDeps

ROOT = Path(__file__).resolve().parent.parent
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
ACCOUNT_SID = "AC" + "0" * 30 + "14"
PUBLIC_BASE_URL = "https://ivr.example.test"
DATA_KEY = base64.b64encode(b"k" * 32).decode()

# Times of day (UTC) at which date-sensitive tests run. Almaty (UTC+5) is already on the next
# calendar day from 19:00 UTC, so 21:30 catches code and tests that mix UTC dates with local ones;
# 00:30 is just after midnight UTC, 12:00 an ordinary afternoon in Kazakhstan.
CLOCK_TIMES = ("00:30", "12:00", "21:30")
CLOCK_DAY = (2026, 11, 25)  # a Wednesday: an ordinary working day in Kazakhstan


@pytest.fixture(params=CLOCK_TIMES, ids=[f"utc{t.replace(':', '')}" for t in CLOCK_TIMES])
def clock(request: pytest.FixtureRequest) -> Iterator[time_machine.Traveller]:
    """Run the test at a fixed UTC time of day; the clock keeps ticking from there.

    CI runs at any hour, so a test that compares dates must not depend on when it runs.
    """
    hour, minute = (int(part) for part in request.param.split(":"))
    with time_machine.travel(datetime(*CLOCK_DAY, hour, minute, tzinfo=UTC), tick=True) as traveller:
        yield traveller


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One private redis-server for the session (tests restart it when they need to)."""
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """The private Redis, emptied before and after each test."""
    if redis_server.process is None or redis_server.process.poll() is not None:
        redis_server.start()  # a test stopped it
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    yield redis_server.url
    if redis_server.process is None or redis_server.process.poll() is not None:
        redis_server.start()
    redis.Redis.from_url(redis_server.url).flushall()


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MigratedTemplates]:
    """Databases Alembic migrates once per session (from today's migrations), copied for each test."""
    templates = MigratedTemplates(tmp_path_factory.mktemp("templates"))
    yield templates
    templates.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, migrated_templates: MigratedTemplates
) -> Iterator[str]:
    """A fresh database at the newest revision per test: a SQLite file, or a PostgreSQL schema of its own.

    Copied from the session's migrated template; tests of the migrations themselves start from
    `empty_database` and run Alembic.
    """
    with migrated_templates.database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path, migrated_templates: MigratedTemplates) -> Iterator[str]:
    """A fresh SQLite database at the newest revision, for tests that need not run on both backends."""
    with migrated_templates.database("sqlite", tmp_path) as url:
        yield url


@pytest.fixture
def make_settings(tmp_path: Path, redis_url: str) -> Callable[..., Settings]:
    """Settings for a test app; keyword arguments override."""

    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "database_url": f"sqlite:///{tmp_path / 'ivr.db'}",
            "redis_url": redis_url,
            "twilio_account_sid": ACCOUNT_SID,
            "twilio_auth_token": AUTH_TOKEN,
            "public_base_url": PUBLIC_BASE_URL,
            "secret_key": "test-secret-of-32-bytes-or-more-0123",
            "data_key": DATA_KEY,
            "flow_path": ROOT / "config" / "flow.yaml",
            "prompts_dir": ROOT / "config" / "prompts",
            "recordings_dir": tmp_path / "recordings",
            "model_cache_dir": tmp_path / "models",
            "log_json": True,
        }
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings], database_url: str) -> Settings:
    """Settings on the parametrised database (SQLite and PostgreSQL)."""
    return make_settings(database_url=database_url)


@pytest.fixture
def app(settings: Settings):  # type: ignore[no-untyped-def]
    """The real app, built by the factory on the test's database and Redis."""
    from ivr.app import create_app

    app = create_app(settings)
    app.config["TESTING"] = True
    yield app
    app.extensions["ivr"].close()


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    """Flask's test client for the app."""
    return app.test_client()


@pytest.fixture
def twilio(client):  # type: ignore[no-untyped-def]
    """Twilio's voice side, signing every request with the app's auth token."""
    from tests.support.twilio_sim import FlaskTransport, TwilioSimulator

    return TwilioSimulator(
        FlaskTransport(client),
        auth_token=AUTH_TOKEN,
        public_base_url=PUBLIC_BASE_URL,
        account_sid=ACCOUNT_SID,
    )


# --------------------------------------------------------------------------- the worker side


@pytest.fixture
def fake_api() -> Iterator[FakeTwilioApi]:
    """Twilio's REST API and media on 127.0.0.1, with the test account's credentials."""
    from tests.support.fake_twilio_api import FakeTwilioApi

    with FakeTwilioApi(ACCOUNT_SID, AUTH_TOKEN, stall_s=2.0) as api:
        yield api


@pytest.fixture
def worker_settings(
    make_settings: Callable[..., Settings], database_url: str, fake_api: FakeTwilioApi
) -> Callable[..., Settings]:
    """Settings for worker tests on the parametrised database, pointed at the fake Twilio."""

    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "database_url": database_url,
            "twilio_api_base": fake_api.base_url,
            "download_backoff_s": 0.01,
            "download_budget_s": 5.0,
            "download_timeout_s": 1.0,
            "transcribe_retry_intervals_s": [1, 1],
            "notify_retry_intervals_s": [1, 1],
        }
        values.update(overrides)
        return make_settings(**values)

    return make


@pytest.fixture
def transcriber(request: pytest.FixtureRequest) -> Any:
    """The transcriber the worker deps use; parametrize indirectly with a factory to change it."""
    from tests.workers.test_jobs_support import FakeTranscriber

    factory = getattr(request, "param", FakeTranscriber)
    return factory()


@pytest.fixture
def deps(worker_settings: Callable[..., Settings], transcriber: Any) -> Iterator[WorkerDeps]:
    """Worker dependencies on the test database and Redis, installed for in-process jobs."""
    from workers.deps import WorkerDeps, set_worker_deps

    built = WorkerDeps.from_settings(worker_settings())
    built = replace(built, transcriber_factory=lambda: transcriber)
    set_worker_deps(built)
    yield built
    set_worker_deps(None)
    built.close()


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """process_intake gets two quick retries (three attempts) instead of the hours-long backoff."""
    intervals = [0, 0]
    monkeypatch.setattr("ivr.queueing.RETRY_INTERVALS_S", intervals)
    return intervals


@pytest.fixture
def e2e_settings(worker_settings: Callable[..., Settings], fake_api: FakeTwilioApi) -> Settings:
    """One set of settings for the app, the in-process deps and the worker processes."""
    return worker_settings(transcriber="none")


@pytest.fixture
def e2e_deps(e2e_settings: Settings) -> Iterator[WorkerDeps]:
    """Worker dependencies for in-process jobs and sweeps, on the same settings."""
    from workers.deps import WorkerDeps, set_worker_deps

    built = WorkerDeps.from_settings(e2e_settings)
    set_worker_deps(built)
    yield built
    set_worker_deps(None)
    built.close()


@pytest.fixture
def wired_app(e2e_settings: Settings) -> Iterator[Flask]:
    """The real app on the test's database and Redis."""
    from ivr.app import create_app

    app = create_app(e2e_settings)
    app.config["TESTING"] = True
    yield app
    app.extensions["ivr"].close()


# --------------------------------------------------------------------------- the console


@pytest.fixture
def fast_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id with the smallest cost: the tests sign in hundreds of times (production keeps the default).

    Autouse in the suites that sign people in (their conftest.py); a module elsewhere asks for it
    with `pytestmark = pytest.mark.usefixtures("fast_password_hashes")`.
    """
    from argon2 import PasswordHasher

    from ivr import accounts

    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(accounts, "_hasher", lambda: hasher)
    accounts._dummy_hash.cache_clear()


@pytest.fixture
def console(app: Flask) -> Console:
    """People and cases in the test app (tests/operator/console.py)."""
    from tests.operator.console import Console

    return Console(app)


@pytest.fixture
def make_client(app: Flask) -> Iterator[Callable[..., FlaskClient]]:
    """Fresh test clients (one per person), signed in when given a username."""
    from tests.operator.console import sign_in

    def make(username: str | None = None) -> FlaskClient:
        client = app.test_client()
        if username:
            response = sign_in(client, username)
            assert response.status_code == 302, response.get_data(as_text=True)
        return client

    yield make


# --------------------------------------------------------------------------- the `ivr` command


@dataclass
class Run:
    """What one `ivr ...` command printed and returned."""

    code: int
    out: str
    err: str


@pytest.fixture
def ivr(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path,
        redis_url: str) -> Iterator[Callable[..., Run]]:
    """Run `ivr ARGS...` in this process with a test environment; keyword arguments set IVR_* variables."""
    base = {
        "IVR_ENV_FILE": "",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "REDIS_URL": redis_url,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "IVR_PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "IVR_DATA_KEY": DATA_KEY,
        "IVR_SECRET_KEY": "test-secret-of-32-bytes-or-more-0123",
        "IVR_FLOW_PATH": str(ROOT / "config" / "flow.yaml"),
        "IVR_PROMPTS_DIR": str(ROOT / "config" / "prompts"),
        "IVR_TRANSCRIBER": "none",
        "IVR_LOG_JSON": "true",
    }

    def run(*argv: str, stdin: str | None = None, **env: str) -> Run:
        named = {k if k.isupper() else f"IVR_{k.upper()}": v for k, v in env.items()}
        for name, value in {**base, **named}.items():
            monkeypatch.setenv(name, value)
        if stdin is not None:
            import io

            monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        from ivr.cli import main

        capsys.readouterr()
        code = main(list(argv))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    yield run


# --------------------------------------------------------------------------- recording stores


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """moto's S3 server: a real HTTP endpoint on 127.0.0.1."""
    pytest.importorskip("boto3")
    moto_server = pytest.importorskip("moto.server")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(moto_endpoint: str) -> str:
    """A fresh, empty bucket on moto."""
    from tests.support.recording_stores import new_bucket

    return new_bucket(moto_endpoint)


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """The local and the S3 recording store, each with raw access to what it wrote."""
    from tests.support.recording_stores import local_backend, s3_backend

    if request.param == "local":
        return local_backend(tmp_path / "recordings")
    return s3_backend(request.getfixturevalue("moto_endpoint"), request.getfixturevalue("bucket"))
