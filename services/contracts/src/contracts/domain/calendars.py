"""Business-hours calendars: validated on their own; plans and contracts refer to one by id."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, time
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from contracts.domain.errors import InvalidCalendar


@dataclass(frozen=True)
class WorkingHours:
    """One interval of a working day, in local wall-clock time; an `end` of 00:00 is the day's end."""

    start: time
    end: time


@dataclass(frozen=True)
class BusinessCalendar:
    """Working days (ISO weekdays, 1 = Monday) and hours, holidays by local date, in one time zone."""

    calendar_id: UUID
    name: str
    time_zone: str
    working_days: tuple[int, ...]
    working_hours: tuple[WorkingHours, ...]
    holidays: tuple[date, ...] = ()


def ordered_calendar(calendar: BusinessCalendar) -> BusinessCalendar:
    """The calendar with its days, hours and holidays in order.

    What a calendar may be is decided where it comes in, by contracts-schema's `CalendarFields`: the
    one rule every service reads calendars by, so a calendar saved here is never refused by another."""
    ensure_time_zone(calendar.time_zone)
    return replace(
        calendar,
        working_days=tuple(sorted(calendar.working_days)),
        working_hours=tuple(sorted(calendar.working_hours, key=lambda interval: interval.start)),
        holidays=tuple(sorted(set(calendar.holidays))),
    )


def ensure_time_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidCalendar(f"unknown time zone {name[:64]!r}") from None
