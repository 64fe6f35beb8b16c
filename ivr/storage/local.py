"""Recordings as encrypted files in one folder on this machine (var/recordings by default)."""

from __future__ import annotations

import contextlib
import io
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ivr.crypto import Cipher
from ivr.storage import (
    RecordingMissing,
    StoredObject,
    blob_context,
    check_key,
    reseal,
    same_content,
    seal,
)

_WIPE_CHUNK = 1 << 20


class LocalRecordingStore:
    """Encrypted files under `root`, one per key; see the package docstring for the promises."""

    def __init__(self, root: Path, cipher: Cipher, *, time_resolution_s: int = 3600) -> None:
        self.root = Path(root)
        self.cipher = cipher
        # A file's mtime would tell when an anonymous caller called, to the second: files and
        # their folders carry the time cut to this (IVR_ANONYMOUS_TIME_RESOLUTION_MINUTES).
        self.time_resolution_s = time_resolution_s

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, audio: bytes) -> StoredObject:
        """Store `audio` under `key`; the same content again is a no-op, other content conflicts."""
        path = self._path(key)
        existing = _read_or_none(path)
        if existing is not None:
            return same_content(self.cipher, key, existing, audio)
        blob, stored = seal(self.cipher, key, audio)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _publish(path, blob):
            # Another worker stored this key between our read and our link.
            return same_content(self.cipher, key, path.read_bytes(), audio)
        self._blur_times(path)
        return stored

    def _blur_times(self, path: Path) -> None:
        """Set the file's and its folders' times to the start of the current period."""
        now = time.time()
        cut = now - now % self.time_resolution_s
        folder = path
        while True:
            with contextlib.suppress(OSError):
                os.utime(folder, (cut, cut))
            if folder == self.root or self.root not in folder.parents:
                break
            folder = folder.parent

    def open(self, key: str) -> BinaryIO:
        """The decrypted recording; RecordingMissing if absent, DecryptionError if tampered with."""
        blob = _read_or_none(self._path(key))
        if blob is None:
            raise RecordingMissing(key)
        return io.BytesIO(self.cipher.decrypt(blob, context=blob_context(key)))

    def exists(self, key: str) -> bool:
        """Whether a file is stored under `key`."""
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        """Overwrite the file with zeros, then remove it; a missing key is a no-op.

        The bytes are ciphertext already; wiping is defence in depth for a key that leaks later
        (on copy-on-write or flash storage the old blocks may survive anyway).
        """
        path = self._path(key)
        try:
            with path.open("r+b") as handle:
                remaining = os.fstat(handle.fileno()).st_size
                while remaining > 0:
                    remaining -= handle.write(bytes(min(remaining, _WIPE_CHUNK)))
                handle.flush()
                os.fsync(handle.fileno())
            path.unlink()
        except FileNotFoundError:
            return
        _fsync_dir(path.parent)

    def rekey(self, key: str) -> bool:
        """Re-encrypt the file with the current key (temp file, fsync, rename); False if it already was."""
        path = self._path(key)
        blob = _read_or_none(path)
        if blob is None:
            raise RecordingMissing(key)
        fresh = reseal(self.cipher, key, blob)
        if fresh is None:
            return False
        temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(fresh)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, path)  # a crash leaves the old blob or the new one, never half of either
            _fsync_dir(path.parent)
        finally:
            temp.unlink(missing_ok=True)
        self._blur_times(path)
        return True

    def keys(self) -> Iterator[str]:
        """Every stored key (temp files of unfinished writes are not keys)."""
        return stored_keys(self.root)


def stored_keys(root: Path) -> Iterator[str]:
    """Every key stored under `root`, sorted; temp files of unfinished writes (a leading dot) are not keys."""
    if not root.is_dir():
        return
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        relative = Path(folder).relative_to(root)
        for name in sorted(files):
            if not name.startswith("."):
                yield (relative / name).as_posix()


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _publish(path: Path, blob: bytes) -> bool:
    """Write `blob` to a temp file, fsync it, then give it its final name; False if taken.

    A SIGKILL at any point leaves either nothing or the whole file under the final name; a
    leftover `.name.*.tmp` holds ciphertext only and is never listed as a key.
    """
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(blob)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            # link() never replaces an existing file, so two writers cannot overwrite each other.
            os.link(temp, path)
        except FileExistsError:
            return False
        except OSError:
            os.replace(temp, path)  # file systems without hard links
        _fsync_dir(path.parent)
        return True
    finally:
        temp.unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    """Make a rename or unlink in `folder` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
