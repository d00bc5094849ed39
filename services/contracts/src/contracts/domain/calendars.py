"""Business-hours calendars: validated on their own; plans and contracts refer to one by id."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from contracts.domain.errors import InvalidCalendar
from contracts_schema.contracts import BusinessCalendar


def validate_calendar(calendar: BusinessCalendar) -> BusinessCalendar:
    ensure_time_zone(calendar.time_zone)
    if len(set(calendar.working_days)) != len(calendar.working_days):
        raise InvalidCalendar("working_days lists a day twice")
    hours = sorted(calendar.working_hours, key=lambda interval: interval.start)
    for earlier, later in zip(hours, hours[1:], strict=False):
        if later.start < earlier.end:
            raise InvalidCalendar("working_hours intervals overlap")
    if calendar.working_days and not calendar.working_hours:
        raise InvalidCalendar("working days need working_hours")
    return calendar.model_copy(
        update={
            "working_days": sorted(calendar.working_days),
            "working_hours": hours,
            "holidays": sorted(set(calendar.holidays)),
        }
    )


def ensure_time_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidCalendar(f"unknown time zone {name!r}") from None
