"""What is wrong with a flow file, located by file, line and node for the admin who has to fix it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class FlowProblem:
    """One thing wrong with a flow file, located for the admin who has to fix it."""

    path: str
    line: int | None
    node: str | None
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        node = f" [node {self.node}]" if self.node else ""
        return f"{where}:{node} {self.severity}: {self.message}"


class FlowError(Exception):
    """A flow that cannot serve calls; `problems` lists every error found, not just the first."""

    def __init__(self, problems: list[FlowProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))

    @property
    def first(self) -> FlowProblem:
        """The first problem, for a one-line log or page."""
        return self.problems[0]


def plain_message(error_type: str, loc: Sequence[Any], message: str) -> str:
    """pydantic's message about the field at `loc`, in the words of an admin editing YAML."""
    if error_type == "extra_forbidden":
        return f"unknown field {loc[-1]!r} (a typo?)"
    if error_type == "missing":
        return f"missing field {loc[-1]!r}"
    return message

