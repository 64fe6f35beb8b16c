"""Several lines, one flow each: `config/lines.yaml` says which flow a dialled number plays.

A call's `To` (the number the caller dialled, in E.164) picks its line; a number nobody listed
gets the default line. Each line's flow file reloads on its own, exactly as a single flow
does (`FlowRegistry`), so a bad edit to one line's file never touches another line.

Which file is read: when the folder of `IVR_FLOW_PATH` holds a `lines.yaml` that lists that
flow file, the lines file decides (so the shipped `config/flow.yaml` brings
`config/lines.yaml` along); `IVR_FLOW_PATH` may also name a lines file itself. A flow file no
lines file lists (a draft being tried out) serves alone, on every number.

`lines.yaml` is itself checked like a flow (file, line, what is wrong) and reloaded when it
changes; an invalid edit is refused whole and the last good mapping keeps serving.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ivr.flow.loading import load_flow
from ivr.flow.model import Flow
from ivr.flow.problems import FlowError, FlowProblem, plain_message
from ivr.flow.registry import FlowArchive, FlowRegistry
from ivr.flow.yaml_lines import load_mapping, read_config

log = logging.getLogger(__name__)

LINES_FILE = "lines.yaml"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
LINE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


# --------------------------------------------------------------------------- the file


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LineEntry(_Strict):
    """One line as written: its flow file (relative to lines.yaml) and the numbers that reach it."""

    flow: str
    numbers: list[str | int] = Field(default_factory=list)  # int: written without quotes, explained below


class LinesDocument(_Strict):
    """The whole of lines.yaml as written."""

    default: str
    lines: dict[str, LineEntry]


@dataclass(frozen=True)
class Line:
    """A checked line: its name, flow file and numbers."""

    name: str
    flow_path: Path
    numbers: tuple[str, ...]
    is_default: bool


@dataclass(frozen=True)
class LinesConfig:
    """A checked lines file (or the single flow standing in for one)."""

    path: Path | None
    lines: tuple[Line, ...]
    warnings: tuple[FlowProblem, ...] = ()

    @property
    def default(self) -> Line:
        """The line of every number nobody listed."""
        return next(line for line in self.lines if line.is_default)

    def line_for(self, number: str | None) -> Line:
        """The line a dialled number reaches; the default for unknown or missing numbers."""
        wanted = normalise_number(number or "")
        for line in self.lines:
            if wanted in line.numbers:
                return line
        return self.default

    def line_named(self, name: str) -> Line | None:
        """The line with this name, if any."""
        return next((line for line in self.lines if line.name == name), None)


def normalise_number(number: str) -> str:
    """A dialled number as lines.yaml writes it: `+` and digits only (Twilio sends E.164)."""
    digits = re.sub(r"\D", "", number)
    return f"+{digits}" if digits else ""


def single_line(flow_path: Path, name: str = "default") -> LinesConfig:
    """One flow on every number: what a flow file outside any lines file means."""
    return LinesConfig(None, (Line(name, Path(flow_path), (), True),))


def load_lines(path: Path | str) -> LinesConfig:
    """Read and check a lines file; raise FlowError listing every problem with its line."""
    path = Path(path)
    return parse_lines(read_config(path), path)


def parse_lines(text: str, path: Path) -> LinesConfig:
    """Check lines-file text as `load_lines` does; flow files are resolved next to `path`."""
    name = str(path)
    located, problems = load_mapping(text, name)
    try:
        doc = LinesDocument.model_validate(located.data)
    except ValidationError as exc:
        for error in exc.errors():
            at = [p for p in error["loc"] if p not in ("LineEntry",)]
            where = ".".join(str(p) for p in at)
            message = plain_message(error["type"], at, error["msg"])
            problems.append(FlowProblem(name, located.line_of(at), None, f"{where}: {message}"))
        raise FlowError(problems) from None

    warnings: list[FlowProblem] = []

    def problem(loc: list[Any], message: str, *, severity: str = "error") -> None:
        found = FlowProblem(name, located.line_of(loc), None, message, severity)  # type: ignore[arg-type]
        (problems if severity == "error" else warnings).append(found)

    if not doc.lines:
        problem(["lines"], "list at least one line")
    if doc.lines and doc.default not in doc.lines:
        problem(["default"], f"default line {doc.default!r} is not under lines:")
    owner: dict[str, str] = {}
    lines: list[Line] = []
    for line_name, entry in doc.lines.items():
        loc: list[Any] = ["lines", line_name]
        if not LINE_NAME.match(line_name):
            problem(loc, f"line name {line_name!r}: use lower-case letters, digits, - or _")
        flow_path = path.parent / entry.flow
        if not flow_path.is_file():
            problem([*loc, "flow"], f"flow file {entry.flow} does not exist next to {path.name}")
        for index, number in enumerate(entry.numbers):
            if isinstance(number, int):
                problem([*loc, "numbers", index],
                        f"put the number in quotes (\"+{number}\"): without them YAML drops the plus sign")
            elif not E164.match(number):
                problem([*loc, "numbers", index],
                        f"{number!r} is not an E.164 number (a plus, the country code, then the digits)")
            elif number in owner:
                problem([*loc, "numbers", index], f"{number} is already the number of line {owner[number]!r}")
            else:
                owner[number] = line_name
        if not entry.numbers and line_name != doc.default:
            problem([*loc, "numbers"], f"line {line_name!r} has no numbers, so no call can reach it",
                    severity="warning")
        lines.append(Line(line_name, flow_path, tuple(str(n) for n in entry.numbers), line_name == doc.default))
    if problems:
        raise FlowError(problems)
    return LinesConfig(path, tuple(lines), tuple(warnings))


def lines_path_for(flow_path: Path) -> Path | None:
    """The lines file that governs `flow_path`, or None when the flow serves alone."""
    flow_path = Path(flow_path)
    if flow_path.name == LINES_FILE:
        return flow_path
    candidate = flow_path.parent / LINES_FILE
    if not candidate.is_file():
        return None
    # An invalid lines file next to the flow is still its lines file: refuse it loudly.
    config = load_lines(candidate)
    resolved = flow_path.resolve()
    return candidate if any(line.flow_path.resolve() == resolved for line in config.lines) else None


def served_flows(flow_path: Path) -> list[Flow]:
    """Every distinct flow the lines serve (the one flow at `flow_path` when there is no lines file)."""
    lines_path = lines_path_for(flow_path)
    paths = [Path(flow_path)] if lines_path is None else [line.flow_path for line in load_lines(lines_path).lines]
    return [load_flow(path) for path in dict.fromkeys(paths)]


# --------------------------------------------------------------------------- serving


class FlowCatalog:
    """Every line's flow registry; reads like a FlowRegistry for the default line.

    `current`, `get` and `last_error` keep the single-flow API (health checks and older views
    use them); `for_number` is how a new call finds its flow.
    """

    def __init__(
        self,
        config: LinesConfig,
        *,
        prompts_dir: Path | None = None,
        check_interval_s: float = 2.0,
        archive: FlowArchive | None = None,
        on_refused: Callable[[FlowError], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.prompts_dir = prompts_dir
        self.check_interval_s = check_interval_s
        self.archive = archive
        self.on_refused = on_refused
        self.clock = clock
        self.lines_error: FlowError | None = None
        self._lock = threading.Lock()
        self._registries: dict[Path, FlowRegistry] = {}
        self._config = config
        self._registries = self._registries_for(config)  # an invalid flow at start: refuse to start
        self._signature = self._lines_signature()
        self._next_check = clock() + check_interval_s

    @classmethod
    def open(
        cls,
        flow_path: Path,
        *,
        prompts_dir: Path | None = None,
        check_interval_s: float = 2.0,
        archive: FlowArchive | None = None,
        on_refused: Callable[[FlowError], None] | None = None,
    ) -> FlowCatalog:
        """The catalog for a flow file: its lines file's lines, or the flow alone."""
        lines_path = lines_path_for(Path(flow_path))
        config = load_lines(lines_path) if lines_path else single_line(Path(flow_path))
        catalog = cls(config, prompts_dir=prompts_dir, check_interval_s=check_interval_s, archive=archive,
                      on_refused=on_refused)
        if lines_path is None:
            # Name the lone line after its flow, as admins know it ("public").
            registry = catalog.registry(config.default)
            catalog._config = single_line(Path(flow_path), registry.current.name)
        return catalog

    # -- what views use

    @property
    def config(self) -> LinesConfig:
        """The lines being served."""
        self._maybe_reload_lines()
        return self._config

    @property
    def lines(self) -> tuple[Line, ...]:
        """Every line, in file order."""
        return self.config.lines

    @property
    def current(self) -> Flow:
        """The default line's flow (what a call to an unknown number gets)."""
        return self.registry(self.config.default).current

    def for_number(self, number: str | None) -> Flow:
        """The flow a new call to `number` (Twilio's `To`) starts on."""
        return self.registry(self.config.line_for(number)).current

    def registry(self, line: Line) -> FlowRegistry:
        """The registry serving a line's flow file."""
        return self._registries[line.flow_path]

    def get(self, version: str) -> Flow:
        """The flow version a call started on, whichever line it belongs to."""
        for registry in list(self._registries.values()):
            found = registry.known(version)
            if found is not None:
                return found
        # Not loaded here (another process, or before a restart): the shared archive has it.
        return self.registry(self.config.default).get(version)

    @property
    def last_error(self) -> FlowError | None:
        """The first refused edit still on disk (lines file first), or None if all are served."""
        return next(iter(self.errors().values()), None)

    def errors(self) -> dict[str, FlowError]:
        """Refused edits by line name (`lines` for the lines file itself)."""
        found: dict[str, FlowError] = {}
        if self.lines_error is not None:
            found["lines"] = self.lines_error
        for line in self.lines:
            error = self.registry(line).last_error
            if error is not None:
                found[line.name] = error
        return found

    def served_from_archive(self) -> dict[str, str]:
        """Lines whose flow file was invalid at start, with the stored version they serve instead."""
        return {
            line.name: version
            for line in self.lines
            if (version := self.registry(line).started_from_archive) is not None
        }

    def reload_if_changed(self) -> bool:
        """Look at the lines file and every flow file now; True if anything was swapped."""
        with self._lock:
            self._next_check = self.clock()
        swapped = self._maybe_reload_lines()
        for registry in list(self._registries.values()):
            swapped = registry.reload_if_changed() or swapped
        return swapped

    # -- the lines file itself

    def _registries_for(self, config: LinesConfig) -> dict[Path, FlowRegistry]:
        registries: dict[Path, FlowRegistry] = {}
        for line in config.lines:
            if line.flow_path in registries:
                continue
            existing = self._registries.get(line.flow_path)
            registries[line.flow_path] = existing or FlowRegistry(
                line.flow_path,
                prompts_dir=self.prompts_dir,
                check_interval_s=self.check_interval_s,
                archive=self.archive,
                clock=self.clock,
                on_refused=self.on_refused,
            )
        return registries

    def _lines_signature(self) -> tuple[float, int] | None:
        if self._config.path is None:
            return None
        try:
            stat = self._config.path.stat()
        except OSError:
            return None
        return (stat.st_mtime, stat.st_size)

    def _maybe_reload_lines(self) -> bool:
        if self._config.path is None or self.clock() < self._next_check:
            return False
        with self._lock:
            self._next_check = self.clock() + self.check_interval_s
            signature = self._lines_signature()
            if signature == self._signature:
                return False
            self._signature = signature
            try:
                config = load_lines(self._config.path)
                registries = self._registries_for(config)  # a new line's flow must be valid too
            except FlowError as exc:
                self.lines_error = exc
                log.error("lines.reload_refused: %s", exc.first)
                if self.on_refused is not None:
                    self.on_refused(exc)
                return False
            self.lines_error = None
            # Registries of dropped lines stay reachable through `get` for calls still on them.
            self._registries = {**self._registries, **registries}
            self._config = config
            log.info("lines.reloaded", extra={"lines": [line.name for line in config.lines]})
            return True
