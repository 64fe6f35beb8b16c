"""One logging set-up for web and workers: structured events, caller data scrubbed.

Events are `noun.past_verb` with ids and counts. Code never logs `From`, `Caller` or a form;
the scrubbing processor is the backstop that drops such keys and masks anything shaped like a
phone number, so an anonymous caller's number cannot reach a log even by mistake.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from ivr.settings import Settings

SCRUBBED_KEYS = frozenset(
    {"from", "caller", "callername", "caller_name", "to", "called", "form", "contact", "number",
     "phone", "pin", "digits", "speechresult", "transcript", "text"}
)
# 10 to 15 digits standing alone, optionally with + and separators: phone numbers. Our ids are
# shorter, and SIDs and timestamps are glued to letters, which the look-arounds exclude.
_PHONE = re.compile(r"(?<![\w:.+-])\+?(?:\d[\s\-()]{0,2}){9,14}\d(?![\w:.-])")
_NOT_SCRUBBED = frozenset({"timestamp", "level", "logger"})


def scrub(value: Any) -> Any:
    """A value with phone-number-shaped digit runs masked."""
    if isinstance(value, str):
        return _PHONE.sub("[redacted]", value)
    return value


def scrub_caller_data(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: drop caller-data keys, mask numbers in what is left."""
    for key in list(event):
        if key in _NOT_SCRUBBED:
            continue
        if key.lower().replace("-", "_") in SCRUBBED_KEYS:
            event[key] = "[redacted]"
        else:
            event[key] = scrub(event[key])
    return event


class _ScrubFilter(logging.Filter):
    """The same backstop for records from the standard library and third-party code."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = scrub(record.msg)
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(scrub(a) for a in args)
        return True


def configure_logging(settings: Settings) -> None:
    """Route stdlib and structlog through one JSON (or console) renderer with scrubbing."""
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if settings.log_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, scrub_caller_data, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder(), scrub_caller_data],
        )
    )
    handler.addFilter(_ScrubFilter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_ivr", False):
            root.removeHandler(existing)
    handler._ivr = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())


def get_logger(name: str) -> Any:
    """A structured logger."""
    return structlog.get_logger(name)
