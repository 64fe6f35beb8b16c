"""Files that hold secrets or reports are private to the account that runs the line, from the start.

Writing a file and then chmod-ing it leaves a moment in which another user can open it (and keep
the open handle), so files are created with their final mode, and the folders they live in are
0700 as well. Processes that create files we do not control (Redis's append-only files) run
under a umask of 077 (`PRIVATE_UMASK`); SQLite gives its WAL the mode of the database file.
"""

from __future__ import annotations

import os
import stat
import uuid
from contextlib import suppress
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
PRIVATE_UMASK = 0o077


def private_dir(path: Path) -> Path:
    """`path` and any missing parents, created 0700 (an existing folder is left as it is)."""
    missing = [p for p in [path, *path.parents] if not p.exists()]
    for folder in reversed(missing):
        with suppress(FileExistsError):  # another process made it meanwhile
            os.mkdir(folder, PRIVATE_DIR)  # under the usual umask 022, 0700 stays 0700
    return path


def create_private(path: Path) -> None:
    """Create an empty 0600 file at `path` unless something is there already."""
    private_dir(path.parent)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))


def write_private(path: Path, text: str) -> None:
    """Replace `path` with `text`: a 0600 temp file, fsync, then rename (never readable by others)."""
    write_private_bytes(path, text.encode())


def write_private_bytes(path: Path, data: bytes) -> None:
    """Replace `path` with `data`: a 0600 temp file, fsync, then rename (never readable by others)."""
    private_dir(path.parent)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def exposed_paths(folder: Path, *, depth: int = 1) -> list[Path]:
    """`folder` and what it holds (to `depth` levels) that other users may read, write or enter."""
    found: list[Path] = []
    if not folder.exists():
        return found
    if stat.S_IMODE(folder.stat().st_mode) & 0o077:
        found.append(folder)
    if depth > 0 and folder.is_dir():
        for child in sorted(folder.iterdir()):
            if child.is_symlink():
                continue
            if child.is_dir():
                found += exposed_paths(child, depth=depth - 1)
            elif stat.S_IMODE(child.stat().st_mode) & 0o077:
                found.append(child)
    return found
