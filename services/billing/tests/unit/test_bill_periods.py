"""Which cycle's base charge and which cycle's usage a bill period carries, from a contract's terms."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest

from billing.domain.errors import NoSuchPeriod
from billing.domain.terms import FixedRate
from billing.service_layer.contract_book import ContractBook
from contracts_schema import contracts as wire
from contracts_schema.primitives import MoneyAmount

CALENDAR = wire.BusinessCalendar(
    calendar_id=uuid.uuid4(),
    name="Office",
    time_zone="Europe/Berlin",
    working_days=[1, 2, 3, 4, 5],
    working_hours=[wire.WorkingHours(start="09:00", end="17:00")],
)


def book(mode: str, **terms: object) -> ContractBook:
    plan_terms = wire.PlanTerms(
        plan_type=wire.PlanType.PER_HOUR,
        billing_mode=wire.BillingMode(mode),
        bill_cycle=wire.BillCycle.MONTHLY,
        currency="USD",
        base_charge=MoneyAmount(amount=Decimal("300.00"), currency="USD"),
        allowance=3,
        when_exhausted=wire.WhenExhausted.CHARGE_EXTRA,
        overage_rate_kind=wire.OverageRateKind.FIXED,
        overage_rate=MoneyAmount(amount=Decimal("40.00"), currency="USD"),
        calendar_id=CALENDAR.calendar_id,
        **terms,  # type: ignore[arg-type]
    )
    contract = wire.ContractState(
        contract_id=uuid.uuid4(),
        contract_number="C-1",
        account_id="acme",
        name="Acme",
        plan_id=uuid.uuid4(),
        status=wire.ContractStatus.ACTIVE,
        start_date=date(2026, 6, 1),
        expiry_date=date(2026, 8, 31),
        time_zone="America/New_York",
        scope=wire.ContractScope(),
        payment_terms_days=30,
        discount_percent=Decimal(5),
        tax_percent=Decimal(8),
        terms=plan_terms,
        version=1,
    )
    return ContractBook.of(contract, CALENDAR)


def test_a_postpaid_period_carries_its_own_cycle() -> None:
    period = book("postpaid").period("2")
    assert period.base_charge_cycle is not None and period.usage_cycle is not None
    assert period.base_charge_cycle.index == period.usage_cycle.index == 2


def test_a_prepaid_period_carries_its_base_charge_and_the_arrears_of_the_cycle_before() -> None:
    contract = book("prepaid")
    first, second = contract.period("1"), contract.period("2")
    assert (
        first.base_charge_cycle is not None
        and first.base_charge_cycle.index == 1
        and first.usage_cycle is None
    )
    assert second.usage_cycle is not None and second.usage_cycle.index == 1


def test_the_prepaid_final_bill_carries_only_the_last_cycles_arrears() -> None:
    final = book("prepaid").period("final")
    assert final.base_charge_cycle is None
    assert final.usage_cycle is not None and final.usage_cycle.index == 3


def test_postpaid_contracts_have_no_final_period_and_no_cycle_past_the_last() -> None:
    with pytest.raises(NoSuchPeriod, match="final"):
        book("postpaid").period("final")
    with pytest.raises(NoSuchPeriod, match="cycles 1 to 3"):
        book("postpaid").period("4")
    with pytest.raises(NoSuchPeriod, match="cycle number"):
        book("postpaid").period("June")


def test_cycles_follow_the_contracts_time_zone_not_the_calendars() -> None:
    cycle = book("postpaid").cycle(1)
    assert cycle.starts_at.isoformat() == "2026-06-01T04:00:00+00:00"  # midnight in New York
    assert book("postpaid").calendar.time_zone == "America/New_York"


def test_terms_are_translated_with_minutes_as_allowance_units() -> None:
    terms = book("postpaid").terms
    assert terms.allowance_units == 180
    assert isinstance(terms.overage_rate, FixedRate) and terms.overage_rate.rate.amount == Decimal("40.00")
    assert (terms.discount_percent, terms.tax_percent) == (Decimal(5), Decimal(8))


def test_a_period_has_one_spelling() -> None:
    assert book("postpaid").period("2").name == "2"
    for spelling in ("02", "²", "+2", " 2", "0"):
        with pytest.raises(NoSuchPeriod):
            book("postpaid").period(spelling)
