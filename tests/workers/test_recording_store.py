"""The recording store: real files, a real S3 server (moto's), real AES-GCM."""

from __future__ import annotations

import hashlib
import io
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from ivr.crypto import Cipher, DecryptionError
from ivr.settings import Settings
from ivr.storage import (
    RecordingConflict,
    RecordingMissing,
    RecordingStore,
    StoredObject,
    make_recording_store,
)
from ivr.storage.local import LocalRecordingStore
from ivr.storage.s3 import S3RecordingStore
from tests.support.recording_stores import Backend, s3_client

ROOT = Path(__file__).resolve().parents[2]
OLD_KEY = b"o" * 32
NEW_KEY = b"n" * 32
# Plaintext with a marker we can grep for in every byte written anywhere.
MARKER = b"PLAINTEXT-MARKER-+77011234567"
AUDIO = b"RIFF....WAVEfmt " + MARKER * 200


def make_cipher(*keys: tuple[str, bytes]) -> Cipher:
    return Cipher(dict(keys))


def test_put_then_open_returns_the_audio(backend: Backend) -> None:
    store: RecordingStore = backend.make(make_cipher(("k1", NEW_KEY)))
    stored = store.put("intake-42/original.wav", AUDIO)
    assert stored == StoredObject("intake-42/original.wav", len(AUDIO), hashlib.sha256(AUDIO).hexdigest(), "k1")
    with store.open("intake-42/original.wav") as handle:
        assert handle.read() == AUDIO
    assert store.exists("intake-42/original.wav")
    assert not store.exists("intake-43/original.wav")


def test_stored_bytes_hold_no_plaintext(backend: Backend) -> None:
    store = backend.make(make_cipher(("k1", NEW_KEY)))
    store.put("intake-1/original.wav", AUDIO)
    raw = backend.all_raw()
    assert raw
    assert MARKER not in raw
    assert b"+77011234567" not in raw
    assert b"RIFF" not in raw


def test_put_twice_with_same_audio_is_a_no_op(backend: Backend) -> None:
    store = backend.make(make_cipher(("k1", NEW_KEY)))
    first = store.put("intake-1/original.wav", AUDIO)
    blob = backend.read_raw("intake-1/original.wav")
    assert store.put("intake-1/original.wav", AUDIO) == first
    assert backend.read_raw("intake-1/original.wav") == blob  # not rewritten (new nonce would differ)


def test_put_of_other_audio_under_a_used_key_conflicts(backend: Backend) -> None:
    store = backend.make(make_cipher(("k1", NEW_KEY)))
    store.put("intake-1/original.wav", AUDIO)
    with pytest.raises(RecordingConflict):
        store.put("intake-1/original.wav", AUDIO + b"x")
    assert store.open("intake-1/original.wav").read() == AUDIO


def test_tampered_blob_does_not_decrypt(backend: Backend) -> None:
    store = backend.make(make_cipher(("k1", NEW_KEY)))
    store.put("intake-1/original.wav", AUDIO)
    blob = bytearray(backend.read_raw("intake-1/original.wav"))
    blob[len(blob) // 2] ^= 0x01
    backend.write_raw("intake-1/original.wav", bytes(blob))
    with pytest.raises(DecryptionError):
        store.open("intake-1/original.wav")


def test_blob_moved_to_another_key_does_not_decrypt(backend: Backend) -> None:
    store = backend.make(make_cipher(("k1", NEW_KEY)))
    store.put("intake-1/original.wav", AUDIO)
    store.put("intake-2/original.wav", b"RIFF other caller")
    backend.write_raw("intake-2/original.wav", backend.read_raw("intake-1/original.wav"))
    with pytest.raises(DecryptionError):
        store.open("intake-2/original.wav")


def test_old_key_still_decrypts_after_rotation(backend: Backend) -> None:
    before = backend.make(make_cipher(("k1", OLD_KEY)))
    before.put("intake-1/original.wav", AUDIO)
    after = backend.make(make_cipher(("k2", NEW_KEY), ("k1", OLD_KEY)))
    assert after.open("intake-1/original.wav").read() == AUDIO
    assert after.put("intake-1/original.wav", AUDIO).key_id == "k1"  # same content: kept as is
    assert after.put("intake-2/original.wav", AUDIO).key_id == "k2"
    assert Cipher.key_id_of(backend.read_raw("intake-2/original.wav")) == "k2"
    without_old = backend.make(make_cipher(("k2", NEW_KEY)))
    with pytest.raises(DecryptionError):
        without_old.open("intake-1/original.wav")


def test_delete_removes_and_is_idempotent(backend: Backend) -> None:
    store = backend.make(make_cipher(("k1", NEW_KEY)))
    store.put("intake-1/original.wav", AUDIO)
    store.put("intake-1/disguised.wav", b"RIFF disguised")
    store.delete("intake-1/original.wav")
    store.delete("intake-1/original.wav")
    assert not store.exists("intake-1/original.wav")
    with pytest.raises(RecordingMissing):
        store.open("intake-1/original.wav")
    assert sorted(store.keys()) == ["intake-1/disguised.wav"]


def test_keys_lists_every_stored_key(backend: Backend) -> None:
    store = backend.make(make_cipher(("k1", NEW_KEY)))
    assert list(store.keys()) == []
    wanted = {f"intake-{n}/original.wav" for n in range(7)} | {"intake-3/disguised.wav"}
    for key in wanted:
        store.put(key, AUDIO + key.encode())
    assert set(store.keys()) == wanted


@pytest.mark.parametrize("key", ["", "/etc/passwd", "../x", "a/../../x", ".hidden", "a//b", "a/.tmp", "x" * 201])
def test_unsafe_keys_are_refused(backend: Backend, key: str) -> None:
    store = backend.make(make_cipher(("k1", NEW_KEY)))
    with pytest.raises(ValueError):
        store.put(key, AUDIO)


def test_concurrent_puts_of_the_same_audio_agree(backend: Backend) -> None:
    store = backend.make(make_cipher(("k1", NEW_KEY)))
    results: list[StoredObject] = []
    threads = [
        threading.Thread(target=lambda: results.append(store.put("intake-9/original.wav", AUDIO))) for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 6 and len(set(results)) == 1
    assert store.open("intake-9/original.wav").read() == AUDIO


# -- local files only


def test_local_files_are_private_and_leave_no_temp_files(tmp_path: Path) -> None:
    store = LocalRecordingStore(tmp_path, make_cipher(("k1", NEW_KEY)))
    store.put("intake-1/original.wav", AUDIO)
    path = tmp_path / "intake-1" / "original.wav"
    assert path.stat().st_mode & 0o077 == 0
    assert [p.name for p in (tmp_path / "intake-1").iterdir()] == ["original.wav"]


def test_local_delete_overwrites_the_bytes_before_unlinking(tmp_path: Path) -> None:
    store = LocalRecordingStore(tmp_path / "store", make_cipher(("k1", NEW_KEY)))
    store.put("intake-1/original.wav", AUDIO)
    path = tmp_path / "store" / "intake-1" / "original.wav"
    size = path.stat().st_size
    witness = tmp_path / "witness"
    os.link(path, witness)  # a second name for the same inode sees what delete does to the data
    store.delete("intake-1/original.wav")
    assert not path.exists()
    assert witness.read_bytes() == bytes(size)


_WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from ivr.crypto import Cipher
    from ivr.storage.local import LocalRecordingStore

    root, mode = Path(sys.argv[1]), sys.argv[2]
    store = LocalRecordingStore(root, Cipher({"k1": b"n" * 32}))
    if mode == "die-in-fsync":
        real_fsync = os.fsync
        def fsync_then_die(fd):
            real_fsync(fd)
            os.kill(os.getpid(), signal.SIGKILL)   # the data is written, the rename is not done
        os.fsync = fsync_then_die
        store.put("intake-1/original.wav", b"RIFF" + os.urandom(4 << 20))
    else:
        n = 0
        print("ready", flush=True)
        while True:
            n += 1
            key = f"intake-{n}/original.wav"
            store.put(key, key.encode() * 50000)
    """
)


def _run_writer(root: Path, mode: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", _WRITER, str(root), mode], env=env, stdout=subprocess.PIPE, cwd=ROOT)


def test_sigkill_before_rename_leaves_no_file_under_the_key(tmp_path: Path) -> None:
    child = _run_writer(tmp_path, "die-in-fsync")
    assert child.wait(60) == -signal.SIGKILL
    store = LocalRecordingStore(tmp_path, make_cipher(("k1", NEW_KEY)))
    assert not store.exists("intake-1/original.wav")
    assert list(store.keys()) == []
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert leftovers and all(p.name.startswith(".") for p in leftovers)  # only the temp file
    assert MARKER not in b"".join(p.read_bytes() for p in leftovers)
    store.put("intake-1/original.wav", AUDIO)  # the next attempt succeeds
    assert store.open("intake-1/original.wav").read() == AUDIO


def test_sigkill_at_any_moment_leaves_only_whole_recordings(tmp_path: Path) -> None:
    child = _run_writer(tmp_path, "loop")
    assert child.stdout is not None and child.stdout.readline() == b"ready\n"
    time.sleep(1.5)
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    store = LocalRecordingStore(tmp_path, make_cipher(("k1", NEW_KEY)))
    keys = list(store.keys())
    assert len(keys) >= 2
    for key in keys:
        assert store.open(key).read() == key.encode() * 50000


def test_local_store_reads_back_through_a_new_instance(tmp_path: Path) -> None:
    LocalRecordingStore(tmp_path, make_cipher(("k1", NEW_KEY))).put("intake-5/original.wav", AUDIO)
    reopened = LocalRecordingStore(tmp_path, make_cipher(("k1", NEW_KEY)))
    assert isinstance(reopened.open("intake-5/original.wav"), io.BytesIO)
    assert reopened.open("intake-5/original.wav").read() == AUDIO


# -- choosing a backend from settings


def test_make_recording_store_builds_local_store_from_settings(tmp_path: Path) -> None:
    import base64

    settings = Settings(
        recordings_dir=tmp_path / "rec",
        data_key=base64.b64encode(NEW_KEY).decode(),
        data_key_id="k9",
        old_data_keys=f"k1:{base64.b64encode(OLD_KEY).decode()}",
    )
    LocalRecordingStore(tmp_path / "rec", make_cipher(("k1", OLD_KEY))).put("intake-1/original.wav", AUDIO)
    store = make_recording_store(settings)
    assert isinstance(store, LocalRecordingStore)
    assert store.open("intake-1/original.wav").read() == AUDIO
    assert store.put("intake-2/original.wav", AUDIO).key_id == "k9"


def test_make_recording_store_builds_s3_store_from_settings(
    moto_endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    settings = Settings(recording_store="s3", s3_endpoint_url=moto_endpoint, s3_bucket=bucket)
    store = make_recording_store(settings)
    assert isinstance(store, S3RecordingStore)
    store.put("intake-1/original.wav", AUDIO)
    assert store.open("intake-1/original.wav").read() == AUDIO
    assert MARKER not in s3_client(moto_endpoint).get_object(Bucket=bucket, Key="intake-1/original.wav")["Body"].read()


def test_make_recording_store_needs_a_bucket_for_s3() -> None:
    with pytest.raises(ValueError, match="IVR_S3_BUCKET"):
        make_recording_store(Settings(recording_store="s3"))
