"""The bodies a forwarded case can go to (config/recipients.yaml), checked with file and line.

    recipients:
      - code: agency-05
        kind: agency                 # agency | prosecutor | police | other
        region: "05"                 # optional: the region it serves
        names: {kk: ..., ru: ..., en: ...}

The file is read again when it changes (a stat per use), so an edit needs no restart; an invalid
edit is refused with every problem named, and forwarding waits until it is fixed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from ivr.config_file import ConfigFileError, PlacedError, parse_model, resolve

RecipientKind = Literal["agency", "prosecutor", "police", "other"]
KINDS: tuple[RecipientKind, ...] = ("agency", "prosecutor", "police", "other")
LANGUAGES = ("kk", "ru", "en")


class RecipientsError(ValueError):
    """config/recipients.yaml is unreadable or wrong; the message names the file and line of each problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Names(_Strict):
    """A body's name in each console language, as the referral package prints it."""

    kk: str
    ru: str
    en: str

    @field_validator("kk", "ru", "en")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()


class Recipient(_Strict):
    """One receiving body."""

    code: str
    kind: RecipientKind
    region: str | None = None
    names: Names

    @field_validator("code")
    @classmethod
    def _code_shape(cls, value: str) -> str:
        if not value or len(value) > 64 or not all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in value):
            raise ValueError("must be 1-64 Latin letters, digits, '-' or '_'")
        return value

    @field_validator("region", mode="before")
    @classmethod
    def _region_shape(cls, value: object) -> object:
        if isinstance(value, int):
            raise ValueError('write the region code in quotes, e.g. "05" (a bare 05 is read as a number)')
        if isinstance(value, str) and not (len(value) == 2 and value.isdigit()):
            raise ValueError("must be a two-digit region code from config/flow.yaml, e.g. \"05\"")
        return value

    def name(self, language: str) -> str:
        """The name in this language (Russian when the language is not one of kk, ru, en)."""
        return str(getattr(self.names, language if language in LANGUAGES else "ru"))


class RecipientList(_Strict):
    """Every body operators may forward a case to, in the file's order."""

    recipients: list[Recipient]

    @model_validator(mode="after")
    def _codes_unique(self) -> RecipientList:
        seen: set[str] = set()
        for index, recipient in enumerate(self.recipients):
            if recipient.code in seen:
                raise PlacedError(f"code {recipient.code!r} is used twice", "recipients", index, "code")
            seen.add(recipient.code)
        if not self.recipients:
            raise ValueError("lists no recipient: forwarding would be impossible")
        return self

    def get(self, code: str | None) -> Recipient | None:
        """The body with this code, or None."""
        return next((r for r in self.recipients if r.code == code), None)


def parse_recipients(text: str, path: Path | str = "config/recipients.yaml") -> RecipientList:
    """Validate the text of a recipients file; RecipientsError names `path` and the line of each problem."""
    try:
        return parse_model(text, path, RecipientList)
    except ConfigFileError as error:
        raise RecipientsError(str(error)) from None


def load_recipients(path: Path) -> RecipientList:
    """The recipients in `path` (RecipientsError when missing or invalid), re-read when the file changes."""
    path = resolve(path)  # where config/ ships, when run from elsewhere
    try:
        stat = path.stat()
    except OSError as error:
        raise RecipientsError(f"{path}: cannot be read ({error.strerror})") from None
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    with _lock:
        cached = _cache.get(key[0])
        if cached is not None and cached[0] == key:
            return cached[1]
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise RecipientsError(f"{path}: cannot be read ({error.strerror})") from None
    parsed = parse_recipients(text, path)
    with _lock:
        _cache[key[0]] = (key, parsed)
    return parsed


def recipients_status(path: Path) -> str:
    """"ok", or the problems with the recipients file (for /readyz)."""
    try:
        load_recipients(path)
    except RecipientsError as error:
        return str(error)
    return "ok"


@dataclass(frozen=True)
class RecipientChoice:
    """One option of the console's list: code and name in the person's language."""

    code: str
    kind: str
    name: str


def choices(recipients: RecipientList, language: str, region_code: str | None = None) -> list[RecipientChoice]:
    """The list as the console offers it: the case's own region's bodies first, then national ones, then the rest."""

    def order(recipient: Recipient) -> tuple[int, int]:
        rank = 0 if region_code and recipient.region == region_code else 1 if recipient.region is None else 2
        return rank, KINDS.index(recipient.kind)

    ranked = sorted(recipients.recipients, key=order)
    return [RecipientChoice(r.code, r.kind, r.name(language)) for r in ranked]


_lock = threading.Lock()
_cache: dict[str, tuple[tuple[str, int, int], RecipientList]] = {}
