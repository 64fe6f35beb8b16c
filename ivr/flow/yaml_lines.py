"""Safe YAML loading that remembers the line of every key, so a problem can say where it stands."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ivr.flow.problems import FlowError, FlowProblem


class _LineLoader(yaml.SafeLoader):
    """A safe loader that remembers where each mapping key stands and refuses duplicate keys."""

    key_lines: dict[tuple[int, Any], int]
    map_lines: dict[int, int]
    duplicates: list[tuple[str, int]]


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    result: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, int | float) and not isinstance(key, bool):
            # Menu keys are keypad digits: "1" and 1 must mean the same thing.
            key = str(key)
        if key in result:
            loader.duplicates.append((str(key), key_node.start_mark.line + 1))
        result[key] = loader.construct_object(value_node, deep=True)
        loader.key_lines[id(result), key] = key_node.start_mark.line + 1
    loader.map_lines[id(result)] = node.start_mark.line + 1
    return result


_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


@dataclass
class Located:
    """Loaded YAML data with the line of each mapping and key, and the keys written twice."""

    data: Any
    key_lines: dict[tuple[int, Any], int]
    map_lines: dict[int, int]
    duplicates: list[tuple[str, int]]

    def line_of(self, loc: Iterable[Any]) -> int | None:
        """The line of the deepest key on `loc` that exists in the file."""
        current, line = self.data, self.map_lines.get(id(self.data))
        for part in loc:
            if isinstance(current, dict) and part in current:
                line = self.key_lines.get((id(current), part), line)
                current = current[part]
            elif isinstance(current, list) and isinstance(part, int) and part < len(current):
                current = current[part]
                line = self.map_lines.get(id(current), line)
            else:
                break
        return line


def load_yaml(text: str, path: str) -> Located:
    """The document in `text` with its key lines and repeated keys; FlowError if it is not YAML."""
    loader = _LineLoader(text)
    loader.key_lines = {}
    loader.map_lines = {}
    loader.duplicates = []
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark else None
        raise FlowError([FlowProblem(path, line, None, f"not valid YAML: {exc.problem}")]) from None
    finally:
        loader.dispose()
    return Located(data, loader.key_lines, loader.map_lines, loader.duplicates)


def read_config(path: Path) -> str:
    """A config file's text; FlowError naming the file if it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FlowError([FlowProblem(str(path), None, None, f"cannot read: {exc.strerror}")]) from None


def load_mapping(text: str, path: str) -> tuple[Located, list[FlowProblem]]:
    """A config document, which must be a mapping, and a problem for each key written twice.

    FlowError if the text is not YAML or not a mapping; the duplicate keys are returned, not
    raised, so they are reported together with whatever else is wrong.
    """
    located = load_yaml(text, path)
    problems = [
        FlowProblem(path, line, None, f"duplicate key {key!r}: the second silently replaces the first")
        for key, line in located.duplicates
    ]
    if not isinstance(located.data, dict):
        raise FlowError([FlowProblem(path, 1, None, "the file must be a mapping (name: value)")])
    return located, problems

