"""How times read on the console: Kazakhstan's time zone, dates, clock times and recording lengths.

The same in every language, so no translation is involved (ivr.i18n holds the words).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo


def _zone() -> tzinfo:
    # Kazakhstan keeps one time zone, UTC+5, since 1 March 2024; zoneinfo knows it when tzdata is recent.
    try:
        from zoneinfo import ZoneInfo

        zone = ZoneInfo("Asia/Almaty")
        if zone.utcoffset(datetime(2025, 1, 1)) == timedelta(hours=5):
            return zone
    except Exception:  # no tz database on this machine
        pass
    return timezone(timedelta(hours=5), "+05")


DISPLAY_ZONE = _zone()


def local_time(moment: datetime | None) -> datetime | None:
    """A stored UTC time in Kazakhstan's time (SQLite returns naive UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(DISPLAY_ZONE)


# How people in Kazakhstan write a date (in Russian, Kazakh and on the console in English alike).
DATE_FORMAT = "%d.%m.%Y"
DATE_PATTERN = r"\d{1,2}\.\d{1,2}\.\d{4}|\d{4}-\d{2}-\d{2}"  # an <input pattern>: 05.03.2026 or ISO
_DOTTED = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")


def format_date(day: date | None) -> str:
    """05.03.2026 (empty for no date): what a date field shows, and takes back."""
    return day.strftime(DATE_FORMAT) if day else ""


def parse_date(raw: str) -> date | None:
    """A date as people type it (05.03.2026, 5.3.2026) or as older links carry it (2026-03-05); None if neither.

    The console's date fields are text fields with this format rather than <input type=date>, whose
    widget follows the browser's locale (mm/dd/yyyy in many) rather than the console's language.
    """
    raw = raw.strip()
    if not raw:
        return None
    dotted = _DOTTED.fullmatch(raw)
    try:
        if dotted:
            day, month, year = (int(part) for part in dotted.groups())
            return date(year, month, day)
        return date.fromisoformat(raw) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw) else None
    except ValueError:
        return None


def format_datetime(moment: datetime | None) -> str:
    """27.11.2026 14:05, in Kazakhstan's time; the same in every language."""
    local = local_time(moment)
    return local.strftime("%d.%m.%Y %H:%M") if local else "—"


def format_time(moment: datetime | None) -> str:
    """14:05:09 in Kazakhstan's time."""
    local = local_time(moment)
    return local.strftime("%H:%M:%S") if local else "—"


def format_duration(seconds: float | None) -> str:
    """m:ss for a recording's length."""
    if seconds is None:
        return "—"
    total = round(seconds)
    return f"{total // 60}:{total % 60:02d}"
