"""How a cycle's billable time entries draw on its allowance."""

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from billing.domain.errors import EntryOutsideCycle, InvalidBillingTerms, InvalidTimeEntry
from billing.domain.terms import (
    BillingMode,
    BillingTerms,
    DifferentialRates,
    EntryTraits,
    FixedRate,
    PlanType,
    WhenExhausted,
    allowance_units,
)
from billing.domain.usage import AllowanceUnit, TopUpPurchase, UsageEntry, calculate_cycle_usage
from servicekit.business_hours import InvalidInstant
from servicekit.cycles import Cycle
from servicekit.money import CurrencyMismatch, Money

from ..builders import HOLIDAY, NON_OP, OP, WEEKEND, hour_terms, local, monthly_cycles, office

ZONE = "Europe/Berlin"
CALENDAR = office(ZONE)
MARCH: Cycle = monthly_cycles(ZONE, date(2025, 3, 1), date(2025, 12, 31))[0]


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """An instant in March 2025, Berlin time; 3 March is a Monday."""
    return local(ZONE, 2025, 3, day, hour, minute)


def euro_terms(**changes: object) -> BillingTerms:
    """EUR 100 a month with an hour included, 60 an hour beyond it."""
    return hour_terms("EUR", **({"base_charge": eur("100"), "allowance_units": 60} | changes))


def request_terms(**changes: object) -> BillingTerms:
    defaults: dict[str, object] = {"allowance_units": 2, "overage_rate": FixedRate(eur("40"))}
    return euro_terms(plan_type=PlanType.PER_REQUEST, **(defaults | changes))


DIFFERENTIAL = DifferentialRates(eur("50"), eur("75"), eur("100"), eur("150"))


def test_overage_is_charged_for_minutes_beyond_the_allowance() -> None:
    usage = calculate_cycle_usage(
        euro_terms(), MARCH, [UsageEntry("e1", "R1", at(3, 9), minutes=90)], CALENDAR
    )

    assert (usage.used, usage.covered, usage.total_overage_minutes, usage.not_covered) == (90, 60, 30, 0)
    assert usage.remaining == -30
    assert usage.is_exhausted
    assert usage.unit is AllowanceUnit.MINUTES


def test_entries_draw_in_order_of_start_time_whatever_order_they_arrive_in() -> None:
    terms = euro_terms(overage_rate=DIFFERENTIAL)
    weekend_first_listed = UsageEntry("z", "R1", at(8, 10), minutes=60)
    monday = UsageEntry("a", "R2", at(3, 10), minutes=60)

    usage = calculate_cycle_usage(terms, MARCH, [weekend_first_listed, monday], CALENDAR)

    assert usage.overage_minutes == {OP: 0, NON_OP: 0, WEEKEND: 60, HOLIDAY: 0}
    assert usage.entry_ids == ("a", "z")


def test_entries_that_start_in_the_same_minute_draw_in_order_of_entry_id() -> None:
    terms = euro_terms(overage_rate=DIFFERENTIAL, allowance_units=90)
    short = UsageEntry("a", "R1", at(3, 16, 0), minutes=30)
    # Starts later in the same minute; instants are cut down to the minute, so it ties with "a".
    long = UsageEntry("b", "R2", datetime(2025, 3, 3, 16, 0, 40, tzinfo=ZoneInfo(ZONE)), minutes=120)

    short_first = calculate_cycle_usage(terms, MARCH, [long, short], CALENDAR)
    long_first = calculate_cycle_usage(terms, MARCH, [replace(long, entry_id="0"), short], CALENDAR)

    assert short_first.overage_minutes == {OP: 0, NON_OP: 60, WEEKEND: 0, HOLIDAY: 0}
    assert long_first.overage_minutes == {OP: 30, NON_OP: 30, WEEKEND: 0, HOLIDAY: 0}


def test_an_entry_without_non_operational_hours_counts_only_its_operational_minutes() -> None:
    entry = UsageEntry("e1", "R1", at(3, 16), at(3, 18, 30), include_non_operational=False)

    usage = calculate_cycle_usage(euro_terms(allowance_units=0), MARCH, [entry], CALENDAR)

    assert usage.used == 60
    assert usage.dropped_minutes == 90
    assert usage.minutes_by_category == {OP: 60, NON_OP: 0, WEEKEND: 0, HOLIDAY: 0}
    assert usage.total_overage_minutes == 60


def test_an_entry_without_non_operational_hours_drops_weekend_minutes_under_differential_rates() -> None:
    terms = euro_terms(overage_rate=DIFFERENTIAL, allowance_units=0)
    entry = UsageEntry("e1", "R1", at(8, 10), minutes=60, include_non_operational=False)

    usage = calculate_cycle_usage(terms, MARCH, [entry], CALENDAR)

    assert usage.used == 0
    assert usage.total_overage_minutes == 0
    assert usage.entry_ids == ("e1",)


def test_a_time_taken_override_replaces_the_span_to_the_end() -> None:
    entry = UsageEntry("e1", "R1", at(3, 9), ended_at=at(3, 12), minutes=45)

    usage = calculate_cycle_usage(euro_terms(), MARCH, [entry], CALENDAR)

    assert usage.used == 45


def test_an_entry_read_back_as_stored_is_the_entry_made_with_its_checks() -> None:
    start = local("Europe/Berlin", 2026, 3, 2, 9, 30, 45)
    charges, traits = Money.of("7.50", "EUR"), EntryTraits(product="migration")
    made = UsageEntry("e1", "R1", start, minutes=95, include_non_operational=False, billable=False,
                      other_charges=charges, traits=traits)  # fmt: skip
    stored = UsageEntry.stored("e1", "R1", start, 95, False, False, charges, traits)

    assert stored == made and stored.span() == made.span() and stored.draw_order == made.draw_order
    assert stored.ended_at is None and stored.minutes == 95


def test_non_billable_entries_are_ignored() -> None:
    entries = [
        UsageEntry("e1", "R1", at(3, 9), minutes=30),
        UsageEntry("e2", "R2", at(3, 10), minutes=300, billable=False, other_charges=eur("99")),
    ]

    usage = calculate_cycle_usage(euro_terms(), MARCH, entries, CALENDAR)

    assert (usage.used, usage.total_overage_minutes) == (30, 0)
    assert usage.entry_ids == ("e1",)
    assert usage.request_ids == ("R1",)
    assert usage.other_charges == ()


def test_other_charges_never_draw_on_the_allowance() -> None:
    entry = UsageEntry("e1", "R1", at(3, 9), minutes=30, other_charges=eur("12.34"))

    usage = calculate_cycle_usage(euro_terms(), MARCH, [entry], CALENDAR)

    assert usage.used == 30
    assert [(charge.entry_id, charge.amount) for charge in usage.other_charges] == [("e1", eur("12.34"))]


def test_carried_minutes_are_drawn_before_the_cycles_own_allowance() -> None:
    terms = euro_terms(allowance_units=300, carry_forward=True)
    entry = UsageEntry("e1", "R1", at(3, 9), minutes=350)

    usage = calculate_cycle_usage(terms, MARCH, [entry], CALENDAR, carried_in=100)

    assert usage.total_allowance == 400
    assert usage.carried_out == 50


def test_only_the_cycles_own_allowance_carries_forward() -> None:
    terms = euro_terms(allowance_units=300, carry_forward=True)
    entry = UsageEntry("e1", "R1", at(3, 9), minutes=50)

    usage = calculate_cycle_usage(terms, MARCH, [entry], CALENDAR, carried_in=100)

    assert usage.carried_out == 300


def test_nothing_carries_forward_unless_the_terms_say_so() -> None:
    usage = calculate_cycle_usage(euro_terms(allowance_units=300), MARCH, [], CALENDAR)

    assert usage.carried_out == 0


def test_top_ups_are_drawn_last_and_never_carry_forward() -> None:
    terms = euro_terms(allowance_units=300, carry_forward=True, billing_mode=BillingMode.PREPAID)
    top_up = TopUpPurchase("2 hours", allowance_units(PlanType.PER_HOUR, hours=2), eur("90"))
    entry = UsageEntry("e1", "R1", at(3, 9), minutes=320)

    usage = calculate_cycle_usage(terms, MARCH, [entry], CALENDAR, top_ups=[top_up])

    assert (usage.total_allowance, usage.covered, usage.total_overage_minutes) == (420, 320, 0)
    assert usage.carried_out == 0


def test_a_top_up_covers_work_logged_before_it_was_bought() -> None:
    top_up = TopUpPurchase("1 hour", 60, eur("45"))
    entry = UsageEntry("e1", "R1", at(3, 9), minutes=120)

    usage = calculate_cycle_usage(euro_terms(), MARCH, [entry], CALENDAR, top_ups=[top_up])

    assert usage.covered == 120
    assert usage.total_overage_minutes == 0


def test_block_reports_uncovered_minutes_as_not_covered_and_charges_nothing() -> None:
    terms = euro_terms(when_exhausted=WhenExhausted.BLOCK, overage_rate=None)
    entry = UsageEntry("e1", "R1", at(3, 9), minutes=90)

    usage = calculate_cycle_usage(terms, MARCH, [entry], CALENDAR)

    assert (usage.covered, usage.not_covered, usage.total_overage_minutes) == (60, 30, 0)


def test_a_request_counts_once_however_many_billable_entries_it_has() -> None:
    entries = [
        UsageEntry("e1", "R1", at(3, 9), minutes=10),
        UsageEntry("e2", "R2", at(4, 9), minutes=10),
        UsageEntry("e3", "R1", at(5, 9), minutes=10),
        UsageEntry("e4", "R3", at(6, 9), minutes=10, billable=False),
    ]

    usage = calculate_cycle_usage(request_terms(), MARCH, entries, CALENDAR)

    assert usage.unit is AllowanceUnit.REQUESTS
    assert usage.request_ids == ("R1", "R2")
    assert (usage.used, usage.covered, usage.extra_requests) == (2, 2, 0)


def test_requests_are_ordered_by_their_first_billable_entry() -> None:
    entries = [
        UsageEntry("e1", "R9", at(10, 9), minutes=10),
        UsageEntry("e2", "R5", at(3, 9), minutes=10),
        UsageEntry("e3", "R7", at(5, 9), minutes=10),
        UsageEntry("e4", "R9", at(4, 9), minutes=10),
    ]

    usage = calculate_cycle_usage(request_terms(), MARCH, entries, CALENDAR)

    assert usage.request_ids == ("R5", "R9", "R7")
    assert usage.extra_requests == 1


def test_carry_forward_and_top_ups_count_requests() -> None:
    terms = request_terms(carry_forward=True, allowance_units=3)
    entries = [UsageEntry(f"e{n}", f"R{n}", at(3 + n, 9), minutes=5) for n in range(5)]

    usage = calculate_cycle_usage(
        terms, MARCH, entries, CALENDAR, carried_in=1, top_ups=[TopUpPurchase("1 request", 1, eur("30"))]
    )

    assert (usage.total_allowance, usage.used, usage.extra_requests, usage.carried_out) == (5, 5, 0, 0)
    assert calculate_cycle_usage(terms, MARCH, entries[:2], CALENDAR, carried_in=1).carried_out == 2


def test_block_on_requests_reports_requests_not_covered() -> None:
    terms = request_terms(when_exhausted=WhenExhausted.BLOCK, overage_rate=None)
    entries = [UsageEntry(f"e{n}", f"R{n}", at(3 + n, 9), minutes=5) for n in range(3)]

    usage = calculate_cycle_usage(terms, MARCH, entries, CALENDAR)

    assert (usage.covered, usage.not_covered, usage.extra_requests) == (2, 1, 0)


def test_an_entry_is_refused_by_a_cycle_it_does_not_start_in() -> None:
    april_entry = UsageEntry("e1", "R1", datetime(2025, 4, 1, 0, 0, tzinfo=ZoneInfo(ZONE)), minutes=5)

    with pytest.raises(EntryOutsideCycle):
        calculate_cycle_usage(euro_terms(), MARCH, [april_entry], CALENDAR)


def test_an_entry_may_run_past_the_end_of_its_cycle() -> None:
    late_night = UsageEntry("e1", "R1", datetime(2025, 3, 31, 23, 0, tzinfo=ZoneInfo(ZONE)), minutes=120)

    usage = calculate_cycle_usage(euro_terms(allowance_units=0), MARCH, [late_night], CALENDAR)

    assert usage.used == 120


@pytest.mark.parametrize(
    "build",
    [
        lambda: UsageEntry("e1", "R1", at(3, 9)),
        lambda: UsageEntry("e1", "R1", at(3, 9), ended_at=at(3, 8)),
        lambda: UsageEntry("e1", "R1", at(3, 9), minutes=-1),
        lambda: UsageEntry("e1", "R1", datetime(2025, 3, 3, 9), minutes=10),
    ],
)
def test_a_time_entry_without_a_countable_span_is_refused(build: Callable[[], UsageEntry]) -> None:
    with pytest.raises((InvalidTimeEntry, InvalidInstant)):
        build()


def test_an_entry_listed_twice_is_refused() -> None:
    entry = UsageEntry("e1", "R1", at(3, 9), minutes=10)

    with pytest.raises(InvalidTimeEntry):
        calculate_cycle_usage(euro_terms(), MARCH, [entry, entry], CALENDAR)


def test_charges_in_another_currency_are_refused() -> None:
    entry = UsageEntry("e1", "R1", at(3, 9), minutes=10, other_charges=Money.of("5", "USD"))

    with pytest.raises(CurrencyMismatch):
        calculate_cycle_usage(euro_terms(), MARCH, [entry], CALENDAR)


@pytest.mark.parametrize(
    "changes",
    [
        {"deduct_only_operational": True},
        {"plan_type": PlanType.PER_REQUEST, "overage_rate": DIFFERENTIAL},
        {"overage_rate": None},
        {"overage_rate": FixedRate(Money.of("60", "USD"))},
        {"discount_percent": Decimal("120")},
        {"tax_percent": Decimal("-1")},
        {"allowance_units": -60},
    ],
)
def test_contradictory_terms_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(InvalidBillingTerms):
        euro_terms(**changes)


def test_allowance_units_are_minutes_for_hour_plans_and_requests_for_request_plans() -> None:
    assert allowance_units(PlanType.PER_HOUR, hours=10, requests=3) == 600
    assert allowance_units(PlanType.FIXED_CHARGE, hours=2) == 120
    assert allowance_units(PlanType.PER_REQUEST, hours=10, requests=3) == 3
