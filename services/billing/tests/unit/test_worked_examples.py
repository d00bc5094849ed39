"""The worked examples of PRODUCT.md, reproduced line by line as test vectors."""

from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from billing.domain.bills import BillLineKind, format_minutes, postpaid_cycle_bill, prepaid_cycle_bill
from billing.domain.terms import (
    BillingMode,
    BillingTerms,
    DifferentialRates,
    FixedRate,
    PlanType,
    WhenExhausted,
    allowance_units,
)
from billing.domain.usage import CycleUsage, UsageEntry, calculate_cycle_usage
from contracts_schema.contracts import BillCycle
from servicekit.business_hours import BusinessCalendar, MinuteCategory, WorkingHours
from servicekit.cycles import contract_cycles
from servicekit.money import Money

WEEKDAYS = frozenset({1, 2, 3, 4, 5})
NINE_TO_FIVE = (WorkingHours(time(9), time(17)),)


def at(zone: str, year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone))


def test_example_1_postpaid_per_hour_with_fixed_overage() -> None:
    calendar = BusinessCalendar("America/New_York", WEEKDAYS, NINE_TO_FIVE)
    terms = BillingTerms(
        plan_type=PlanType.PER_HOUR,
        billing_mode=BillingMode.POSTPAID,
        currency="USD",
        base_charge=Money.of("500.00", "USD"),
        allowance_units=allowance_units(PlanType.PER_HOUR, hours=10),
        when_exhausted=WhenExhausted.CHARGE_EXTRA,
        overage_rate=FixedRate(Money.of("60.00", "USD")),
        tax_percent=Decimal("10"),
    )
    january = contract_cycles(BillCycle.MONTHLY, date(2025, 1, 1), date(2025, 12, 31), "America/New_York")[0]
    zone = "America/New_York"
    entries = [
        UsageEntry("e1", "R1", at(zone, 2025, 1, 6, 9), minutes=4 * 60 + 30),
        UsageEntry("e2", "R2", at(zone, 2025, 1, 7, 10), at(zone, 2025, 1, 7, 13)),
        UsageEntry("e3", "R3", at(zone, 2025, 1, 8, 9), minutes=3 * 60 + 45),
    ]

    usage = calculate_cycle_usage(terms, january, entries, calendar)
    bill = postpaid_cycle_bill(terms, usage)

    assert usage.used == 675
    assert format_minutes(usage.used) == "11:15"
    assert usage.covered == 600
    assert usage.total_overage_minutes == 75
    assert [(line.kind, line.quantity_text, line.unit_price, line.amount) for line in bill.lines] == [
        (BillLineKind.BASE_CHARGE, "1", Money.of("500.00", "USD"), Money.of("500.00", "USD")),
        (BillLineKind.OVERAGE, "1:15", Money.of("60.00", "USD"), Money.of("75.00", "USD")),
    ]
    assert bill.subtotal.amount == Decimal("575.00")
    assert bill.discount.amount == Decimal("0.00")
    assert bill.tax.amount == Decimal("57.50")
    assert bill.total == Money(Decimal("632.50"), "USD")
    assert bill.entry_ids == ("e1", "e2", "e3")


def _example_2_terms(*, deduct_only_operational: bool) -> BillingTerms:
    return BillingTerms(
        plan_type=PlanType.PER_HOUR,
        billing_mode=BillingMode.POSTPAID,
        currency="EUR",
        base_charge=Money.of(0, "EUR"),
        allowance_units=allowance_units(PlanType.PER_HOUR, hours=2),
        when_exhausted=WhenExhausted.CHARGE_EXTRA,
        overage_rate=DifferentialRates(
            operational=Money.of(50, "EUR"),
            non_operational=Money.of(75, "EUR"),
            weekend=Money.of(100, "EUR"),
            holiday=Money.of(150, "EUR"),
        ),
        deduct_only_operational=deduct_only_operational,
    )


def _example_2_usage(terms: BillingTerms) -> CycleUsage:
    zone = "Europe/Berlin"
    calendar = BusinessCalendar(zone, WEEKDAYS, NINE_TO_FIVE)
    # The week of Monday 3 March 2025.
    week = contract_cycles(BillCycle.WEEKLY, date(2025, 3, 3), date(2025, 12, 28), zone)[0]
    entries = [
        UsageEntry("mon", "R1", at(zone, 2025, 3, 3, 16), at(zone, 2025, 3, 3, 18, 30)),
        UsageEntry("tue", "R2", at(zone, 2025, 3, 4, 8), at(zone, 2025, 3, 4, 10)),
        UsageEntry("sat", "R3", at(zone, 2025, 3, 8, 10), at(zone, 2025, 3, 8, 11)),
    ]
    return calculate_cycle_usage(terms, week, entries, calendar)


def test_example_2a_differential_rates_draw_the_allowance_in_time_order() -> None:
    terms = _example_2_terms(deduct_only_operational=False)
    usage = _example_2_usage(terms)
    bill = postpaid_cycle_bill(terms, usage)

    assert usage.covered == 120  # Mon 16:00-18:00: 60 operational + 60 non-operational
    assert usage.minutes_by_category == {
        MinuteCategory.OPERATIONAL: 120,
        MinuteCategory.NON_OPERATIONAL: 150,
        MinuteCategory.WEEKEND: 60,
        MinuteCategory.HOLIDAY: 0,
    }
    overage = {line.category: (line.quantity, line.amount.amount) for line in bill.lines[1:]}
    assert overage == {
        MinuteCategory.NON_OPERATIONAL: (90, Decimal("112.50")),
        MinuteCategory.OPERATIONAL: (60, Decimal("50.00")),
        MinuteCategory.WEEKEND: (60, Decimal("100.00")),
    }
    assert bill.lines[0].amount == Money.of("0.00", "EUR")
    assert bill.total == Money(Decimal("262.50"), "EUR")


def test_example_2b_deduct_only_operational_hours_charges_every_other_minute() -> None:
    terms = _example_2_terms(deduct_only_operational=True)
    usage = _example_2_usage(terms)
    bill = postpaid_cycle_bill(terms, usage)

    assert usage.used == 120
    assert usage.covered == 120
    overage = {line.category: (line.quantity, line.amount.amount) for line in bill.lines[1:]}
    assert overage == {
        MinuteCategory.NON_OPERATIONAL: (150, Decimal("187.50")),
        MinuteCategory.WEEKEND: (60, Decimal("100.00")),
    }
    assert bill.total == Money(Decimal("287.50"), "EUR")


def test_example_3_prepaid_per_request_bills_base_ahead_and_arrears_behind() -> None:
    zone = "America/Chicago"
    calendar = BusinessCalendar(zone, WEEKDAYS, NINE_TO_FIVE)
    terms = BillingTerms(
        plan_type=PlanType.PER_REQUEST,
        billing_mode=BillingMode.PREPAID,
        currency="USD",
        base_charge=Money.of("300.00", "USD"),
        allowance_units=allowance_units(PlanType.PER_REQUEST, requests=3),
        when_exhausted=WhenExhausted.CHARGE_EXTRA,
        overage_rate=FixedRate(Money.of("40.00", "USD")),
        discount_percent=Decimal("5"),
        tax_percent=Decimal("8"),
    )
    june, july = contract_cycles(BillCycle.MONTHLY, date(2025, 6, 1), date(2026, 5, 31), zone)[:2]
    june_entries = [
        UsageEntry("e1", "R1", at(zone, 2025, 6, 2, 9), minutes=30),
        UsageEntry("e2", "R2", at(zone, 2025, 6, 3, 9), minutes=30),
        UsageEntry("e3", "R2", at(zone, 2025, 6, 4, 9), minutes=30, other_charges=Money.of("12.34", "USD")),
        UsageEntry("e4", "R3", at(zone, 2025, 6, 5, 9), minutes=30),
        UsageEntry("e5", "R4", at(zone, 2025, 6, 6, 9), minutes=30),
        UsageEntry("e6", "R5", at(zone, 2025, 6, 9, 9), minutes=30),
    ]

    june_bill = prepaid_cycle_bill(terms, june, arrears=None)
    assert [(line.kind, line.amount.amount) for line in june_bill.lines] == [
        (BillLineKind.BASE_CHARGE, Decimal("300.00"))
    ]
    assert june_bill.discount.amount == Decimal("15.00")
    assert june_bill.tax.amount == Decimal("22.80")
    assert june_bill.total == Money(Decimal("307.80"), "USD")
    assert june_bill.entry_ids == ()

    june_usage = calculate_cycle_usage(terms, june, june_entries, calendar)
    july_bill = prepaid_cycle_bill(terms, july, arrears=june_usage)
    assert june_usage.request_ids == ("R1", "R2", "R3", "R4", "R5")
    assert [(line.kind, line.cycle_index, line.quantity, line.amount.amount) for line in july_bill.lines] == [
        (BillLineKind.BASE_CHARGE, 2, 1, Decimal("300.00")),
        (BillLineKind.EXTRA_REQUESTS, 1, 2, Decimal("80.00")),
        (BillLineKind.OTHER_CHARGES, 1, 1, Decimal("12.34")),
    ]
    assert july_bill.subtotal.amount == Decimal("392.34")
    assert july_bill.discount.amount == Decimal("19.62")
    assert (july_bill.subtotal - july_bill.discount).amount == Decimal("372.72")
    assert july_bill.tax.amount == Decimal("29.82")
    assert july_bill.total == Money(Decimal("402.54"), "USD")
    assert july_bill.entry_ids == ("e1", "e2", "e3", "e4", "e5", "e6")


def test_example_4_zero_decimal_currency_with_carry_forward() -> None:
    zone = "Asia/Tokyo"
    calendar = BusinessCalendar(zone, WEEKDAYS, NINE_TO_FIVE)
    terms = BillingTerms(
        plan_type=PlanType.PER_HOUR,
        billing_mode=BillingMode.POSTPAID,
        currency="JPY",
        base_charge=Money.of(10000, "JPY"),
        allowance_units=allowance_units(PlanType.PER_HOUR, hours=5),
        when_exhausted=WhenExhausted.CHARGE_EXTRA,
        overage_rate=FixedRate(Money.of(3333, "JPY")),
        carry_forward=True,
    )
    first, second = contract_cycles(BillCycle.MONTHLY, date(2025, 4, 1), date(2026, 3, 31), zone)[:2]

    first_usage = calculate_cycle_usage(
        terms, first, [UsageEntry("a1", "R1", at(zone, 2025, 4, 7, 9), minutes=200)], calendar
    )
    first_bill = postpaid_cycle_bill(terms, first_usage)
    assert first_bill.total == Money(Decimal("10000"), "JPY")
    assert first_usage.carried_out == 100

    second_usage = calculate_cycle_usage(
        terms,
        second,
        [
            UsageEntry("b1", "R2", at(zone, 2025, 5, 7, 9), minutes=300),
            UsageEntry("b2", "R3", at(zone, 2025, 5, 8, 9), minutes=125),
        ],
        calendar,
        carried_in=first_usage.carried_out,
    )
    second_bill = postpaid_cycle_bill(terms, second_usage)
    assert second_usage.total_allowance == 400
    assert second_usage.used == 425
    assert second_usage.total_overage_minutes == 25
    overage_line = second_bill.lines[1]
    assert overage_line.quantity_text == "0:25"
    assert overage_line.amount == Money(Decimal("1389"), "JPY")  # 25 x 3333 / 60 = 1388.75
    assert second_bill.total == Money(Decimal("11389"), "JPY")
