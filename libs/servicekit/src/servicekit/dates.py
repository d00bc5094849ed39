"""Calendar arithmetic every service does the same way: local days in a zone, months clamped."""

from __future__ import annotations

from calendar import monthrange
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

ONE_DAY = timedelta(days=1)


def add_months_clamped(start: date, months: int) -> date:
    """`start` moved by whole months, its day clamped to the length of the target month."""
    month_count = start.year * 12 + start.month - 1 + months
    year, month = divmod(month_count, 12)
    if start.day <= 28:  # every month has the day: no need to look up the month's length
        return date(year, month + 1, start.day)
    return date(year, month + 1, min(start.day, monthrange(year, month + 1)[1]))


def local_midnight_utc(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant at which `day` begins on the zone's clock."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def end_of_day_utc(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant at which `day` ends on the zone's clock (the next local midnight)."""
    return local_midnight_utc(day + ONE_DAY, zone)


def local_date(instant: datetime, zone: ZoneInfo) -> date:
    """The day on the zone's clock at `instant` (which must carry a time zone)."""
    if instant.tzinfo is None:
        raise ValueError(f"instant {instant.isoformat()} has no time zone")
    return instant.astimezone(zone).date()


def latest_local_date(instant: datetime) -> date:
    """The latest day any zone's clock shows at `instant` (the furthest zones are UTC+14)."""
    return (instant.astimezone(UTC) + timedelta(hours=14)).date()
