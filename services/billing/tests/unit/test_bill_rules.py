"""Bill rules, as worked examples of our own: an entry that matches a rule (the first that matches) is
priced at the rule's hourly rate for all its counted minutes, on a line of its own per rule; it does not
draw on the allowance, is not overage and is no request; it is billed when the cycle's overage is."""

from datetime import date
from decimal import Decimal

from billing.domain.bills import BillLineKind, postpaid_cycle_bill, prepaid_cycle_bill
from billing.domain.terms import (
    BillingMode,
    BillingTerms,
    BillRule,
    DifferentialRates,
    EntryTraits,
    FixedRate,
    PlanType,
    RuleCriterion,
    RuleField,
    WhenExhausted,
    allowance_units,
)
from billing.domain.usage import UsageEntry, calculate_cycle_usage, minutes_drawing
from servicekit.cycles import BillCycle, contract_cycles
from servicekit.money import Money

from ..builders import local, office

at = local

ON_SITE = BillRule(
    name="On-site work",
    criteria=(RuleCriterion(RuleField.WORK_LOG_TYPE, frozenset({"onsite"})),),
    match_all=True,
    hourly_rate=Money.of("120.00", "USD"),
)


def test_rule_1_an_on_site_entry_is_priced_apart_and_leaves_the_allowance_to_the_rest() -> None:
    zone = "America/New_York"
    terms = BillingTerms(
        plan_type=PlanType.PER_HOUR,
        billing_mode=BillingMode.POSTPAID,
        currency="USD",
        base_charge=Money.of("500.00", "USD"),
        allowance_units=allowance_units(PlanType.PER_HOUR, hours=10),
        when_exhausted=WhenExhausted.CHARGE_EXTRA,
        overage_rate=FixedRate(Money.of("60.00", "USD")),
        tax_percent=Decimal("10"),
        bill_rules=(ON_SITE,),
    )
    january = contract_cycles(BillCycle.MONTHLY, date(2025, 1, 1), date(2025, 12, 31), zone)[0]
    on_site = UsageEntry(
        "e2", "R2", at(zone, 2025, 1, 7, 10), minutes=180, traits=EntryTraits(work_log_type="onsite")
    )
    entries = [
        UsageEntry("e1", "R1", at(zone, 2025, 1, 6, 9), minutes=270),
        on_site,
        UsageEntry("e3", "R3", at(zone, 2025, 1, 8, 9), minutes=225),
    ]

    usage = calculate_cycle_usage(terms, january, entries, office(zone))
    bill = postpaid_cycle_bill(terms, usage)

    assert (usage.used, usage.total_overage_minutes) == (495, 0)  # worked example 1's 675, less on-site
    assert minutes_drawing(on_site, office(zone), terms) == 0
    assert [(line.kind, line.description, line.quantity_text, line.amount) for line in bill.lines] == [
        (
            BillLineKind.BASE_CHARGE,
            "Base charge, cycle 1 (2025-01-01 to 2025-01-31)",
            "1",
            Money.of("500.00", "USD"),
        ),
        (BillLineKind.BILL_RULE, "On-site work, cycle 1", "3:00", Money.of("360.00", "USD")),
    ]
    assert (bill.subtotal, bill.tax, bill.total) == (
        Money.of("860.00", "USD"),
        Money.of("86.00", "USD"),
        Money.of("946.00", "USD"),
    )
    assert bill.entry_ids == ("e1", "e2", "e3")


def test_rule_2_any_criterion_matches_and_all_counted_minutes_are_priced_whatever_their_category() -> None:
    zone = "Europe/Berlin"
    eur = "EUR"
    priority = BillRule(
        name="Priority",
        criteria=(
            RuleCriterion(RuleField.RATE_TYPE, frozenset({"expedited"})),
            RuleCriterion(RuleField.CUSTOM_FIELD, frozenset({"gold", "platinum"}), "tier"),
        ),
        match_all=False,
        hourly_rate=Money.of("95.00", eur),
    )
    terms = BillingTerms(
        plan_type=PlanType.PER_HOUR,
        billing_mode=BillingMode.POSTPAID,
        currency=eur,
        base_charge=Money.of(0, eur),
        allowance_units=allowance_units(PlanType.PER_HOUR, hours=2),
        when_exhausted=WhenExhausted.CHARGE_EXTRA,
        overage_rate=DifferentialRates(
            operational=Money.of(50, eur),
            non_operational=Money.of(75, eur),
            weekend=Money.of(100, eur),
            holiday=Money.of(150, eur),
        ),
        bill_rules=(priority,),
    )
    week = contract_cycles(BillCycle.WEEKLY, date(2025, 3, 3), date(2025, 12, 31), zone)[0]
    entries = [
        # Monday 16:00-18:30, expedited: 60 operational and 90 non-operational minutes, all at 95/h.
        UsageEntry(
            "e1",
            "R1",
            at(zone, 2025, 3, 3, 16),
            at(zone, 2025, 3, 3, 18, 30),
            traits=EntryTraits(rate_type="expedited"),
        ),
        # Tuesday 08:00-09:50, a gold customer, operational hours only: 50 counted minutes.
        UsageEntry(
            "e2",
            "R2",
            at(zone, 2025, 3, 4, 8),
            at(zone, 2025, 3, 4, 9, 50),
            include_non_operational=False,
            traits=EntryTraits(custom_fields=(("tier", "gold"),)),
        ),
        # Saturday 10:00-11:00, silver: no rule; its 60 weekend minutes draw on the 2 h allowance.
        UsageEntry(
            "e3",
            "R3",
            at(zone, 2025, 3, 8, 10),
            minutes=60,
            traits=EntryTraits(custom_fields=(("tier", "silver"),)),
        ),
    ]

    usage = calculate_cycle_usage(terms, week, entries, office(zone))
    bill = postpaid_cycle_bill(terms, usage)

    assert (usage.used, usage.total_overage_minutes, usage.dropped_minutes) == (60, 0, 60)
    # 200 minutes x 95.00 / 60 = 316.666...: one line, rounded once, half up.
    assert [(line.kind, line.quantity, line.amount) for line in bill.lines] == [
        (BillLineKind.BASE_CHARGE, 1, Money.of("0.00", eur)),
        (BillLineKind.BILL_RULE, 200, Money.of("316.67", eur)),
    ]
    assert bill.total == Money.of("316.67", eur)


def test_rule_3_on_a_prepaid_request_plan_rule_time_is_billed_with_the_arrears_and_is_no_request() -> None:
    zone = "America/Chicago"
    training = BillRule(
        name="Training",
        criteria=(RuleCriterion(RuleField.WORK_LOG_TYPE, frozenset({"training"})),),
        match_all=True,
        hourly_rate=Money.of("80.00", "USD"),
    )
    terms = BillingTerms(
        plan_type=PlanType.PER_REQUEST,
        billing_mode=BillingMode.PREPAID,
        currency="USD",
        base_charge=Money.of("300.00", "USD"),
        allowance_units=allowance_units(PlanType.PER_REQUEST, requests=3),
        when_exhausted=WhenExhausted.CHARGE_EXTRA,
        overage_rate=FixedRate(Money.of("40.00", "USD")),
        bill_rules=(training,),
    )
    june, july = contract_cycles(BillCycle.MONTHLY, date(2025, 6, 1), date(2026, 5, 31), zone)[:2]
    entries = [
        UsageEntry("e1", "R1", at(zone, 2025, 6, 2, 9), minutes=30),
        UsageEntry(
            "e2", "R2", at(zone, 2025, 6, 3, 9), minutes=90, traits=EntryTraits(work_log_type="training")
        ),
        UsageEntry("e3", "R3", at(zone, 2025, 6, 4, 9), minutes=30),
        UsageEntry("e4", "R4", at(zone, 2025, 6, 5, 9), minutes=30),
        UsageEntry("e5", "R5", at(zone, 2025, 6, 6, 9), minutes=30),
    ]

    june_bill = prepaid_cycle_bill(terms, june, arrears=None)
    july_bill = prepaid_cycle_bill(
        terms, july, arrears=calculate_cycle_usage(terms, june, entries, office(zone))
    )

    assert [line.kind for line in june_bill.lines] == [BillLineKind.BASE_CHARGE]
    assert [(line.kind, line.cycle_index, line.quantity, line.amount.amount) for line in july_bill.lines] == [
        (BillLineKind.BASE_CHARGE, 2, 1, Decimal("300.00")),
        (BillLineKind.EXTRA_REQUESTS, 1, 1, Decimal("40.00")),  # R1, R3, R4, R5: R2 was training only
        (BillLineKind.BILL_RULE, 1, 90, Decimal("120.00")),
    ]
    assert july_bill.total == Money.of("460.00", "USD")


def test_the_first_rule_an_entry_matches_prices_it() -> None:
    cheaper = BillRule(
        name="Any on-site",
        criteria=(RuleCriterion(RuleField.WORK_LOG_TYPE, frozenset({"onsite"})),),
        match_all=True,
        hourly_rate=Money.of("90.00", "USD"),
    )
    terms = BillingTerms(
        plan_type=PlanType.PER_HOUR,
        billing_mode=BillingMode.POSTPAID,
        currency="USD",
        base_charge=Money.of(0, "USD"),
        allowance_units=0,
        when_exhausted=WhenExhausted.BLOCK,
        bill_rules=(ON_SITE, cheaper),
    )
    assert terms.rule_for(EntryTraits(work_log_type="onsite")) is ON_SITE
    assert terms.rule_for(EntryTraits(work_log_type="remote")) is None
