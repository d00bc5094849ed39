"""Business-hours calendars: which category each minute of a time entry falls into.

Billing prices minutes by category and timetracking sums them in its summaries, so both count them here.

A minute is holiday, weekend, non-operational or operational, in that order of precedence, judged by
the local clock of the contract's time zone. Minutes themselves are real elapsed minutes in UTC, so a
one-hour entry across a daylight-saving change is still 60 minutes.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from contracts_schema.edge import working_hours_problem
from servicekit.dates import ONE_DAY
from servicekit.errors import DomainError

MINUTE = timedelta(minutes=1)
MIDNIGHT = time(0)
_DAYS_KEPT = 400
"""UTC days whose runs a calendar keeps (in each zone it is read in): a year and a month of them, a few
hundred bytes a day, so that a bill run's cycle is served and a process reading many calendars stays
within its memory budget."""


class InvalidCalendar(DomainError):
    """A business-hours calendar that cannot decide minute categories."""


class InvalidInstant(DomainError):
    """An instant without a time zone, which no calendar can place."""


class MinuteCategory(StrEnum):
    """Declared in order of precedence: a holiday on a weekend is a holiday."""

    HOLIDAY = "holiday"
    WEEKEND = "weekend"
    NON_OPERATIONAL = "non_operational"
    OPERATIONAL = "operational"


CATEGORIES = tuple(MinuteCategory)
"""The categories in order of precedence, listed once: iterating the enum class costs more than a tuple."""


@dataclass(frozen=True, slots=True)
class WorkingHours:
    """One interval of local working time, [start, end); an `end` of 00:00 means midnight at day's end."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise InvalidCalendar("working hours are local wall-clock times without a time zone")
        problem = working_hours_problem([(self.start, self.end)])
        if problem:
            raise InvalidCalendar(problem)

    def on(self, day: date) -> tuple[datetime, datetime]:
        """The interval as naive local datetimes on `day`."""
        end_day = day + timedelta(days=1) if self.end == time(0) else day
        return datetime.combine(day, self.start), datetime.combine(end_day, self.end)


@dataclass(frozen=True, slots=True)
class CategoryRun:
    """Consecutive minutes of one category, as they occur in time."""

    category: MinuteCategory
    minutes: int


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """Working days (ISO weekdays 1 = Monday .. 7 = Sunday), working hours and holidays in one time zone."""

    time_zone: str
    working_days: frozenset[int]
    working_hours: tuple[WorkingHours, ...]
    holidays: frozenset[date] = field(default_factory=frozenset)
    _days: dict[date, tuple[list[datetime], list[MinuteCategory]]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    """The category runs of each UTC day asked about (`_runs_of_utc_day`), worked out once."""
    _in_zones: dict[str, BusinessCalendar] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise InvalidCalendar(f"unknown time zone {self.time_zone!r}") from error
        if not self.working_days <= frozenset(range(1, 8)):
            raise InvalidCalendar(f"working days must be ISO weekdays 1..7, got {sorted(self.working_days)}")
        # The one rule of contracts-schema, which the edge applied to every calendar published since.
        problem = working_hours_problem([(hours.start, hours.end) for hours in self.working_hours])
        if problem:
            raise InvalidCalendar(problem)
        # Callers may list intervals in any order; the category walk needs them sorted.
        ordered = tuple(sorted(self.working_hours, key=lambda hours: hours.start))
        object.__setattr__(self, "working_hours", ordered)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def in_zone(self, time_zone: str) -> BusinessCalendar:
        """The same calendar read on another zone's clock (a contract may override its calendar's zone)."""
        if time_zone == self.time_zone:
            return self  # the usual case, and a calendar never changes: no copy (and no checks) per bill
        # One copy per zone, kept: a copy per bill would work out its days' runs afresh for each.
        found = self._in_zones.get(time_zone)
        if found is None:
            found = self._in_zones[time_zone] = replace(self, time_zone=time_zone)
        return found

    def category_runs(self, start: datetime, end: datetime) -> list[CategoryRun]:
        """The minutes of [start, end), cut down to whole minutes, as category runs in time order.

        Each minute's category depends on that minute alone, so the runs of a span are those of the
        UTC days it touches, cut to the span and joined: a day's runs are worked out once per
        calendar (a bill run asks for thousands of entries on the same few weeks of days)."""
        at, stop = to_whole_minute(start), to_whole_minute(end)
        runs: list[CategoryRun] = []
        while at < stop:
            day_ends, day_categories = self._runs_of_utc_day(at)
            index = bisect_right(day_ends, at)
            while at < stop and index < len(day_ends):
                run_end = day_ends[index] if day_ends[index] < stop else stop
                category = day_categories[index]
                if runs and runs[-1].category is category:  # across UTC midnight
                    runs[-1] = CategoryRun(category, runs[-1].minutes + (run_end - at) // MINUTE)
                else:
                    runs.append(CategoryRun(category, (run_end - at) // MINUTE))
                at = run_end
                index += 1
        return runs

    def _runs_of_utc_day(self, instant: datetime) -> tuple[list[datetime], list[MinuteCategory]]:
        """The runs of the UTC day of `instant` (in UTC), as the instant each ends and its category."""
        day = instant.date()
        found = self._days.get(day)
        if found is None:
            if len(self._days) >= _DAYS_KEPT:
                self._days.clear()
            midnight = datetime.combine(day, MIDNIGHT, UTC)
            found = self._days[day] = self._walk(midnight, midnight + ONE_DAY)
        return found

    def _walk(self, at: datetime, stop: datetime) -> tuple[list[datetime], list[MinuteCategory]]:
        """The runs of [at, stop), on whole minutes in UTC, found on the local clock step by step."""
        ends: list[datetime] = []
        categories: list[MinuteCategory] = []
        zone = self.zone
        while at < stop:
            local = at.astimezone(zone)
            offset = local.utcoffset()
            wall = local.replace(tzinfo=None)
            category, boundary = self._category_until(wall)
            # Step by wall-clock distance, then cut at a daylight-saving change inside the step,
            # because after it the wall clock no longer moves with UTC the same way.
            segment_end = min(stop, at + (boundary - wall))
            # Most steps keep one offset, which a look at their last minute tells without a call.
            if segment_end - at > MINUTE and (segment_end - MINUTE).astimezone(zone).utcoffset() != offset:
                segment_end = _first_offset_change(zone, at, segment_end, offset)
            if categories and categories[-1] is category:
                ends[-1] = segment_end
            else:
                ends.append(segment_end)
                categories.append(category)
            at = segment_end
        return ends, categories

    def minutes_by_category(self, start: datetime, end: datetime) -> dict[MinuteCategory, int]:
        """Minutes of [start, end) per category; every category is present, possibly with 0."""
        return total_by_category(self.category_runs(start, end))

    def _category_until(self, wall: datetime) -> tuple[MinuteCategory, datetime]:
        """Category of the local wall-clock minute `wall`, and the wall-clock time it stops applying."""
        day = wall.date()
        if day in self.holidays:
            return MinuteCategory.HOLIDAY, datetime.combine(day + ONE_DAY, MIDNIGHT)
        if day.isoweekday() not in self.working_days:
            return MinuteCategory.WEEKEND, datetime.combine(day + ONE_DAY, MIDNIGHT)
        # By the clock alone, and only the boundary that answers made into a datetime: this runs for
        # every run of every entry a bill counts.
        clock = wall.time()
        for hours in self.working_hours:
            if clock < hours.start:
                return MinuteCategory.NON_OPERATIONAL, datetime.combine(day, hours.start)
            if hours.end == MIDNIGHT or clock < hours.end:
                return MinuteCategory.OPERATIONAL, hours.on(day)[1]
        return MinuteCategory.NON_OPERATIONAL, datetime.combine(day + ONE_DAY, MIDNIGHT)


def to_whole_minute(instant: datetime) -> datetime:
    """The instant in UTC, cut down to the whole minute."""
    if instant.tzinfo is UTC:  # how instants come back from storage: called for every entry, often
        return (
            instant
            if not (instant.second or instant.microsecond)
            else instant.replace(second=0, microsecond=0)
        )
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise InvalidInstant(f"instant {instant.isoformat()} has no time zone")
    return instant.astimezone(UTC).replace(second=0, microsecond=0)


def total_by_category(runs: Iterable[CategoryRun]) -> dict[MinuteCategory, int]:
    totals = dict.fromkeys(CATEGORIES, 0)
    for run in runs:
        totals[run.category] += run.minutes
    return totals


def _first_offset_change(
    zone: ZoneInfo, start: datetime, end: datetime, offset: timedelta | None
) -> datetime:
    """`end`, or the first whole minute in (start, end) at which the zone's UTC offset leaves `offset`."""

    def offset_at(instant: datetime) -> timedelta | None:
        return instant.astimezone(zone).utcoffset()

    if end - start <= MINUTE or offset_at(end - MINUTE) == offset:
        return end
    # Invariant: the offset at `same` is still `offset`, at `changed` it is not.
    same, changed = start, end - MINUTE
    while changed - same > MINUTE:
        middle = same + ((changed - same) // MINUTE // 2) * MINUTE
        if offset_at(middle) == offset:
            same = middle
        else:
            changed = middle
    return changed
