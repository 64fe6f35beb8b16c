"""Read a YAML config file into a pydantic model, with errors that name the file and line.

Used by the small files under config/ (deadlines, the working-day calendar, the receiving bodies,
the speech engines): a person edits
them by hand, so a mistake must say where it is, in one line per problem, with no traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)
ROOT = Path(__file__).resolve().parent.parent


class ConfigFileError(ValueError):
    """A config file is missing, unreadable or wrong; the message names the file and line."""


class PlacedError(ValueError):
    """Raised by a model-wide validator about one entry: `loc` (e.g. ("transfers", 2)) finds its line."""

    def __init__(self, message: str, *loc: str | int) -> None:
        super().__init__(message)
        self.loc = tuple(str(part) for part in loc)


def resolve(path: Path) -> Path:
    """A relative path as given if it exists here, else under the project's folder (where config/ ships)."""
    path = Path(path)
    if path.is_absolute() or path.exists():
        return path
    return ROOT / path


class _Loader(yaml.SafeLoader):
    """Dates stay text for pydantic to check: YAML's own date parsing fails without a line number."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_model(path: Path, model: type[Model]) -> Model:
    """The file's contents validated as `model`; ConfigFileError ("file:line: where: what") if not."""
    path = resolve(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigFileError(f"{path}: unreadable ({error.strerror})") from None
    return parse_model(text, path, model)


def parse_model(text: str, path: Path | str, model: type[Model]) -> Model:
    """YAML text validated as `model`; errors name `path` and the line of each problem."""
    try:
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader, without timestamps
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigFileError(f"{where}: not valid YAML: {error.problem}") from None
    lines: dict[tuple[str, ...], int] = {}
    if node is not None:
        _note_lines(node, (), lines)
    try:
        return model.model_validate(data or {})
    except ValidationError as error:
        problems = []
        for item in error.errors():
            loc = tuple(str(part) for part in item["loc"])
            cause = (item.get("ctx") or {}).get("error")
            if isinstance(cause, PlacedError):
                loc = (*loc, *cause.loc)
            line = next((lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in lines), None)
            where = f"{path}:{line}" if line else str(path)
            message = str(item["msg"]).removeprefix("Value error, ")
            problems.append(f"{where}: {'.'.join(loc) or 'file'}: {message}")
        raise ConfigFileError("; ".join(problems)) from None


def _note_lines(node: yaml.Node, loc: tuple[str, ...], lines: dict[tuple[str, ...], int]) -> None:
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            lines[(*loc, str(key.value))] = key.start_mark.line + 1
            _note_lines(value, (*loc, str(key.value)), lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _note_lines(item, (*loc, str(index)), lines)
