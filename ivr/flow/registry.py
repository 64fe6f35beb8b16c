"""Which flow serves calls: the last good one, swapped only for a newer valid file.

A bad edit never takes the line down: the registry keeps serving the last flow that passed
every check and reports the error. Every version that served a call stays available, so a
call in progress finishes on the version it started with, even after a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from ivr.flow.loading import load_flow, parse_flow
from ivr.flow.model import Flow
from ivr.flow.problems import FlowError

log = logging.getLogger(__name__)


class FlowArchive(Protocol):
    """Somewhere every served flow version is kept (the database, in production)."""

    def save(self, flow: Flow) -> None:
        """Keep this version's source."""

    def source_of(self, version: str) -> tuple[str, str] | None:
        """The (path, source) of a version, if kept."""

    def latest_of(self, path: str) -> tuple[str, str] | None:
        """The (path, source) of the newest version kept for a flow file, if any."""


class FlowRegistry:
    """The current flow of one file, older versions by id, and the last reload error."""

    def __init__(
        self,
        path: Path,
        *,
        prompts_dir: Path | None = None,
        check_interval_s: float = 2.0,
        archive: FlowArchive | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_refused: Callable[[FlowError], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.prompts_dir = prompts_dir
        self.check_interval_s = check_interval_s
        self.archive = archive
        self.clock = clock
        self.on_refused = on_refused  # e.g. counts ivr_flow_reload_errors_total; flow/ imports no metrics
        self.last_error: FlowError | None = None
        self.started_from_archive: str | None = None
        """The stored version served because the file was invalid at start (None once it is fixed)."""
        self.reloads = 0
        self._lock = threading.Lock()
        self._signature = self._file_signature()
        try:
            self._current = load_flow(self.path, prompts_dir=prompts_dir)
        except FlowError as exc:
            # A restart must not turn a bad edit into an outage: serve the last good version.
            stored = self._last_good()
            if stored is None:
                raise  # nothing ever served from this file: refuse to start
            self._current = stored
            self.last_error = exc
            self.started_from_archive = stored.version
            log.error(
                "flow.invalid_at_start: %s is invalid (%s); serving the last good version %s "
                "from the database until the file is fixed", self.path, exc.first, stored.version,
            )
        self._versions: dict[str, Flow] = {self._current.version: self._current}
        self._next_check = clock() + check_interval_s
        self._archive(self._current)

    @property
    def current(self) -> Flow:
        """The flow new calls start on (checked for a changed file at most every interval)."""
        if self.clock() >= self._next_check:
            self.reload_if_changed()
        return self._current

    def known(self, version: str) -> Flow | None:
        """A version this process has loaded, without asking the archive."""
        return self._versions.get(version)

    def get(self, version: str) -> Flow:
        """The flow a call started on; the current one if that version is gone everywhere."""
        flow = self._versions.get(version)
        if flow is not None:
            return flow
        if self.archive is not None:
            try:
                kept = self.archive.source_of(version)
            except Exception:
                log.exception("flow.archive_failed")
                kept = None
            if kept is not None:
                try:
                    flow = parse_flow(kept[1], kept[0], prompts_dir=None)
                except FlowError:
                    flow = None
                if flow is not None and flow.version == version:
                    self._versions[version] = flow
                    return flow
        log.warning("flow.version_missing", extra={"flow_version": version})
        return self.current

    def reload_if_changed(self) -> bool:
        """Swap to the file's new content if it changed and is valid; True if swapped."""
        with self._lock:
            self._next_check = self.clock() + self.check_interval_s
            signature = self._file_signature()
            if signature == self._signature:
                return False
            self._signature = signature
            try:
                flow = load_flow(self.path, prompts_dir=self.prompts_dir)
            except FlowError as exc:
                self.last_error = exc
                log.error("flow.reload_refused: %s", exc.first)
                if self.on_refused is not None:
                    self.on_refused(exc)
                return False
            self.last_error = None
            self.started_from_archive = None
            if flow.version == self._current.version:
                return False
            self._versions[flow.version] = flow
            self._archive(flow)
            self._current = flow
            self.reloads += 1
            log.info("flow.reloaded", extra={"flow_version": flow.version})
            return True

    def _last_good(self) -> Flow | None:
        latest_of = getattr(self.archive, "latest_of", None)
        if latest_of is None:
            return None
        try:
            kept = latest_of(str(self.path))
            return parse_flow(kept[1], kept[0], prompts_dir=None) if kept else None
        except Exception:
            log.exception("flow.archive_failed")
            return None

    def _file_signature(self) -> tuple[float, int] | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return (stat.st_mtime, stat.st_size)

    def _archive(self, flow: Flow) -> None:
        if self.archive is None:
            return
        try:
            self.archive.save(flow)
        except Exception:
            # Keeping old versions is a convenience for restarts; it must never stop a call.
            log.exception("flow.archive_failed")
