"""Twilio's SIDs, one exact pattern per kind, for the web and the workers alike.

A SID is two fixed letters and 32 lowercase hex digits. `\\A`/`\\Z` (not `^`/`$`, which let a
trailing newline through) and ASCII only (`[0-9a-f]`, never `\\d` or `\\w`, which match other scripts).
"""

from __future__ import annotations

import re
from typing import Literal

CALL_SID = re.compile(r"\ACA[0-9a-f]{32}\Z")
RECORDING_SID = re.compile(r"\ARE[0-9a-f]{32}\Z")
ACCOUNT_SID = re.compile(r"\AAC[0-9a-f]{32}\Z")

SidKind = Literal["call", "recording", "account"]
PATTERNS: dict[str, re.Pattern[str]] = {"call": CALL_SID, "recording": RECORDING_SID, "account": ACCOUNT_SID}


def is_sid(value: object, kind: SidKind) -> bool:
    """True when `value` is a SID of exactly this kind."""
    return isinstance(value, str) and PATTERNS[kind].match(value) is not None
