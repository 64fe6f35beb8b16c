"""Loading a flow: YAML with lines, then the model, then the checks; a flow failing any is refused whole.

Every problem is named by file, line and node, so an admin's typo can never reach a caller.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ivr.flow.checks import Checker
from ivr.flow.model import SAY_ITEM_TAGS, Flow, FlowDocument, normalize_words
from ivr.flow.problems import FlowError, FlowProblem, plain_message
from ivr.flow.yaml_lines import Located, load_mapping, read_config

# --------------------------------------------------------------------------- loading


def load_flow(path: Path | str, *, prompts_dir: Path | str | None = None) -> Flow:
    """Read and check a flow file; raise FlowError listing every problem with its line."""
    path = Path(path)
    return parse_flow(read_config(path), str(path), prompts_dir=Path(prompts_dir) if prompts_dir else None)


def parse_flow(text: str, path: str = "flow.yaml", *, prompts_dir: Path | None = None) -> Flow:
    """Check flow text as `load_flow` does; `path` only names the file in messages."""
    located, problems = load_mapping(text, path)
    try:
        doc = FlowDocument.model_validate(located.data)
    except ValidationError as exc:
        problems += _pydantic_problems(exc, located, path)
        raise FlowError(problems) from None
    checker = Checker(doc, located, path, prompts_dir)
    problems += checker.run()
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise FlowError(errors)
    by_code = {r.code: r for r in doc.regions}
    aliases: dict[str, str] = {}
    for region in doc.regions:
        for spoken in [*region.names.values(), *(a for lst in region.aliases.values() for a in lst)]:
            aliases[normalize_words(spoken)] = region.code
    version = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    return Flow(
        version=version,
        doc=doc,
        path=path,
        source=text,
        warnings=tuple(problems),
        regions_by_code=by_code,
        region_aliases=aliases,
    )


def _pydantic_problems(exc: ValidationError, located: Located, path: str) -> list[FlowProblem]:
    problems, seen = [], set()
    for error in exc.errors():
        loc = _admin_loc(error["loc"])
        node = str(loc[1]) if len(loc) > 1 and loc[0] == "nodes" else None
        where = ".".join(str(p) for p in loc)
        message = plain_message(error["type"], loc, error["msg"])
        if error["type"] == "union_tag_invalid":
            message = f"unknown kind; use one of: {', '.join(_KINDS)}"
        elif error["type"] == "literal_error":
            message = f"{error['input']!r} is not allowed; {error['msg'].lower()}"
        if (where, message) in seen:
            continue  # a union reports the same mistake once per member it tried
        seen.add((where, message))
        problems.append(FlowProblem(path, located.line_of(loc), node, f"{where}: {message}"))
    return problems


_KINDS = ("say", "menu", "digits", "region", "record", "dial", "set", "hangup", "lookup")
_MEMBER_NAMES = frozenset(
    {"str", "MessageRef", "DigitsRef", "RecordingRef", "Message", "CaseStatusRef", "ReporterMessageRef",
     "RegionRef"}
)


def _admin_loc(loc: tuple[Any, ...]) -> list[Any]:
    """The error's path as the admin wrote it: pydantic inserts union tags and class names."""
    parts = list(loc)
    if len(parts) > 2 and parts[0] == "nodes" and parts[2] in _KINDS:
        del parts[2]
    # A say item's tag follows its index in the list: ("say", 0, "message", ...).
    parts = [p for i, p in enumerate(parts)
             if not (i > 0 and isinstance(parts[i - 1], int) and p in ("str", "unknown", *SAY_ITEM_TAGS))]
    return [p for p in parts if not (isinstance(p, str) and (p in _MEMBER_NAMES or "[" in p))]
