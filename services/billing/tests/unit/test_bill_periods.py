"""Which cycle's base charge and which cycle's usage a bill period carries, from a contract's terms."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from billing.adapters import wire as adapters
from billing.domain.contract import ContractBook
from billing.domain.errors import NoSuchPeriod
from billing.domain.terms import FixedRate

from ..builders import made_bill, wire_calendar, wire_contract, wire_money

CALENDAR = wire_calendar()


def book(mode: str, **terms: object) -> ContractBook:
    """USD 300 a month with 3 hours included, June to August 2026 in New York."""
    contract = wire_contract(
        CALENDAR,
        mode=mode,
        start=date(2026, 6, 1),
        expiry=date(2026, 8, 31),
        time_zone="America/New_York",
        base_charge=wire_money("300.00"),
        allowance=3,
        overage_rate=wire_money("40.00"),
        **terms,
    )
    contract = contract.model_copy(update={"discount_percent": Decimal(5), "tax_percent": Decimal(8)})
    return ContractBook.of(adapters.billing_contract(contract), adapters.business_calendar(CALENDAR))


def test_a_postpaid_period_carries_its_own_cycle() -> None:
    period = book("postpaid").contract.period("2")
    assert period.base_charge_cycle is not None and period.usage_cycle is not None
    assert period.base_charge_cycle.index == period.usage_cycle.index == 2


def test_a_prepaid_period_carries_its_base_charge_and_the_arrears_of_the_cycle_before() -> None:
    contract = book("prepaid").contract
    first, second = contract.period("1"), contract.period("2")
    assert (
        first.base_charge_cycle is not None
        and first.base_charge_cycle.index == 1
        and first.usage_cycle is None
    )
    assert second.usage_cycle is not None and second.usage_cycle.index == 1


def test_the_prepaid_final_bill_carries_only_the_last_cycles_arrears() -> None:
    final = book("prepaid").contract.period("final")
    assert final.base_charge_cycle is None
    assert final.usage_cycle is not None and final.usage_cycle.index == 3


JUNE = (datetime(2026, 6, 1, 4, tzinfo=UTC), datetime(2026, 7, 1, 4, tzinfo=UTC))
JULY = (datetime(2026, 7, 1, 4, tzinfo=UTC), datetime(2026, 8, 1, 4, tzinfo=UTC))
AUGUST = (datetime(2026, 8, 1, 4, tzinfo=UTC), datetime(2026, 9, 1, 4, tzinfo=UTC))


@pytest.mark.parametrize(
    ("mode", "period", "usage"),
    [
        ("postpaid", "2", JULY),
        ("prepaid", "1", (None, None)),
        ("prepaid", "2", JUNE),
        ("prepaid", "final", AUGUST),
    ],
)
def test_a_bill_states_the_usage_cycle_it_carries_as_instants(
    mode: str, period: str, usage: tuple[datetime | None, datetime | None]
) -> None:
    """What a paid bill closes to new time downstream: the cycle whose time it bills, local midnights in
    New York as UTC instants; nothing for a prepaid contract's first bill, which carries no usage."""
    state = adapters.bill_state(made_bill(book(mode).contract, period))
    assert (state.usage_starts_at, state.usage_ends_at) == usage
    stored = adapters.bill(state, whole_period=True)
    assert (stored.usage_starts_at, stored.usage_ends_at) == usage


def test_postpaid_contracts_have_no_final_period_and_no_cycle_past_the_last() -> None:
    with pytest.raises(NoSuchPeriod, match="final"):
        book("postpaid").contract.period("final")
    with pytest.raises(NoSuchPeriod, match="cycles 1 to 3"):
        book("postpaid").contract.period("4")
    with pytest.raises(NoSuchPeriod, match="cycle number"):
        book("postpaid").contract.period("June")


def test_cycles_follow_the_contracts_time_zone_not_the_calendars() -> None:
    cycle = book("postpaid").contract.cycle(1)
    assert cycle.starts_at.isoformat() == "2026-06-01T04:00:00+00:00"  # midnight in New York
    assert book("postpaid").calendar.time_zone == "America/New_York"


def test_terms_are_translated_with_minutes_as_allowance_units() -> None:
    terms = book("postpaid").terms
    assert terms.allowance_units == 180
    assert isinstance(terms.overage_rate, FixedRate) and terms.overage_rate.rate.amount == Decimal("40.00")
    assert (terms.discount_percent, terms.tax_percent) == (Decimal(5), Decimal(8))


def test_a_period_has_one_name_however_it_is_written() -> None:
    contract = book("postpaid").contract
    assert contract.period("2").name == contract.period("02").name == "2"
    for spelling in ("²", "+2", " 2", "0", "00"):
        with pytest.raises(NoSuchPeriod):
            contract.period(spelling)


def test_with_carry_forward_a_bill_depends_on_the_time_of_every_cycle_before_its_own() -> None:
    """Cycle 1's unused allowance flows into cycle 2's: time added to cycle 1 changes cycle 2's bill,
    so a paid cycle 2 bill closes cycle 1 too (a reviewer's paid bill flagged for good otherwise)."""
    state = adapters.bill_state(made_bill(book("postpaid", carry_forward=True).contract, "2"))
    assert (state.usage_starts_at, state.usage_ends_at) == (JUNE[0], JULY[1])
