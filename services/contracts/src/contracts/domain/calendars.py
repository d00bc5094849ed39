"""Business-hours calendars: validated on their own; plans and contracts refer to one by id."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, time
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from contracts.domain.errors import InvalidCalendar


@dataclass(frozen=True)
class WorkingHours:
    """One interval of a working day, in local wall-clock time."""

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


def validate_calendar(calendar: BusinessCalendar) -> BusinessCalendar:
    """The calendar with its days, hours and holidays in order, or InvalidCalendar naming the problem."""
    ensure_time_zone(calendar.time_zone)
    if len(set(calendar.working_days)) != len(calendar.working_days):
        raise InvalidCalendar("working_days lists a day twice")
    hours = sorted(calendar.working_hours, key=lambda interval: interval.start)
    for earlier, later in zip(hours, hours[1:], strict=False):
        if later.start < earlier.end:
            raise InvalidCalendar("working_hours intervals overlap")
    if calendar.working_days and not calendar.working_hours:
        raise InvalidCalendar("working days need working_hours")
    return replace(
        calendar,
        working_days=tuple(sorted(calendar.working_days)),
        working_hours=tuple(hours),
        holidays=tuple(sorted(set(calendar.holidays))),
    )


def ensure_time_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidCalendar(f"unknown time zone {name!r}") from None
