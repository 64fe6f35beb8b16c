"""One logging set-up for every process: structured events, caller data scrubbed.

Events are `noun.past_verb` with ids and counts. Code never logs `From`, `Caller` or a form;
the scrubbing processor is the backstop: it drops such keys at any depth, masks anything shaped
like a phone number, a case reference or a PIN in every string (messages, exception texts,
rendered tracebacks, URLs), so an anonymous caller's number cannot reach a log even by mistake.

CallSids, RecordingSids and the ids of calls, intakes and cases are written as pseudonyms under a
key of the day that Redis forgets after two days (`ivr.log_pseudonyms`): a log line's time
cannot be joined to an anonymous report for long.

Every process (web app, gunicorn, worker, sweeper, `ivr up`) writes the same fields: JSON lines,
or readable text when its stderr is a terminal (IVR_LOG_JSON forces one or the other).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

from ivr import log_pseudonyms
from ivr.cases.reference import is_valid_reference
from ivr.settings import Settings

REDACTED = "[redacted]"
SCRUBBED_KEYS = frozenset(
    {"from", "caller", "callername", "caller_name", "to", "called", "form", "contact", "number",
     "phone", "pin", "new_pin", "digits", "speechresult", "unstablespeechresult", "transcript", "text",
     "reference", "case_reference", "password", "secret", "token", "authorization"}
)
# Twilio sends where the caller is as well as who: every From*/Caller* field is the caller's.
_CALLER_PREFIXES = ("from", "caller")
# Field names that, written `name=value` or `"name": "value"` inside a string (a URL, a repr of a
# form, an exception message), mark the value as caller data. Generic words stay out of this list.
_TEXT_FIELDS = (
    r"from\w*|caller\w*|digits|speechresult|unstablespeechresult|pin|reference|contact|phone"
)
_QUOTED_FIELD = re.compile(
    rf"""(?i)(['"])({_TEXT_FIELDS})\1(\s*[:=]\s*)(['"])(?:(?!\4).)*\4"""
)
_URL_FIELD = re.compile(rf"(?i)(?<![\w])({_TEXT_FIELDS})(=|%3D)[^&\s\"'<>,;)]*")
_ENCODED_PHONE = re.compile(r"(?i)%2B\d{6,15}")
# 10 to 15 digits standing alone, optionally with + and separators: phone numbers. Our ids are
# shorter, and SIDs and timestamps are glued to letters, which the look-arounds exclude.
_PHONE = re.compile(r"(?<![\w:.+-])\+?(?:\d[\s\-()]{0,2}){9,14}\d(?![\w:.-])")
# "PIN 4821", "pin=4821", "ПИН: 4821".
_PIN_WORD = re.compile(r"(?i)(\b(?:pin|пин)\w*\W{1,12})\d{3,8}\b")
# Case references are 8 digits whose Damm check holds; other 8-digit runs are left alone.
_EIGHT_DIGITS = re.compile(r"(?<![\w:.+-])\d{8}(?![\w:.-])")
_NOT_SCRUBBED = frozenset({"timestamp", "level", "logger", "event"})
_MAX_DEPTH = 8


def is_caller_key(key: object) -> bool:
    """True for a field name whose value is caller data (or a secret) whatever it holds."""
    name = str(key).lower().replace("-", "_")
    return name in SCRUBBED_KEYS or name.replace("_", "") in SCRUBBED_KEYS or name.startswith(_CALLER_PREFIXES)


def scrub_text(text: str) -> str:
    """A string with caller fields, phone numbers, references and PINs masked."""
    text = _QUOTED_FIELD.sub(lambda m: f"{m[1]}{m[2]}{m[1]}{m[3]}{m[4]}{REDACTED}{m[4]}", text)
    text = _URL_FIELD.sub(lambda m: f"{m[1]}{m[2]}{REDACTED}", text)
    text = _ENCODED_PHONE.sub(REDACTED, text)
    text = _PHONE.sub(REDACTED, text)
    text = _PIN_WORD.sub(lambda m: f"{m[1]}{REDACTED}", text)
    text = log_pseudonyms.hide_sids(text)
    return _EIGHT_DIGITS.sub(lambda m: REDACTED if is_valid_reference(m[0]) else m[0], text)


def scrub(value: Any, _depth: int = 0) -> Any:
    """A value with caller data masked, however deeply it is nested."""
    if isinstance(value, str):
        return scrub_text(value)
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        return REDACTED if len(str(abs(value))) >= 10 else value  # a phone number kept as an int
    if _depth >= _MAX_DEPTH:
        return REDACTED
    if isinstance(value, Mapping):
        return {k: _scrub_field(k, v, _depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [scrub(item, _depth + 1) for item in value]
    if isinstance(value, BaseException):
        return scrub_text(f"{type(value).__name__}: {value}")
    return scrub_text(str(value))


def _scrub_field(key: object, value: Any, depth: int) -> Any:
    if is_caller_key(key):
        return REDACTED
    kind = log_pseudonyms.field_kind(str(key))
    if kind is not None and isinstance(value, str | int) and not isinstance(value, bool) \
            and not log_pseudonyms.is_pseudonym(value):  # scrubbing runs twice on structlog's events
        return log_pseudonyms.pseudonym(kind, value)  # an id or SID would date the call (log_pseudonyms.py)
    return scrub(value, depth)


def scrub_caller_data(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: drop caller-data keys, mask caller data in everything left."""
    for key in list(event):
        if key.startswith("_") or key == "exc_info":
            continue  # structlog's own bookkeeping; exc_info is rendered (then scrubbed) first
        if key in _NOT_SCRUBBED:
            if key == "event":
                event[key] = scrub(event[key])
            continue
        event[key] = _scrub_field(key, event[key], 0)
    return event


class _ScrubFilter(logging.Filter):
    """The same backstop on the record itself, for handlers that format it their own way."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = scrub_text(record.msg)
        if record.args:
            if isinstance(record.args, Mapping):
                record.args = scrub(dict(record.args))
            else:
                args = record.args if isinstance(record.args, tuple) else (record.args,)
                record.args = tuple(a if isinstance(a, int | float) else scrub(a) for a in args)
        return True


def wants_json(settings: Settings) -> bool:
    """JSON lines unless IVR_LOG_JSON says otherwise or, when unset, stderr is a terminal."""
    if settings.log_json is not None:
        return settings.log_json
    isatty = getattr(sys.stderr, "isatty", None)
    return not (isatty and isatty())


def configure_logging(settings: Settings) -> None:
    """Route stdlib and structlog through one JSON (or console) renderer with scrubbing."""
    log_pseudonyms.use_redis(settings.redis_url)  # the day's pseudonym key, shared by every process
    configure_logging_as(level=settings.log_level, as_json=wants_json(settings))


def configure_logging_as(*, level: str = "INFO", as_json: bool = True) -> None:
    """The set-up itself, for processes that may not have valid settings (gunicorn's master)."""
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False, default=str)
        if as_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # Tracebacks are rendered to text before scrubbing, so they are kept and cleaned alike.
    render_exception = structlog.processors.format_exc_info
    structlog.configure(
        processors=[*shared, render_exception, scrub_caller_data,
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, render_exception,
                        scrub_caller_data, renderer],
            foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        )
    )
    handler.addFilter(_ScrubFilter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_ivr", False):
            root.removeHandler(existing)
    handler._ivr = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())


def get_logger(name: str) -> Any:
    """A structured logger."""
    return structlog.get_logger(name)
