"""City time: the one definition of the hotline's time zone, its calendar day, and how
timestamps are read back from the database.

The city is assessed per calendar day in its own time (China has one zone, UTC+8, with
no daylight saving), so a day cut, a 15-minute bucket or "today" is computed here and
nowhere else.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

CITY_TZ = ZoneInfo("Asia/Shanghai")
#: the city's fixed offset from UTC; period buckets are integer arithmetic on epochs
CITY_UTC_OFFSET_S = 8 * 3600
DAY_S = 86400


def utcnow() -> datetime:
    """The wall clock as an aware UTC datetime (the default clock the process injects)."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """An aware UTC datetime from one the database handed back: SQLite returns naive
    UTC for `DateTime(timezone=True)` columns, PostgreSQL an aware one."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def city_day_start(epoch: float) -> int:
    """Epoch seconds of the start of the city's calendar day containing `epoch`."""
    return int(epoch + CITY_UTC_OFFSET_S) // DAY_S * DAY_S - CITY_UTC_OFFSET_S


def city_date(epoch: float) -> str:
    """The city's calendar date of `epoch`, as YYYY-MM-DD."""
    return datetime.fromtimestamp(epoch, CITY_TZ).date().isoformat()
