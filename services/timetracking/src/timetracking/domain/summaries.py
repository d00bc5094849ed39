"""Summaries of time entries over a period, per rep or per account: minutes by category, billable or
not, billed or not, and other charges by currency.

An entry counts its minutes from its start: [start, start + minutes), the time taken where the rep
overrode it. Each minute's category (holiday, weekend, non-operational, operational) comes from the
business-hours calendar of the contract the entry is attached to, read on the contract's clock, as
billing counts them; the minutes of an entry without a contract, or whose contract's calendar
timetracking has not heard of, are `uncategorized`. Deleted entries count nowhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from servicekit.business_hours import BusinessCalendar, MinuteCategory
from servicekit.money import Money
from timetracking.domain.errors import InvalidPeriod
from timetracking.domain.time_entries import TimeEntry

MAX_SUMMARY_PERIOD = timedelta(days=366)
UNCATEGORIZED = "uncategorized"
CATEGORIES = (*(category.value for category in MinuteCategory), UNCATEGORIZED)


class GroupBy(StrEnum):
    REP = "rep"
    ACCOUNT = "account"


@dataclass(frozen=True, slots=True)
class SummaryQuery:
    """Entries started in [started_from, started_before), of one account or rep if given."""

    group_by: GroupBy
    started_from: datetime
    started_before: datetime
    account_id: str | None = None
    rep_id: str | None = None
    accounts: frozenset[str] | None = None
    """The accounts the caller may see; None: every account."""

    def check(self) -> None:
        if self.started_before <= self.started_from:
            raise InvalidPeriod("the period is empty: started_before must be after started_from")
        if self.started_before - self.started_from > MAX_SUMMARY_PERIOD:
            raise InvalidPeriod(f"a summary covers at most {MAX_SUMMARY_PERIOD.days} days")


@dataclass(frozen=True, slots=True)
class TimeSummary:
    """The time of one rep or account: `key` is the rep id or the account id."""

    key: str
    entries: int
    minutes: int
    minutes_by_category: Mapping[str, int]
    """Every category of `CATEGORIES`, possibly with 0; they add up to `minutes`."""
    billable_minutes: int
    non_billable_minutes: int
    billed_minutes: int
    unbilled_minutes: int
    other_charges: tuple[Money, ...]
    """One sum per currency, in currency order."""


@dataclass
class _Totals:
    entries: int = 0
    minutes: int = 0
    by_category: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CATEGORIES, 0))
    billable: int = 0
    billed: int = 0
    charges: dict[str, Money] = field(default_factory=dict)

    def add(self, entry: TimeEntry, calendar: BusinessCalendar | None) -> None:
        self.entries += 1
        self.minutes += entry.minutes
        if calendar is None:
            self.by_category[UNCATEGORIZED] += entry.minutes
        else:
            end = entry.started_at + timedelta(minutes=entry.minutes)
            for category, minutes in calendar.minutes_by_category(entry.started_at, end).items():
                self.by_category[category.value] += minutes
        self.billable += entry.minutes if entry.work.billable else 0
        self.billed += entry.minutes if entry.billed else 0
        charges = entry.work.other_charges
        if charges is not None:
            kept = self.charges.get(charges.currency)
            self.charges[charges.currency] = charges if kept is None else kept + charges

    def summary(self, key: str) -> TimeSummary:
        return TimeSummary(
            key=key,
            entries=self.entries,
            minutes=self.minutes,
            minutes_by_category=dict(self.by_category),
            billable_minutes=self.billable,
            non_billable_minutes=self.minutes - self.billable,
            billed_minutes=self.billed,
            unbilled_minutes=self.minutes - self.billed,
            other_charges=tuple(self.charges[currency] for currency in sorted(self.charges)),
        )


def summarize(
    entries: Iterable[TimeEntry], group_by: GroupBy, calendars: Mapping[UUID, BusinessCalendar]
) -> list[TimeSummary]:
    """One summary per rep or account, in key order. `calendars` maps a contract id to its calendar,
    already read on the contract's clock."""
    totals: dict[str, _Totals] = {}
    for entry in entries:
        if entry.deleted:
            continue
        key = entry.work.rep_id if group_by is GroupBy.REP else entry.account_id
        calendar = calendars.get(entry.contract_id) if entry.contract_id is not None else None
        totals.setdefault(key, _Totals()).add(entry, calendar)
    return [totals[key].summary(key) for key in sorted(totals)]
