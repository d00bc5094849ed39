"""Bill lines and money: rounding once per line, discount then tax, and which bill carries what."""

from datetime import date, datetime, time
from decimal import Decimal

import pytest

from billing.domain.bills import (
    BillLineKind,
    QuantityUnit,
    compose_bill,
    format_minutes,
    line_amount,
    postpaid_cycle_bill,
    prepaid_cycle_bill,
    prepaid_final_bill,
)
from billing.domain.errors import InvalidBillingTerms, MismatchedBillPeriod
from billing.domain.terms import (
    BillingMode,
    DifferentialRates,
    FixedRate,
    WhenExhausted,
)
from billing.domain.usage import TopUpPurchase, UsageEntry, calculate_cycle_usage
from servicekit.business_hours import MinuteCategory, WorkingHours
from servicekit.money import Money

from ..builders import hour_terms, local, monthly_cycles, office

ZONE = "Asia/Bahrain"
CALENDAR = office(ZONE, days=frozenset({7, 1, 2, 3, 4}), hours=(WorkingHours(time(8), time(16)),))
CYCLES = monthly_cycles(ZONE, date(2025, 3, 1), date(2025, 5, 31))


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A Bahrain instant in 2025; 2 March is a Sunday, a working day there."""
    return local(ZONE, 2025, month, day, hour, minute)


def test_format_minutes_shows_hours_and_minutes() -> None:
    assert [format_minutes(minutes) for minutes in (675, 75, 5, 0, 6000)] == [
        "11:15",
        "1:15",
        "0:05",
        "0:00",
        "100:00",
    ]


def test_a_three_decimal_currency_rounds_each_line_half_up_to_fils() -> None:
    terms = hour_terms("BHD", overage_rate=FixedRate(Money(Decimal("12.345"), "BHD")))
    usage = calculate_cycle_usage(
        terms, CYCLES[0], [UsageEntry("e1", "R1", at(3, 2, 9), minutes=30)], CALENDAR
    )

    bill = postpaid_cycle_bill(terms, usage)

    # 30 x 12.345 / 60 = 6.1725: half up gives 6.173 where banker's rounding would give 6.172.
    assert bill.lines[1].amount == Money(Decimal("6.173"), "BHD")
    assert bill.total == Money(Decimal("6.173"), "BHD")


def test_line_amounts_are_exact_until_rounded_once() -> None:
    assert line_amount(3, QuantityUnit.MINUTES, Money(Decimal("0.01"), "BHD")) == Money(
        Decimal("0.001"), "BHD"
    )
    assert line_amount(1, QuantityUnit.MINUTES, Money.of(3333, "JPY")) == Money(Decimal("56"), "JPY")
    assert line_amount(7, QuantityUnit.REQUESTS, Money.of("40.00", "USD")) == Money(Decimal("280.00"), "USD")


def test_the_subtotal_is_the_sum_of_rounded_lines() -> None:
    rates = DifferentialRates(*(Money.of(50, "USD") for _ in range(4)))
    terms = hour_terms("USD", overage_rate=rates)
    usage = calculate_cycle_usage(
        terms, CYCLES[0], [UsageEntry("e1", "R1", at(3, 2, 15, 59), minutes=2)], CALENDAR
    )

    bill = postpaid_cycle_bill(terms, usage)

    # One operational and one non-operational minute at 50/h: 0.8333 -> 0.83 each, not 1.67 together.
    assert [(line.category, line.amount.amount) for line in bill.lines[1:]] == [
        (MinuteCategory.OPERATIONAL, Decimal("0.83")),
        (MinuteCategory.NON_OPERATIONAL, Decimal("0.83")),
    ]
    assert bill.subtotal.amount == Decimal("1.66")


def test_tax_is_rounded_half_up_on_the_discounted_subtotal() -> None:
    terms = hour_terms(
        "USD",
        base_charge=Money.of("111.17", "USD"),
        discount_percent=Decimal("10"),
        tax_percent=Decimal("10"),
    )

    bill = compose_bill(terms, base_charge_cycle=CYCLES[0], usage=None)

    # discount 11.117 -> 11.12; tax 10 % of 100.05 = 10.005 -> 10.01
    assert (bill.subtotal.amount, bill.discount.amount, bill.tax.amount) == (
        Decimal("111.17"),
        Decimal("11.12"),
        Decimal("10.01"),
    )
    assert bill.total == Money(Decimal("110.06"), "USD")


def test_a_bill_whose_total_is_zero_is_still_made() -> None:
    terms = hour_terms("EUR")
    usage = calculate_cycle_usage(terms, CYCLES[0], [], CALENDAR)

    bill = postpaid_cycle_bill(terms, usage)

    assert [(line.kind, line.amount) for line in bill.lines] == [
        (BillLineKind.BASE_CHARGE, Money.zero("EUR"))
    ]
    assert bill.total == Money(Decimal("0.00"), "EUR")


def test_block_bills_no_overage_for_uncovered_minutes() -> None:
    terms = hour_terms(
        "EUR", base_charge=Money.of(200, "EUR"), allowance_units=60, when_exhausted=WhenExhausted.BLOCK
    )
    usage = calculate_cycle_usage(
        terms, CYCLES[0], [UsageEntry("e1", "R1", at(3, 2, 9), minutes=600)], CALENDAR
    )

    bill = postpaid_cycle_bill(terms, usage)

    assert usage.not_covered == 540
    assert [line.kind for line in bill.lines] == [BillLineKind.BASE_CHARGE]
    assert bill.total == Money.of(200, "EUR")


def test_a_postpaid_bill_carries_the_top_ups_bought_in_its_cycle() -> None:
    terms = hour_terms("EUR", base_charge=Money.of(100, "EUR"))
    top_up = TopUpPurchase("5 hours", 300, Money.of("250.00", "EUR"))
    usage = calculate_cycle_usage(terms, CYCLES[0], [], CALENDAR, top_ups=[top_up])

    bill = postpaid_cycle_bill(terms, usage)

    assert [(line.kind, line.amount.amount) for line in bill.lines] == [
        (BillLineKind.BASE_CHARGE, Decimal("100.00")),
        (BillLineKind.TOP_UP, Decimal("250.00")),
    ]


def test_a_prepaid_bill_carries_its_cycles_base_and_the_previous_cycles_arrears() -> None:
    terms = hour_terms("EUR", base_charge=Money.of(100, "EUR"), billing_mode=BillingMode.PREPAID)
    top_up = TopUpPurchase("1 hour", 60, Money.of("55.00", "EUR"))
    march_entry = UsageEntry("e1", "R1", at(3, 2, 9), minutes=90, other_charges=Money.of("7.50", "EUR"))
    march = calculate_cycle_usage(terms, CYCLES[0], [march_entry], CALENDAR, top_ups=[top_up])

    april_bill = prepaid_cycle_bill(terms, CYCLES[1], arrears=march)

    assert [(line.kind, line.cycle_index, line.amount.amount) for line in april_bill.lines] == [
        (BillLineKind.BASE_CHARGE, 2, Decimal("100.00")),
        (BillLineKind.TOP_UP, 1, Decimal("55.00")),
        (BillLineKind.OVERAGE, 1, Decimal("30.00")),
        (BillLineKind.OTHER_CHARGES, 1, Decimal("7.50")),
    ]
    assert april_bill.total.amount == Decimal("192.50")
    assert april_bill.entry_ids == ("e1",)


def test_the_prepaid_final_bill_carries_only_the_last_cycles_arrears() -> None:
    terms = hour_terms("EUR", base_charge=Money.of(100, "EUR"), billing_mode=BillingMode.PREPAID)
    may = calculate_cycle_usage(terms, CYCLES[2], [UsageEntry("e9", "R1", at(5, 4, 9), minutes=30)], CALENDAR)

    final = prepaid_final_bill(terms, may)

    assert [(line.kind, line.amount.amount) for line in final.lines] == [
        (BillLineKind.OVERAGE, Decimal("30.00"))
    ]
    assert final.base_charge_cycle is None
    assert final.total.amount == Decimal("30.00")


def test_a_prepaid_bill_refuses_arrears_of_any_cycle_but_the_previous_one() -> None:
    terms = hour_terms("EUR", billing_mode=BillingMode.PREPAID)
    march = calculate_cycle_usage(terms, CYCLES[0], [], CALENDAR)

    with pytest.raises(MismatchedBillPeriod):
        prepaid_cycle_bill(terms, CYCLES[2], arrears=march)


def test_a_bill_for_the_other_billing_mode_is_refused() -> None:
    terms = hour_terms("EUR")
    usage = calculate_cycle_usage(terms, CYCLES[0], [], CALENDAR)

    with pytest.raises(InvalidBillingTerms):
        prepaid_final_bill(terms, usage)
