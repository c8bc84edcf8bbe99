"""City time: the one definition of the hotline's time zone, its calendar day, how a
time is written for people and programs, and how a date or time they give is read.

The city is assessed per calendar day in its own time (`CALLCENTER_TIMEZONE`,
`Asia/Shanghai` by default), so a day cut, a 15-minute bucket, "today", a bare date in
a query or a time in an export is computed by a `CityTime` and nowhere else. The
process builds one from the settings and injects it; `SHANGHAI` is the default for
tests and tools that take none.

Every timestamp that leaves the service is ISO 8601 in city time with its offset, to
the second: `2026-12-02T09:15:03+08:00` (`CityTime.iso`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_S = 86400
DEFAULT_TIMEZONE = "Asia/Shanghai"

_BARE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class CityTimeError(ValueError):
    """A date or time that cannot be read, with what was given and what is accepted."""


def utcnow() -> datetime:
    """The wall clock as an aware UTC datetime (the default clock the process injects)."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """An aware UTC datetime from one the database handed back: SQLite returns naive
    UTC for `DateTime(timezone=True)` columns, PostgreSQL an aware one."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; a ValueError naming it when the system does not know it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r} (an IANA name such as {DEFAULT_TIMEZONE!r})"
        ) from None


@dataclass(frozen=True)
class CityTime:
    """The city's calendar: its zone, day, buckets, and the one timestamp format."""

    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TIMEZONE))

    @classmethod
    def named(cls, name: str) -> CityTime:
        return cls(zone(name))

    @property
    def name(self) -> str:
        return self.tz.key

    def offset_s(self, epoch: float) -> int:
        """The city's offset from UTC at `epoch`, in seconds (+28800 for UTC+8)."""
        offset = datetime.fromtimestamp(epoch, self.tz).utcoffset()
        return int(offset.total_seconds()) if offset is not None else 0

    def local(self, epoch: float) -> datetime:
        return datetime.fromtimestamp(epoch, self.tz)

    def day_start(self, epoch: float) -> int:
        """Epoch seconds of the start of the city's calendar day containing `epoch`."""
        return self.date_start(self.local(epoch).date())

    def date_start(self, day: date) -> int:
        """Epoch seconds of city midnight starting `day`."""
        return int(datetime.combine(day, time(0), self.tz).timestamp())

    def day_bounds(self, day: date) -> tuple[int, int]:
        """[start, end) of the city day `day`, in epoch seconds (23 or 25 h across a
        daylight-saving change, 24 h in China)."""
        return self.date_start(day), self.date_start(day + timedelta(days=1))

    def date_of(self, epoch: float) -> str:
        """The city's calendar date of `epoch`, as YYYY-MM-DD."""
        return self.local(epoch).date().isoformat()

    def bucket_start(self, epoch: float, size_s: int) -> int:
        """Start of the city-time bucket of `size_s` seconds (900, 3600, 86400)
        containing `epoch`: buckets are aligned on the city's clock, not UTC's."""
        offset = self.offset_s(epoch)
        return int(epoch + offset) // size_s * size_s - offset

    def iso(self, value: float | datetime) -> str:
        """The one timestamp format the service writes: ISO 8601, city time, offset,
        whole seconds. A naive datetime is taken as UTC (what SQLite hands back)."""
        if isinstance(value, datetime):
            moment = as_utc(value).astimezone(self.tz)
        else:
            moment = datetime.fromtimestamp(value, self.tz)
        return moment.isoformat(timespec="seconds")

    def iso_or_none(self, value: float | datetime | None) -> str | None:
        return None if value is None else self.iso(value)

    def read(self, value: str | datetime | date) -> datetime:
        """A date or time someone gave, as an aware datetime: a bare date is city
        midnight, a date-time without an offset is city time, one with an offset (or
        `Z`) is taken as given. Raises CityTimeError saying what was wrong."""
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, date):
            return datetime.combine(value, time(0), self.tz)
        else:
            text = value.strip()
            if _BARE_DATE.match(text):
                try:
                    return datetime.combine(date.fromisoformat(text), time(0), self.tz)
                except ValueError:
                    raise CityTimeError(f"{value!r} is not a real date") from None
            try:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T"))
            except ValueError:
                raise CityTimeError(
                    f"{value!r} is not a date or time: give YYYY-MM-DD (a city date), "
                    "YYYY-MM-DDTHH:MM[:SS] (city time) or one with an offset "
                    "(2026-12-02T09:00:00+08:00)"
                ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.tz)
        return moment

    def epoch(self, value: str | datetime | date) -> int:
        """`read`, as whole epoch seconds."""
        return int(self.read(value).timestamp())


SHANGHAI = CityTime()
