"""Minute categories from a business-hours calendar, on the local clock of its time zone."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servicekit.business_hours import (
    BusinessCalendar,
    CategoryRun,
    InvalidCalendar,
    InvalidInstant,
    MinuteCategory,
    WorkingHours,
)

BERLIN = "Europe/Berlin"
EVERY_DAY = frozenset(range(1, 8))


def berlin(year: int, month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(BERLIN))


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


WEEKDAYS = frozenset({1, 2, 3, 4, 5})
NINE_TO_FIVE = (WorkingHours(time(9), time(17)),)
HOLIDAY, WEEKEND, NON_OP, OP = (
    MinuteCategory.HOLIDAY,
    MinuteCategory.WEEKEND,
    MinuteCategory.NON_OPERATIONAL,
    MinuteCategory.OPERATIONAL,
)


def berlin_office(holidays: frozenset[date] = frozenset()) -> BusinessCalendar:
    return BusinessCalendar(BERLIN, WEEKDAYS, NINE_TO_FIVE, holidays)


def test_runs_follow_time_order_and_merge_the_night_across_midnight() -> None:
    runs = berlin_office().category_runs(berlin(2025, 3, 3, 16), berlin(2025, 3, 4, 10))

    assert runs == [CategoryRun(OP, 60), CategoryRun(NON_OP, 16 * 60), CategoryRun(OP, 60)]


def test_a_day_that_is_not_a_working_day_is_weekend() -> None:
    minutes = berlin_office().minutes_by_category(berlin(2025, 3, 7, 16), berlin(2025, 3, 10, 10))

    assert minutes == {HOLIDAY: 0, WEEKEND: 2 * 24 * 60, NON_OP: 7 * 60 + 9 * 60, OP: 2 * 60}


def test_a_holiday_beats_a_weekend() -> None:
    saturday = date(2025, 3, 8)
    minutes = berlin_office(frozenset({saturday})).minutes_by_category(
        berlin(2025, 3, 8, 10), berlin(2025, 3, 9, 2)
    )

    assert minutes == {HOLIDAY: 14 * 60, WEEKEND: 2 * 60, NON_OP: 0, OP: 0}


def test_a_holiday_on_a_working_day_is_holiday_even_in_working_hours() -> None:
    runs = berlin_office(frozenset({date(2025, 3, 4)})).category_runs(
        berlin(2025, 3, 3, 16), berlin(2025, 3, 4, 10)
    )

    assert runs == [CategoryRun(OP, 60), CategoryRun(NON_OP, 7 * 60), CategoryRun(HOLIDAY, 10 * 60)]


def test_several_working_intervals_leave_the_lunch_break_non_operational() -> None:
    calendar = BusinessCalendar(
        BERLIN, WEEKDAYS, (WorkingHours(time(13), time(17)), WorkingHours(time(9), time(12)))
    )

    runs = calendar.category_runs(berlin(2025, 3, 3, 11), berlin(2025, 3, 3, 14))

    assert runs == [CategoryRun(OP, 60), CategoryRun(NON_OP, 60), CategoryRun(OP, 60)]


def test_working_hours_may_run_to_midnight() -> None:
    calendar = BusinessCalendar(BERLIN, WEEKDAYS, (WorkingHours(time(18), time(0)),))

    runs = calendar.category_runs(berlin(2025, 3, 3, 17), berlin(2025, 3, 4, 1))

    assert runs == [CategoryRun(NON_OP, 60), CategoryRun(OP, 6 * 60), CategoryRun(NON_OP, 60)]


def test_instants_are_cut_down_to_the_whole_minute() -> None:
    minutes = berlin_office().minutes_by_category(berlin(2025, 3, 3, 9, 0, 59), berlin(2025, 3, 3, 9, 10, 30))

    assert minutes[OP] == 10


def test_an_hour_across_the_spring_daylight_saving_change_is_sixty_minutes() -> None:
    # Sunday 30 March 2025 in Berlin: 02:00 CET jumps to 03:00 CEST.
    runs = berlin_office().category_runs(berlin(2025, 3, 30, 1, 30), berlin(2025, 3, 30, 3, 30))

    assert runs == [CategoryRun(WEEKEND, 60)]


def test_the_local_clock_decides_categories_across_the_spring_change() -> None:
    calendar = BusinessCalendar(BERLIN, EVERY_DAY, (WorkingHours(time(3), time(17)),))

    # 01:30 CET to 03:30 CEST: half an hour before opening, half an hour after.
    runs = calendar.category_runs(utc(2025, 3, 30, 0, 30), utc(2025, 3, 30, 1, 30))

    assert runs == [CategoryRun(NON_OP, 30), CategoryRun(OP, 30)]


def test_the_repeated_autumn_hour_is_categorised_by_its_local_clock_both_times() -> None:
    calendar = BusinessCalendar(BERLIN, EVERY_DAY, (WorkingHours(time(2, 30), time(17)),))

    # Sunday 26 October 2025: 03:00 CEST falls back to 02:00 CET, so 02:00-02:59 happens twice.
    runs = calendar.category_runs(utc(2025, 10, 26, 0, 0), utc(2025, 10, 26, 1, 30))

    assert runs == [CategoryRun(NON_OP, 30), CategoryRun(OP, 30), CategoryRun(NON_OP, 30)]


def test_a_whole_year_is_split_without_losing_a_minute() -> None:
    minutes = berlin_office().minutes_by_category(berlin(2025, 1, 1, 0), berlin(2026, 1, 1, 0))

    # 2025 has 261 weekdays and 104 weekend days; the DST hours lost and regained are both on Sundays.
    assert minutes == {HOLIDAY: 0, WEEKEND: 104 * 1440, NON_OP: 261 * 16 * 60, OP: 261 * 8 * 60}
    assert sum(minutes.values()) == 365 * 24 * 60


def test_the_calendar_can_be_read_in_the_contract_zone() -> None:
    in_new_york = berlin_office().in_zone("America/New_York")

    # 10:00 in New York on a Monday is 15:00 in Berlin, but the New York clock decides.
    minutes = in_new_york.minutes_by_category(utc(2025, 3, 3, 15), utc(2025, 3, 3, 16))

    assert minutes[OP] == 60


def test_an_empty_or_reversed_span_has_no_minutes() -> None:
    assert berlin_office().category_runs(berlin(2025, 3, 3, 10), berlin(2025, 3, 3, 10, 0, 59)) == []
    assert berlin_office().category_runs(berlin(2025, 3, 3, 10), berlin(2025, 3, 3, 9)) == []


def test_naive_instants_are_refused() -> None:
    with pytest.raises(InvalidInstant):
        berlin_office().category_runs(datetime(2025, 3, 3, 9), datetime(2025, 3, 3, 10))


@pytest.mark.parametrize(
    ("working_days", "hours", "zone"),
    [
        (WEEKDAYS, (WorkingHours(time(9), time(13)), WorkingHours(time(12), time(17))), BERLIN),
        (frozenset({0, 1}), NINE_TO_FIVE, BERLIN),
        (WEEKDAYS, NINE_TO_FIVE, "Mars/Olympus_Mons"),
    ],
)
def test_a_calendar_that_cannot_decide_categories_is_refused(
    working_days: frozenset[int], hours: tuple[WorkingHours, ...], zone: str
) -> None:
    with pytest.raises(InvalidCalendar):
        BusinessCalendar(zone, working_days, hours)


def test_working_hours_must_end_after_they_start() -> None:
    with pytest.raises(InvalidCalendar):
        WorkingHours(time(17), time(9))


# --- the runs against each minute's category, found one minute at a time ---------------------------

ZONES = (
    BERLIN,
    "America/New_York",
    "Australia/Lord_Howe",  # a half-hour daylight-saving change
    "Asia/Kathmandu",  # +05:45
    "America/Santiago",  # changes at local midnight
    "Pacific/Apia",  # skipped 30 December 2011 altogether
    "Africa/Casablanca",  # leaves and takes up summer time around Ramadan
    "UTC",
)
HOURS = (
    NINE_TO_FIVE,
    (WorkingHours(time(0, 30), time(2, 45)), WorkingHours(time(3, 15), time(0))),
    (WorkingHours(time(2, 30), time(17)),),
    (WorkingHours(time(0), time(0)),),
)
CHANGES = [  # instants near daylight-saving changes and the other oddities of ZONES
    utc(2025, 3, 30, 1),
    utc(2025, 10, 26, 1),
    utc(2025, 3, 9, 7),
    utc(2025, 11, 2, 6),
    utc(2025, 4, 5, 15),
    utc(2025, 10, 4, 16),
    utc(2025, 4, 6, 3),
    utc(2025, 9, 7, 4),
    utc(2011, 12, 30, 10),
    utc(2025, 2, 23, 2),
    utc(2025, 4, 6, 2),
]


def minute_by_minute(calendar: BusinessCalendar, start: datetime, end: datetime) -> list[CategoryRun]:
    """What the rules say, one minute at a time: the local clock of each minute decides its category."""
    zone = ZoneInfo(calendar.time_zone)
    runs: list[CategoryRun] = []
    at = start
    while at < end:
        wall = at.astimezone(zone).replace(tzinfo=None)
        if wall.date() in calendar.holidays:
            category = HOLIDAY
        elif wall.isoweekday() not in calendar.working_days:
            category = WEEKEND
        elif any(
            hours.start <= wall.time() and (hours.end == time(0) or wall.time() < hours.end)
            for hours in calendar.working_hours
        ):
            category = OP
        else:
            category = NON_OP
        if runs and runs[-1].category is category:
            runs[-1] = CategoryRun(category, runs[-1].minutes + 1)
        else:
            runs.append(CategoryRun(category, 1))
        at += timedelta(minutes=1)
    return runs


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    hours=st.sampled_from(HOURS),
    near=st.sampled_from(CHANGES),
    offset_minutes=st.integers(-36 * 60, 36 * 60),
    length_minutes=st.integers(0, 50 * 60),
    holiday_offset=st.integers(-2, 2),
)
def test_runs_are_each_minutes_category_in_time_order_across_days_and_clock_changes(
    zone: str,
    hours: tuple[WorkingHours, ...],
    near: datetime,
    offset_minutes: int,
    length_minutes: int,
    holiday_offset: int,
) -> None:
    holiday = (near + timedelta(days=holiday_offset)).astimezone(ZoneInfo(zone)).date()
    calendar = BusinessCalendar(zone, WEEKDAYS, hours, frozenset({holiday}))
    start = near + timedelta(minutes=offset_minutes)
    end = start + timedelta(minutes=length_minutes)

    runs = calendar.category_runs(start, end)

    assert runs == minute_by_minute(calendar, start, end)
    assert calendar.category_runs(start, end) == runs  # and again, from the days worked out before


def test_a_calendar_read_in_another_zone_is_one_copy_per_zone() -> None:
    office = berlin_office()

    in_new_york = office.in_zone("America/New_York")

    assert in_new_york is office.in_zone("America/New_York")
    assert in_new_york == BusinessCalendar("America/New_York", WEEKDAYS, NINE_TO_FIVE)
    assert office.in_zone(BERLIN) is office
