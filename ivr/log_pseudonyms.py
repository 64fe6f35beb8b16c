"""Logs name calls, intakes and cases by pseudonyms under a key of the day, never by SID or row id.

A log line keeps its time to the millisecond. Were it to carry a CallSid, or the id of a call,
an intake or a case, whoever holds the logs and the database could date an anonymous report to
the second and match it against the phone company's records (issue 10, item 3). So those fields,
and any Twilio SID inside a message or traceback, are written as `~` + 12 hex digits: an HMAC under
a key drawn at random for each UTC day. The key lives only in Redis (every process of the line
shares it, so one call reads alike in web and worker logs that day) and expires after two days:
from then on nobody, whatever secrets they hold, can join that day's log lines to rows.
`ivr logs pseudonym` prints today's and yesterday's pseudonym of a SID or id, for tracing a fault.

Without Redis a process draws a key of its own (Redis is tried again every ten minutes): its pseudonyms are then
its own, never the raw values.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import threading
import time
from datetime import UTC, date, datetime

import redis
from redis.exceptions import RedisError

# Field name -> what kind of value it names (a pseudonym is per kind: intake 5 is not call 5).
FIELDS = {
    "call_sid": "call_sid", "source_call_sid": "call_sid", "parent_call_sid": "call_sid",
    "recording_sid": "recording_sid",
    "call_id": "call", "intake_id": "intake", "case_id": "case",
}
_SID_KINDS = {"CA": "call_sid", "RE": "recording_sid"}
SID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(CA|RE)[0-9a-f]{32}(?![0-9A-Za-z])")
KEY_TTL_S = 2 * 24 * 3600
_RETRY_S = 600.0  # a log line may wait on a down Redis at most this often


def _redis_key(day: date) -> str:
    return f"ivr:log-key:{day.isoformat()}"


class DayKeys:
    """The key of each UTC day: shared through Redis when it answers, else this process's own."""

    def __init__(self, redis_url: str | None = None) -> None:
        self._url = redis_url
        self._client: redis.Redis | None = None
        self._keys: dict[date, bytes] = {}
        self._shared: set[date] = set()
        self._retry_at = 0.0
        self._lock = threading.Lock()

    def key_for(self, day: date) -> bytes:
        """The day's key (drawn on first use)."""
        shared = self._keys.get(day)
        if shared is not None and day in self._shared:
            return shared  # the usual case: no lock, so a log line never waits on another thread
        with self._lock:
            if day in self._shared or (day in self._keys and time.monotonic() < self._retry_at):
                return self._keys[day]
            shared = self._from_redis(day)
            if shared is not None:
                self._keys = {d: k for d, k in self._keys.items() if d >= day.fromordinal(day.toordinal() - 2)}
                self._keys[day] = shared
                self._shared.add(day)
                return shared
            self._retry_at = time.monotonic() + _RETRY_S
            return self._keys.setdefault(day, secrets.token_bytes(32))

    def _redis(self) -> redis.Redis | None:
        if self._client is None and self._url:
            from ivr.queueing import make_redis  # plain URLs and Sentinel alike

            self._client = make_redis(self._url, timeout_s=0.2)
        return self._client

    def known(self, day: date) -> bytes | None:
        """The shared key of a day if Redis still has it (for `ivr logs pseudonym`)."""
        client = self._redis()
        if client is None:
            return None
        try:
            found = client.get(_redis_key(day))
        except RedisError:
            return None
        return found if isinstance(found, bytes) else None

    def _from_redis(self, day: date) -> bytes | None:
        try:
            client = self._redis()
            if client is None:
                return None
            client.set(_redis_key(day), secrets.token_bytes(32), nx=True, ex=KEY_TTL_S)
            found = client.get(_redis_key(day))
        except (RedisError, OSError, ValueError):
            return None
        return found if isinstance(found, bytes) else None


_keys = DayKeys()


def _after_fork_in_child() -> None:
    # RQ forks a work horse per job: a lock held by another thread at that moment would stay
    # held in the child for ever, and its first log line would wait on it.
    _keys._lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def use_redis(redis_url: str | None) -> None:
    """Share the day's key through this Redis (called when logging is configured)."""
    global _keys
    _keys = DayKeys(redis_url)


def pseudonym(kind: str, value: object, *, key: bytes | None = None) -> str:
    """`~` and 12 hex digits standing for `value` (of `kind`) in today's logs."""
    key = key if key is not None else _keys.key_for(datetime.now(UTC).date())
    digest = hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
    return "~" + digest[:12]


_PSEUDONYM = re.compile(r"~[0-9a-f]{12}")


def is_pseudonym(value: object) -> bool:
    """Whether a value is already written as a pseudonym."""
    return isinstance(value, str) and _PSEUDONYM.fullmatch(value) is not None


def field_kind(name: str) -> str | None:
    """The kind of value a log field names, if it must be written as a pseudonym."""
    return FIELDS.get(name)


def hide_sids(text: str) -> str:
    """Every Twilio call or recording SID in a text, replaced by its pseudonym."""
    if "CA" not in text and "RE" not in text:
        return text
    return SID_IN_TEXT.sub(lambda m: pseudonym(_SID_KINDS[m[1]], m[0]), text)


def pseudonyms_of(kind: str, value: str, today: date | None = None) -> list[tuple[date, str | None]]:
    """Today's and yesterday's pseudonym of a value (None for a day whose key is gone)."""
    today = today or datetime.now(UTC).date()
    days = [today, today.fromordinal(today.toordinal() - 1)]
    found = []
    for day in days:
        key = _keys.known(day)
        found.append((day, pseudonym(kind, value, key=key) if key is not None else None))
    return found
