"""Summaries per rep and per account: minutes by the contract calendar's categories, billable or not,
billed or not, other charges by currency."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest

from servicekit.business_hours import BusinessCalendar, WorkingHours
from servicekit.money import Money
from timetracking.domain.errors import InvalidPeriod
from timetracking.domain.summaries import GroupBy, SummaryQuery, summarize
from timetracking.domain.time_entries import Duration, new_time_entry

from ..conftest import NOW, covering_contract, work

NEW_YORK_OFFICE = BusinessCalendar(
    time_zone="America/New_York",
    working_days=frozenset({1, 2, 3, 4, 5}),
    working_hours=(WorkingHours(time(9), time(17)),),
)
# Monday 2 March 2026, 16:00 to 18:00 in New York (EST, UTC-5): 60 operational, 60 non-operational.
MONDAY_4PM = datetime(2026, 3, 2, 21, 0, tzinfo=UTC)
SATURDAY_10AM = datetime(2026, 3, 7, 15, 0, tzinfo=UTC)


def entry(contract=None, **changes):
    changes.setdefault("started_at", MONDAY_4PM)
    changes.setdefault("span", Duration(120))
    return new_time_entry(uuid.uuid4(), work(**changes), contract, now=NOW)


def test_minutes_are_split_by_the_categories_of_the_contracts_calendar() -> None:
    contract = covering_contract()
    entries = [entry(contract), entry(contract, started_at=SATURDAY_10AM, span=Duration(60))]

    (ann,) = summarize(entries, GroupBy.REP, {contract.contract_id: NEW_YORK_OFFICE})

    assert (ann.key, ann.entries, ann.minutes) == ("ann", 2, 180)
    assert ann.minutes_by_category == {
        "holiday": 0,
        "weekend": 60,
        "non_operational": 60,
        "operational": 60,
        "uncategorized": 0,
    }


def test_minutes_of_an_entry_without_a_known_contract_or_calendar_are_uncategorized() -> None:
    no_calendar = covering_contract()
    entries = [entry(None), entry(no_calendar, span=Duration(30))]

    (ann,) = summarize(entries, GroupBy.REP, {})

    assert ann.minutes_by_category["uncategorized"] == 150
    assert sum(ann.minutes_by_category.values()) == ann.minutes


def test_an_override_counts_its_own_minutes_from_the_start() -> None:
    contract = covering_contract(reps_may_override_time_taken=True)

    (ann,) = summarize(
        [entry(contract, time_taken_minutes=30)], GroupBy.REP, {contract.contract_id: NEW_YORK_OFFICE}
    )

    assert (ann.minutes, ann.minutes_by_category["operational"]) == (30, 30)


def test_billable_and_billed_time_are_told_apart() -> None:
    billed = entry(span=Duration(60)).billed_by_main_bill()
    unbilled = entry(span=Duration(30))
    not_billable = entry(span=Duration(15), billable=False)

    (ann,) = summarize([billed, unbilled, not_billable], GroupBy.REP, {})

    assert (ann.billable_minutes, ann.non_billable_minutes) == (90, 15)
    assert (ann.billed_minutes, ann.unbilled_minutes) == (60, 45)


def test_other_charges_are_summed_per_currency() -> None:
    entries = [
        entry(other_charges=Money(Decimal("12.34"), "USD")),
        entry(other_charges=Money(Decimal("0.66"), "USD")),
        entry(other_charges=Money(Decimal("500"), "JPY")),
        entry(),
    ]

    (ann,) = summarize(entries, GroupBy.REP, {})

    assert ann.other_charges == (Money(Decimal("500"), "JPY"), Money(Decimal("13.00"), "USD"))


def test_entries_are_grouped_per_rep_or_per_account_in_key_order() -> None:
    entries = [
        entry(rep_id="bob", account_id="acme"),
        entry(rep_id="ann", account_id="globex"),
        entry(rep_id="bob", account_id="globex"),
    ]

    by_rep = summarize(entries, GroupBy.REP, {})
    by_account = summarize(entries, GroupBy.ACCOUNT, {})

    assert [(s.key, s.entries) for s in by_rep] == [("ann", 1), ("bob", 2)]
    assert [(s.key, s.entries) for s in by_account] == [("acme", 1), ("globex", 2)]


def test_deleted_entries_count_nowhere() -> None:
    kept, deleted = entry(), entry().marked_deleted(reason=None)

    (ann,) = summarize([kept, deleted], GroupBy.REP, {})

    assert (ann.entries, ann.minutes) == (1, 120)


@pytest.mark.parametrize(
    ("length", "message"), [(timedelta(0), "empty"), (timedelta(days=367), "at most 366 days")]
)
def test_a_summary_covers_a_period_of_up_to_366_days(length, message) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    SummaryQuery(GroupBy.REP, start, start + timedelta(days=366)).check()
    with pytest.raises(InvalidPeriod, match=message):
        SummaryQuery(GroupBy.REP, start, start + length).check()
