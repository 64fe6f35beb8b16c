"""Kazakhstan's working days (config/work_calendar.yaml): weekends, public holidays, transfers.

Deadlines counted in working days (ivr.cases.deadlines) step over this calendar. The file lists
every day off explicitly, including the moves of holidays that fall on a weekend, so nothing is
computed behind a person's back; the loader refuses a file that contradicts itself.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ivr.config_file import PlacedError, load_model

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[Weekday, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Holiday(_Strict):
    """A public holiday: a day off wherever it falls."""

    date: date
    name: str = Field(min_length=1)


class Transfer(_Strict):
    """перенос: a working day made a day off, or a weekend day made a working day."""

    date: date
    kind: Literal["day_off", "working_day"]
    reason: str = Field(min_length=1)


class WorkCalendar(_Strict):
    """Which days are working days; beyond `years`, only the weekend is off."""

    weekend: tuple[Weekday, ...] = ("saturday", "sunday")
    years: tuple[int, ...] = Field(min_length=1)
    holidays: tuple[Holiday, ...] = ()
    transfers: tuple[Transfer, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> WorkCalendar:
        seen: set[date] = set()
        entries = [("holidays", i, h.date) for i, h in enumerate(self.holidays)]
        entries += [("transfers", i, t.date) for i, t in enumerate(self.transfers)]
        for section, index, day in entries:
            if day.year not in self.years:
                raise PlacedError(f"{day} is outside the years listed ({', '.join(map(str, self.years))})",
                                  section, index)
            if day in seen:
                raise PlacedError(f"{day} is listed twice", section, index)
            seen.add(day)
        for index, transfer in enumerate(self.transfers):
            on_weekend = WEEKDAYS[transfer.date.weekday()] in self.weekend
            if transfer.kind == "working_day" and not on_weekend:
                raise PlacedError(f"{transfer.date} is a working day already: only a weekend day can be worked",
                                  "transfers", index)
            if transfer.kind == "day_off" and on_weekend:
                raise PlacedError(f"{transfer.date} is a weekend day already: a day off moves to a working day",
                                  "transfers", index)
        return self

    @cached_property
    def _days_off(self) -> frozenset[date]:
        return frozenset(h.date for h in self.holidays) | frozenset(
            t.date for t in self.transfers if t.kind == "day_off"
        )

    @cached_property
    def _worked(self) -> frozenset[date]:
        return frozenset(t.date for t in self.transfers if t.kind == "working_day")

    def covers(self, day: date) -> bool:
        """Whether the file lists this day's year (beyond it, holidays are unknown)."""
        return day.year in self.years

    def is_working_day(self, day: date) -> bool:
        """A working day in Kazakhstan."""
        if day in self._worked:
            return True
        if day in self._days_off:
            return False
        return WEEKDAYS[day.weekday()] not in self.weekend

    def add_working_days(self, start: date, count: int) -> date:
        """The `count`-th working day after `start` (`start` itself is not counted)."""
        day, left = start, count
        while left > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                left -= 1
        return day


def load_work_calendar(path: Path) -> WorkCalendar:
    """The calendar in `path`; ConfigFileError naming the file and line if it is wrong."""
    return load_model(path, WorkCalendar)
