"""Issue 10, item 4: report text is encrypted at rest like the audio.

Whoever carries off a copy of the database (a file, a dump, a backup) must read no word of a
report: not the transcripts (text and segments, follow-ups included), not the operators' notes,
not the message left for the reporter. Every reader of the line (console, API, the follow-up
call, the workers) still sees the plain text. The database is dumped for real: SQLite's files
byte by byte plus its SQL dump, PostgreSQL with pg_dump.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy import select
from sqlalchemy.engine import make_url

from ivr.crypto import ENCRYPTED_COLUMNS, Cipher
from ivr.db import Base, make_engine, make_sessionmaker
from ivr.migrations import alembic_config, upgrade
from ivr.models import Call, Case, CaseDetail, CaseNote, ThreadMessage, Transcript
from ivr.settings import Settings
from tests.conftest import DATA_KEY
from tests.operator.console import Console, post_form
from tests.support.fake_twilio_api import FakeTwilioApi
from tests.support.services import empty_database
from tests.workers.test_jobs_support import FakeTranscriber, add_intake, call_of
from workers.deps import WorkerDeps
from workers.intake import process_intake
from workers.transcription import transcribe_intake

pytestmark = pytest.mark.usefixtures("fast_password_hashes")

# Each text carries a Cyrillic and a Latin word that appear nowhere else in a database.
REPORT = "Аким Жолдасбеков потребовал пятьсот тысяч, Zholdasbekov said pay by Friday"
FOLLOWUP = "Конверт передали в кафе Бирлик, envelope handed over at Birlik cafe"
NOTE = "Проверить камеры, свидетель Ермеков, witness Yermekov saw it"
MESSAGE = "Спасибо, позвоните в понедельник, call Kuanyshbayeva on Monday"
WORDS = (
    "Жолдасбеков", "Zholdasbekov", "пятьсот", "Бирлик", "Birlik", "envelope",
    "Ермеков", "Yermekov", "witness", "понедельник", "Kuanyshbayeva",
)
TEXT_COLUMNS = {("transcripts", "text"), ("transcripts", "segments"), ("case_notes", "text"),
                ("case_details", "reporter_message"), ("transcript_versions", "text"),
                ("saved_filters", "name"), ("saved_filters", "query"), ("thread_messages", "text")}


def needles() -> list[bytes]:
    """Each word as UTF-8 and as JSON writes it (\\u escapes), the two ways text reaches a file."""
    found: list[bytes] = []
    for word in WORDS:
        found += [word.encode(), json.dumps(word)[1:-1].encode(), word.encode("utf-16-le")]
    return found


def dump_database(url: str) -> bytes:
    """Everything a thief with the database gets: SQLite's files and SQL dump, or pg_dump."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        files = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        with sqlite3.connect(path) as conn:
            return files + "\n".join(conn.iterdump()).encode()
    schema = (parsed.query.get("options") or "").partition("search_path=")[2]
    assert schema, url
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:  # no client tools here: read every column of every table instead
        return select_everything(url)
    command = [pg_dump, "-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432),
               "-U", parsed.username or "postgres", "-d", parsed.database or "", "-n", schema]
    return subprocess.run(command, check=True, capture_output=True, timeout=60).stdout


def select_everything(url: str) -> bytes:
    """Every value of every table, as text (the fallback without pg_dump)."""
    engine = sa.create_engine(make_url(url).set(drivername="postgresql+psycopg"))
    chunks: list[bytes] = []
    with engine.connect() as conn:
        for table in sa.inspect(conn).get_table_names():
            for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):
                chunks += [v if isinstance(v, bytes) else str(v).encode() for v in row]
    engine.dispose()
    return b"\n".join(chunks)


def postgres_files(url: str, tables: list[str]) -> bytes | None:
    """The tables' data files as they lie on disk, or None when this process cannot read them."""
    engine = sa.create_engine(make_url(url))
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("CHECKPOINT")  # what is only in the WAL so far reaches the files
            root = Path(str(conn.exec_driver_sql("SHOW data_directory").scalar()))
            paths = [root / str(conn.execute(sa.text("SELECT pg_relation_filepath(:t)"), {"t": t}).scalar())
                     for t in tables]
    except sa.exc.ProgrammingError:
        return None  # a role without pg_checkpoint / pg_read_all_settings: the dumps are still searched
    finally:
        engine.dispose()
    try:
        return b"".join(path.read_bytes() for path in paths)
    except OSError:
        return None


def assert_no_word_in(dump: bytes) -> None:
    """No word of any report text in the dump, in any encoding it could take."""
    assert len(dump) > 1000, "the dump is suspiciously empty"
    leaked = sorted({n.decode("utf-8", "replace") for n in needles() if n in dump})
    assert not leaked, f"plain report text in the database dump: {leaked}"


@pytest.mark.parametrize("transcriber", [lambda: FakeTranscriber(REPORT)], ids=["words"], indirect=True)
def test_report_text_encrypted_at_rest(
    app: Flask, console: Console, make_client: Any, deps: WorkerDeps, fake_api: FakeTwilioApi,
    transcriber: FakeTranscriber, settings: Settings,
) -> None:
    # The report and a follow-up, transcribed by the worker's own jobs.
    report_id = add_intake(deps, fake_api, enqueue=False, region_code="02", language="ru")
    process_intake(report_id)
    transcribe_intake(report_id)
    transcriber.text = FOLLOWUP
    followup_id = add_intake(
        deps, fake_api, enqueue=False, call_sid=call_of(deps.sessions, report_id).call_sid, kind="followup"
    )
    process_intake(followup_id)
    transcribe_intake(followup_id)
    # An operator writes a note and a message for the reporter through the console.
    console.add_user("almaty", regions=["02"])
    operator = make_client("almaty")
    with deps.sessions() as session:
        case_id = session.scalars(select(Case.id)).one()
    page = f"/operator/cases/{case_id}"
    assert post_form(operator, f"{page}/notes", {"text": NOTE}, page=page).status_code in (200, 302)
    assert post_form(operator, f"{page}/reporter-message", {"text": MESSAGE}, page=page).status_code in (200, 302)

    # Every reader gets plain text: the console page, the API, the follow-up call's read, the workers.
    html = operator.get(page).get_data(as_text=True)
    for text in ("Жолдасбеков", "Бирлик", "Ермеков", "Kuanyshbayeva"):
        assert text in html
    api = app.test_client()
    token = console.token_for("almaty")
    body = api.get(f"/api/cases/{case_id}", headers={"Authorization": f"Bearer {token}"}).json
    transcripts = [rec["transcript"] for rec in body["recordings"]]
    assert [t["text"] for t in transcripts] == [REPORT, FOLLOWUP]
    assert [t["segments"][0]["text"] for t in transcripts] == [REPORT, FOLLOWUP]
    assert [n["text"] for n in body["notes"]] == [NOTE] and body["reporter_message"] == MESSAGE
    with deps.sessions() as session:  # what ivr.cases.followup reads for the caller, and retention loads
        assert session.scalars(select(ThreadMessage.text)).one() == MESSAGE  # the thread with the reporter
        assert [t.text for t in session.scalars(select(Transcript).order_by(Transcript.id))] == [REPORT, FOLLOWUP]

    app.extensions["ivr"].close()
    deps.close()
    assert_no_word_in(dump_database(settings.database_url))
    # What the database holds is ciphertext that names its key.
    raw = sa.create_engine(make_url(settings.database_url))
    with raw.connect() as conn:
        for table, column in TEXT_COLUMNS:
            for (value,) in conn.execute(sa.text(f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL")):
                assert isinstance(value, bytes | memoryview), (table, column, value)
                assert Cipher.key_id_of(bytes(value)) == settings.data_key_id
    raw.dispose()


def test_every_encrypted_text_column_is_registered_for_key_rotation() -> None:
    registered = {(c.table, c.column) for c in ENCRYPTED_COLUMNS}
    assert ("calls", "contact_ciphertext") in registered

    sealed = {
        (table.name, column.name)
        for table in Base.metadata.tables.values()
        for column in table.columns
        if getattr(column.type, "is_encrypted", False)
    }
    assert sealed == TEXT_COLUMNS  # a column sealed by type but missing here would never rotate
    for entry in ENCRYPTED_COLUMNS:  # rotation must open each value with the context it was sealed with
        if (entry.table, entry.column) in TEXT_COLUMNS:
            column_type = Base.metadata.tables[entry.table].columns[entry.column].type
            assert entry.context({}) == column_type.context  # type: ignore[attr-defined]
    assert {(t, c) for t, c in registered if (t, c) != ("calls", "contact_ciphertext")} == TEXT_COLUMNS


# ---------------------------------------------------------------- the migration of existing rows


def text_revision() -> Any:
    """The migration that encrypts report text."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return next(r for r in script.walk_revisions() if Path(r.path).name.endswith("_encrypt_report_text.py"))


def insert(conn: sa.Connection, table: str, **values: Any) -> int:
    """A row as the old schema takes it; columns that must not be empty get a plain default."""
    reflected = sa.Table(table, sa.MetaData(), autoload_with=conn)
    now = datetime.now(UTC)
    for column in reflected.columns:
        if column.name in values or column.nullable or (column.primary_key and column.name == "id"):
            continue
        python = column.type.python_type if not isinstance(column.type, sa.JSON) else dict
        values[column.name] = {bool: False, int: 0, datetime: now, dict: {}, float: 0.0}.get(python, "x")
    result = conn.execute(reflected.insert().values(**values))
    return int((result.inserted_primary_key or [values.get("case_id")])[0])


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_upgrade_encrypts_the_report_text_already_stored(backend: str, tmp_path: Path) -> None:
    keys = Settings(data_key=DATA_KEY, twilio_auth_token="t").data_keys  # type: ignore[call-arg]
    with empty_database(backend, tmp_path, "old.db") as url:
        upgrade(url, text_revision().down_revision)
        plain = sa.create_engine(make_url(url))
        segments = [{"start_s": 0.0, "end_s": 1.0, "text": REPORT}]
        with plain.begin() as conn:
            call_id = insert(conn, "calls", call_sid="CA" + "1" * 32, flow_version="v1")
            intake_id = insert(conn, "intakes", recording_sid="RE" + "1" * 32, call_id=call_id)
            insert(conn, "transcripts", intake_id=intake_id, language="ru", text=REPORT, segments=segments)
            intake2 = insert(conn, "intakes", recording_sid="RE" + "2" * 32, call_id=call_id, kind="followup")
            insert(conn, "transcripts", intake_id=intake2, language="ru", status="failed", text=None, segments=[])
            case_id = insert(conn, "cases", call_id=call_id)
            operator_id = insert(conn, "operators", username="almaty", password_hash="x")
            insert(conn, "case_notes", case_id=case_id, operator_id=operator_id, text=NOTE)
            insert(conn, "case_details", case_id=case_id, reporter_message=MESSAGE)
        plain.dispose()
        before = dump_database(url)
        assert all(word.encode() in before for word in ("Жолдасбеков", "Ермеков", "Kuanyshbayeva"))  # the dump sees

        # One step up and back down gives the plain rows back (an operator can undo the upgrade).
        revision = text_revision()
        upgrade(url, revision.revision, data_keys=keys)
        config = alembic_config(url)
        config.attributes["data_keys"] = keys
        command.downgrade(config, revision.down_revision)
        plain = sa.create_engine(make_url(url))
        with plain.connect() as conn:
            assert conn.execute(sa.text("SELECT reporter_message FROM case_details")).scalar_one() == MESSAGE
            assert conn.execute(sa.text("SELECT text FROM case_notes")).scalar_one() == NOTE
        plain.dispose()

        upgrade(url, data_keys=keys)

        engine = make_engine(url, data_keys=keys)
        with make_sessionmaker(engine)() as session:
            texts = list(session.execute(select(Transcript.text, Transcript.segments).order_by(Transcript.id)))
            assert [tuple(t) for t in texts] == [(REPORT, segments), (None, [])]
            assert session.scalars(select(CaseNote.text)).one() == NOTE
            assert session.get_one(CaseDetail, case_id).reporter_message == MESSAGE
            assert session.get_one(Call, call_id).call_sid == "CA" + "1" * 32
        engine.dispose()
        assert_no_word_in(dump_database(url))
        if backend == "postgresql":
            files = postgres_files(url, ["transcripts", "case_notes", "case_details"])
            if files is not None:  # PostgreSQL on this machine: old row versions must be gone from disk too
                assert_no_word_in(files)


def test_upgrade_without_keys_refuses_rather_than_leave_text_plain(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, text_revision().down_revision)
    plain = sa.create_engine(url)
    with plain.begin() as conn:
        call_id = insert(conn, "calls", call_sid="CA" + "1" * 32, flow_version="v1")
        case_id = insert(conn, "cases", call_id=call_id)
        insert(conn, "case_details", case_id=case_id, reporter_message=MESSAGE)
    plain.dispose()
    with pytest.raises(RuntimeError, match="data key"):
        upgrade(url, data_keys={})
    with sqlite3.connect(tmp_path / "old.db") as conn:  # nothing half done: still the old schema
        assert conn.execute("SELECT reporter_message FROM case_details").fetchone() == (MESSAGE,)
