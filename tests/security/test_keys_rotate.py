"""Issue 10.10 (keys): `ivr keys rotate` re-encrypts recordings and contacts, survives a crash mid-way.

Proven for real: data written under k1 by the worker's own functions, a rotation to k2 stopped
after three items, a rerun through the real `ivr keys rotate` command, and then every recording and
contact read back with k2 alone (IVR_OLD_DATA_KEYS empty).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from ivr.crypto import ENCRYPTED_COLUMNS, Cipher, DecryptionError
from ivr.intake import contact_context
from ivr.models import Call, SearchTerm, StoredRecording
from ivr.settings import Settings
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN
from tests.operator.console import Console
from tests.support.recording_stores import Backend

pytestmark = pytest.mark.usefixtures("fast_password_hashes")

K1 = base64.b64encode(b"1" * 32).decode()
K2 = base64.b64encode(b"2" * 32).decode()
CONTACTS = ("+77011234567", "+77017654321")


class Stop(Exception):
    """Raised by the progress hook: the rotation dies mid-way."""


def _raw_key_ids(recordings: Path) -> list[str]:
    return sorted(Cipher.key_id_of(p.read_bytes()) for p in recordings.rglob("*.wav"))


def _every_registered_value_opens(sessions, cipher: Cipher) -> None:  # type: ignore[no-untyped-def]
    """Every value of every column listed for rotation decrypts with `cipher` (read raw, past column types)."""
    with sessions() as session:
        for column in ENCRYPTED_COLUMNS:
            extra = f", {column.context_column}" if column.context_column else ""
            rows = session.execute(sa.text(
                f"SELECT {column.column}{extra} FROM {column.table} WHERE {column.column} IS NOT NULL")).mappings()
            for row in rows:
                cipher.decrypt(bytes(row[column.column]), context=column.context(dict(row)))


def _cli_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_"))}
    env.update({
        "IVR_ENV_FILE": "", "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
        "IVR_RECORDINGS_DIR": str(settings.recordings_dir), "IVR_DATA_KEY": K2, "IVR_DATA_KEY_ID": "k2",
        "IVR_OLD_DATA_KEYS": f"k1:{K1}", "IVR_SECRET_KEY": "r" * 40, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "IVR_PUBLIC_BASE_URL": "https://ivr.example.test",
    })
    return env


def test_rotation_killed_mid_way_finishes_on_rerun_and_k2_alone_reads_everything(make_settings, database_url) -> None:
    from ivr.app import create_app
    from ivr.storage import make_recording_store
    from workers.rotate_keys import rotate

    old = make_settings(database_url=database_url, data_key=K1, data_key_id="k1")
    app = create_app(old)
    console = Console(app)
    try:
        cases = [console.add_case(is_anonymous=True), console.add_case(is_anonymous=True),
                 console.add_case(is_anonymous=False, contact=CONTACTS[0]),
                 console.add_case(is_anonymous=False, contact=CONTACTS[1], followups=1)]
    finally:
        app.extensions["ivr"].close()
    files = 2 + 2 + 1 + 2
    assert _raw_key_ids(old.recordings_dir) == ["k1"] * files

    new = make_settings(database_url=database_url, data_key=K2, data_key_id="k2", old_data_keys=f"k1:{K1}")
    sessions = app.extensions["ivr"].sessions
    ticks: list[str] = []

    def die_on_third(name: str) -> None:
        ticks.append(name)
        if len(ticks) == 3:
            raise Stop

    with pytest.raises(Stop):
        rotate(sessions, make_recording_store(new), Cipher(new.data_keys), progress=die_on_third)
    # Killed after the first file of the second anonymous recording: its row still says k1.
    assert _raw_key_ids(old.recordings_dir) == ["k1"] * (files - 3) + ["k2"] * 3
    with sessions() as session:
        assert [r.key_id for r in session.scalars(select(StoredRecording).order_by(StoredRecording.id))][:2] == [
            "k2", "k1"]

    rerun = subprocess.run([sys.executable, "-m", "ivr.cli", "keys", "rotate"], env=_cli_env(new),
                           capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    report = json.loads(rerun.stdout)
    # Done items are not redone: the one file the crash left rewritten is recognised by its key id.
    assert report["rewritten"]["recordings"] == files - 3 and report["already_current"] == {"recordings": 1}
    assert report["rewritten"]["calls.contact_ciphertext"] == 2
    assert set(report["left"]) == {"recordings"} | {f"{c.table}.{c.column}" for c in ENCRYPTED_COLUMNS}
    assert not any(report["left"].values())
    assert "item" in rerun.stderr and "100%" in rerun.stderr  # the progress bar
    with sessions() as session:  # the search index was rebuilt under the new key too
        assert set(session.scalars(select(SearchTerm.key_id))) == {"k2"}
    assert '"search_index"' in rerun.stderr

    only_k2 = make_settings(database_url=database_url, data_key=K2, data_key_id="k2", old_data_keys="")
    store, cipher = make_recording_store(only_k2), Cipher(only_k2.data_keys)
    with sessions() as session:
        stored = list(session.scalars(select(StoredRecording).order_by(StoredRecording.id)))
        assert {r.key_id for r in stored} == {"k2"}
        originals = {r.intake_id: store.open(r.storage_key).read() for r in stored}
        for row in stored:
            if row.disguised_key:
                assert store.open(row.disguised_key).read()[:4] == b"RIFF"
        calls = list(session.scalars(select(Call).where(Call.contact_ciphertext.is_not(None)).order_by(Call.id)))
        contacts = [cipher.decrypt(c.contact_ciphertext, context=contact_context(c.call_sid)).decode() for c in calls]
    assert contacts == list(CONTACTS)
    _every_registered_value_opens(sessions, cipher)
    for case in cases:
        assert [originals[i] for i in case.intake_ids] == case.audio
    with pytest.raises(DecryptionError):  # and k1 really is gone from what is stored
        Cipher({"k1": b"1" * 32}).decrypt(calls[0].contact_ciphertext, context=contact_context(calls[0].call_sid))

    again = subprocess.run([sys.executable, "-m", "ivr.cli", "keys", "rotate", "--quiet"], env=_cli_env(new),
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and json.loads(again.stdout)["rewritten"] == {}


def test_rekey_is_atomic_and_idempotent_in_every_store(backend: Backend) -> None:
    old = Cipher({"k1": b"1" * 32})
    new = Cipher({"k2": b"2" * 32, "k1": b"1" * 32})
    backend.make(old).put("intake-1/original.wav", b"RIFF audio")
    store = backend.make(new)
    assert store.rekey("intake-1/original.wav") is True
    assert Cipher.key_id_of(backend.read_raw("intake-1/original.wav")) == "k2"
    assert store.rekey("intake-1/original.wav") is False
    assert backend.make(Cipher({"k2": b"2" * 32})).open("intake-1/original.wav").read() == b"RIFF audio"
    assert sorted(store.keys()) == ["intake-1/original.wav"]  # no temp file left behind
