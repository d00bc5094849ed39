"""One validation of calendars: every calendar the contracts service accepts is read by billing and
timetracking, and a calendar contracts published before the edge checked offsets is read on the wall
clock (issue 11, failure 3: billing refused `09:00+05:00` and dead-lettered every time entry on it)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.adapters import wire as billing_wire
from contracts.adapters import wire as contracts_wire
from contracts_schema.contracts import BusinessCalendar, CalendarFields
from servicekit.business_hours import MinuteCategory
from timetracking.adapters import wire as timetracking_wire

PUBLISHED_WITH_OFFSETS = {
    "calendar_id": str(uuid.uuid4()),
    "name": "Tashkent office",
    "time_zone": "Asia/Tashkent",
    "working_days": [1, 2, 3, 4, 5],
    "working_hours": [
        {"start": "09:00:00+05:00", "end": "13:00:00+05:00"},
        {"start": "14:00", "end": "18:00"},
    ],
    "holidays": [],
}


def test_billing_and_timetracking_read_a_calendar_published_with_offsets_on_the_wall_clock() -> None:
    published = BusinessCalendar.model_validate(PUBLISHED_WITH_OFFSETS)
    monday_9_to_10_local = (datetime(2026, 3, 2, 4, tzinfo=UTC), datetime(2026, 3, 2, 5, tzinfo=UTC))

    for calendar in (
        billing_wire.business_calendar(published),
        timetracking_wire.business_calendar(published),
    ):
        assert calendar.minutes_by_category(*monday_9_to_10_local)[MinuteCategory.OPERATIONAL] == 60


_times = st.builds(time, st.integers(0, 23), st.integers(0, 59))


@st.composite
def _working_hours(draw: st.DrawFn) -> list[dict[str, str]]:
    cuts = sorted(draw(st.sets(_times, min_size=2, max_size=8)))
    ends_at_midnight = draw(st.booleans())
    pairs = list(zip(cuts[::2], cuts[1::2], strict=False))
    hours = [{"start": f"{start:%H:%M}", "end": f"{end:%H:%M}"} for start, end in pairs]
    if ends_at_midnight and len(cuts) % 2:
        hours.append({"start": f"{cuts[-1]:%H:%M}", "end": "24:00"})
    return draw(st.permutations(hours))


@settings(max_examples=200, deadline=None)
@given(
    working_days=st.lists(st.integers(1, 7), unique=True, min_size=1, max_size=7),
    working_hours=_working_hours(),
    time_zone=st.sampled_from(
        ["Europe/Berlin", "Asia/Tashkent", "America/St_Johns", "Etc/UTC", "Asia/Kathmandu"]
    ),
    holidays=st.lists(
        st.dates(min_value=datetime(2000, 1, 1).date(), max_value=datetime(2099, 12, 31).date()), max_size=5
    ),
)
def test_every_calendar_contracts_accepts_billing_and_timetracking_read(
    working_days: list[int], working_hours: list[dict[str, str]], time_zone: str, holidays: list[object]
) -> None:
    fields = CalendarFields.model_validate(
        {
            "name": "any",
            "time_zone": time_zone,
            "working_days": working_days,
            "working_hours": working_hours,
            "holidays": [str(day) for day in holidays],
        }
    )
    saved = contracts_wire.calendar_to_wire(contracts_wire.calendar_from_fields(uuid.uuid4(), fields))
    published = BusinessCalendar.model_validate_json(saved.model_dump_json())
    start = datetime(2026, 3, 2, tzinfo=UTC)

    for calendar in (
        billing_wire.business_calendar(published),
        timetracking_wire.business_calendar(published),
    ):
        assert sum(calendar.minutes_by_category(start, start.replace(day=9)).values()) == 7 * 24 * 60
