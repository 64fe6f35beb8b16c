"""The duty officer's rota: who is rung for "a bribe is being demanded right now", by day and hour.

`numbers.duty_officer` in a flow is either one number (on duty around the clock; empty: nobody) or
a list of shifts in Asia/Almaty time::

    duty_officer:
      - {days: mon-fri, hours: "09:00-18:00", numbers: ["+77172000001", "+77172000002"]}
      - {days: daily, hours: "18:00-09:00", numbers: ["+77172000003"]}   # overnight, into the next day

Everyone on duty at the moment is rung in turn, in the order written (shift by shift), each for
the dial node's `timeout_s`; when nobody answers, or nobody is on duty, the caller records a
message that is marked urgent. `ivr flow check` names the hours that go straight to recording.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

ZONE = ZoneInfo("Asia/Almaty")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_GROUPS = {"daily": DAYS, "weekdays": DAYS[:5], "weekends": DAYS[5:]}
DAY_MINUTES = 24 * 60
WEEK_MINUTES = 7 * DAY_MINUTES
_HOURS = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
# E.164: what Twilio dials. A local "8 7172 ..." would be dialled as a US number.
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")


def _days(value: Any) -> tuple[str, ...]:
    """"mon-fri", "sat", "daily", "weekdays", "weekends", or a list of those, as day names in week order."""
    parts = value if isinstance(value, list) else [value]
    days: set[str] = set()
    for part in parts:
        if not isinstance(part, str):
            raise ValueError(f"{part!r} is not a day; write mon, tue, ... sun, a range like mon-fri, or daily")
        word = part.strip().lower()
        if word in DAY_GROUPS:
            days.update(DAY_GROUPS[word])
            continue
        first, _, last = word.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"{part!r} is not a day; write mon, tue, ... sun, a range like mon-fri, or daily")
        start, end = DAYS.index(first), DAYS.index(last or first)
        days.update(DAYS[(start + i) % 7] for i in range((end - start) % 7 + 1))
    if not days:
        raise ValueError("name at least one day")
    return tuple(day for day in DAYS if day in days)


def _minutes(hours: str) -> tuple[int, int]:
    """"09:00-18:00" as minutes from midnight; an end at or before the start runs into the next day."""
    match = _HOURS.match(hours.strip())
    if not match:
        raise ValueError(f"{hours!r} is not a time range; write it like 09:00-18:00 (Almaty time)")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
        raise ValueError(f"{hours!r} is not a time of day; hours run 00:00 to 24:00")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start == end and end != 0:
        raise ValueError(f"{hours!r} is empty; for the whole day write 00:00-24:00")
    return start, end


class Shift(BaseModel):
    """Numbers on duty on some days between two times of day (Asia/Almaty)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: Annotated[tuple[str, ...], BeforeValidator(_days)] = DAY_GROUPS["daily"]
    hours: str = "00:00-24:00"
    numbers: list[str] = Field(min_length=1)

    @field_validator("hours")
    @classmethod
    def _hours_read(cls, value: str) -> str:
        _minutes(value)
        return value

    @field_validator("numbers")
    @classmethod
    def _numbers_dialable(cls, value: list[str]) -> list[str]:
        for number in value:
            if not _E164.match(number):
                raise ValueError(f"{number!r} is not a number Twilio can dial; write it as +7XXXXXXXXXX")
        return value

    def spans(self) -> list[tuple[int, int]]:
        """The minutes of the week (Monday 00:00 = 0) this shift covers, as [start, end) pieces."""
        start, end = _minutes(self.hours)
        length = (end - start) % DAY_MINUTES or DAY_MINUTES
        pieces = []
        for day in self.days:
            begin = DAYS.index(day) * DAY_MINUTES + start
            finish = begin + length
            if finish <= WEEK_MINUTES:
                pieces.append((begin, finish))
            else:  # Sunday night into Monday morning
                pieces += [(begin, WEEK_MINUTES), (0, finish - WEEK_MINUTES)]
        return pieces


def _rota(value: Any) -> Any:
    """A plain string is the old single number: on duty around the clock (empty: nobody)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [{"numbers": [value.strip()]}] if value.strip() else []
    return value


Rota = Annotated[list[Shift], BeforeValidator(_rota)]


def week_minute(moment: datetime) -> int:
    """Minutes since Monday 00:00 in Almaty; a naive moment is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    local = moment.astimezone(ZONE)
    return local.weekday() * DAY_MINUTES + local.hour * 60 + local.minute


def on_duty(rota: Sequence[Shift], moment: datetime) -> tuple[str, ...]:
    """The numbers to ring at `moment`, in the rota's order, each once."""
    minute = week_minute(moment)
    numbers: list[str] = []
    for shift in rota:
        if any(begin <= minute < end for begin, end in shift.spans()):
            numbers += [n for n in shift.numbers if n not in numbers]
    return tuple(numbers)


def gaps(rota: Sequence[Shift]) -> list[tuple[int, int]]:
    """The minutes of the week nobody is on duty, as [start, end) pieces in week order."""
    covered = sorted(piece for shift in rota for piece in shift.spans())
    found, at = [], 0
    for begin, end in covered:
        if begin > at:
            found.append((at, begin))
        at = max(at, end)
    if at < WEEK_MINUTES:
        found.append((at, WEEK_MINUTES))
    return found


def describe_gaps(pieces: Sequence[tuple[int, int]]) -> str:
    """"sat 00:00-mon 09:00, tue 18:00-wed 09:00" (Almaty time), for an admin."""
    return ", ".join(f"{_clock(begin)}-{_clock(end, is_end=True)}" for begin, end in pieces)


def _clock(minute: int, *, is_end: bool = False) -> str:
    if is_end and minute % DAY_MINUTES == 0:
        return f"{DAYS[(minute // DAY_MINUTES - 1) % 7]} 24:00"
    day, rest = divmod(minute % WEEK_MINUTES, DAY_MINUTES)
    return f"{DAYS[day]} {rest // 60:02d}:{rest % 60:02d}"
