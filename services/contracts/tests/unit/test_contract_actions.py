"""Top-up, renewal and termination preconditions, and what each does to the contract."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import uuid4

import pytest

from contracts.domain.contracts import renewal_period
from contracts.domain.errors import (
    ContractAlreadyRenewed,
    ContractAlreadyTerminated,
    ContractNotActive,
    InvalidTermination,
    OutsideContractPeriod,
    OverlappingContract,
    TopUpNotAllowed,
)
from contracts.domain.plans import BillingMode, PlanType
from servicekit.money import Money

MID_2026 = datetime(2026, 6, 10, 10, 0, tzinfo=UTC)


# --- top-up ---------------------------------------------------------------------------------------


def test_a_top_up_adds_the_plans_hour_units_without_moving_dates(make_contract, make_top_up_plan) -> None:
    contract = make_contract()
    offer = make_top_up_plan(hour_units=5)

    top_up = contract.top_up(offer, [offer.top_up_plan_id], top_up_id=uuid4(), now=MID_2026)

    assert (top_up.units, top_up.price, top_up.bought_at) == (5, offer.price, MID_2026)
    assert (contract.start_date, contract.expiry_date) == (date(2026, 1, 1), date(2026, 12, 31))
    assert contract.version == 2


def test_a_per_request_contract_is_topped_up_with_request_units(
    make_contract, make_terms, make_top_up_plan
) -> None:
    contract = make_contract(terms=make_terms(plan_type=PlanType.PER_REQUEST))
    offer = make_top_up_plan(hour_units=5, request_units=3)

    assert contract.top_up(offer, [offer.top_up_plan_id], top_up_id=uuid4(), now=MID_2026).units == 3


def test_a_top_up_with_no_units_of_the_contracts_kind_is_refused(
    make_contract, make_terms, make_top_up_plan
) -> None:
    contract = make_contract(terms=make_terms(plan_type=PlanType.PER_REQUEST))
    offer = make_top_up_plan(hour_units=5, request_units=0)

    with pytest.raises(TopUpNotAllowed, match="adds no units"):
        contract.top_up(offer, [offer.top_up_plan_id], top_up_id=uuid4(), now=MID_2026)


@pytest.mark.parametrize("now", [datetime(2025, 12, 1, tzinfo=UTC), datetime(2027, 1, 2, tzinfo=UTC)])
def test_only_an_active_contract_can_be_topped_up(make_contract, make_top_up_plan, now: datetime) -> None:
    contract = make_contract()
    offer = make_top_up_plan()

    with pytest.raises(ContractNotActive):
        contract.top_up(offer, [offer.top_up_plan_id], top_up_id=uuid4(), now=now)


def test_a_postpaid_contract_cannot_be_topped_up(make_contract, make_terms, make_top_up_plan) -> None:
    contract = make_contract(terms=make_terms(billing_mode=BillingMode.POSTPAID))
    offer = make_top_up_plan()

    with pytest.raises(TopUpNotAllowed, match="prepaid"):
        contract.top_up(offer, [offer.top_up_plan_id], top_up_id=uuid4(), now=MID_2026)


def test_a_fixed_charge_contract_cannot_be_topped_up(make_contract, make_terms, make_top_up_plan) -> None:
    contract = make_contract(terms=make_terms(plan_type=PlanType.FIXED_CHARGE))
    offer = make_top_up_plan()

    with pytest.raises(TopUpNotAllowed, match="fixed charge"):
        contract.top_up(offer, [offer.top_up_plan_id], top_up_id=uuid4(), now=MID_2026)


def test_only_a_top_up_plan_the_support_plan_offers_can_be_bought(make_contract, make_top_up_plan) -> None:
    contract = make_contract()

    with pytest.raises(TopUpNotAllowed, match="not offered"):
        contract.top_up(make_top_up_plan(), [uuid4()], top_up_id=uuid4(), now=MID_2026)


def test_a_top_up_priced_in_another_currency_is_refused(make_contract, make_top_up_plan) -> None:
    contract = make_contract()
    offer = make_top_up_plan(price=Money(Decimal("10.00"), "EUR"))

    with pytest.raises(TopUpNotAllowed, match="EUR"):
        contract.top_up(offer, [offer.top_up_plan_id], top_up_id=uuid4(), now=MID_2026)


# --- renewal --------------------------------------------------------------------------------------


def _renew(contract, now=MID_2026, **changes):
    fields = {
        "new_contract_id": uuid4(),
        "contract_number": "C-NEXT",
        "plan_id": contract.plan_id,
        "terms": contract.terms,
    }
    fields.update(changes)
    return contract.renew(now, **fields)


def test_a_renewal_starts_the_day_after_expiry_and_runs_as_long(make_contract) -> None:
    contract = make_contract()

    renewal = _renew(contract)

    assert (renewal.start_date, renewal.expiry_date) == (date(2027, 1, 1), date(2027, 12, 31))
    assert renewal.terms == contract.terms


def test_a_renewal_is_linked_both_ways(make_contract) -> None:
    contract = make_contract()

    renewal = _renew(contract)

    assert renewal.renewed_from == contract.contract_id
    assert contract.renewed_to == renewal.contract_id


def test_whole_month_periods_renew_to_whole_months_across_leap_years() -> None:
    assert renewal_period(date(2027, 3, 1), date(2028, 2, 29), date(2028, 3, 1)) == (
        date(2028, 3, 1),
        date(2029, 2, 28),
    )


def test_other_periods_renew_for_the_same_number_of_days() -> None:
    assert renewal_period(date(2026, 1, 1), date(2026, 1, 10), date(2026, 1, 11)) == (
        date(2026, 1, 11),
        date(2026, 1, 20),
    )


@pytest.mark.parametrize("now", [datetime(2025, 12, 1, tzinfo=UTC), datetime(2027, 1, 2, tzinfo=UTC)])
def test_renewal_is_only_possible_during_the_contract_period(make_contract, now: datetime) -> None:
    with pytest.raises(OutsideContractPeriod):
        _renew(make_contract(), now)


def test_a_contract_is_renewed_only_once(make_contract) -> None:
    contract = make_contract()
    _renew(contract)

    with pytest.raises(ContractAlreadyRenewed):
        _renew(contract, contract_number="C-AGAIN")


def test_a_terminated_contract_cannot_be_renewed(make_contract) -> None:
    contract = make_contract(termination_date=date(2026, 6, 30))

    with pytest.raises(ContractAlreadyTerminated):
        _renew(contract)


@pytest.mark.parametrize("start", [date(2026, 12, 1), date(2020, 1, 1)], ids=["overlapping", "years before"])
def test_a_renewal_that_starts_before_the_old_contract_ends_is_refused(make_contract, start: date) -> None:
    contract = make_contract()

    with pytest.raises(OverlappingContract, match="starts after it ends"):
        _renew(contract, start_date=start)
    assert contract.renewed_to is None


def test_a_renewed_contract_is_not_terminated_while_its_renewal_stands(make_contract) -> None:
    contract = make_contract()
    _renew(contract)

    with pytest.raises(ContractAlreadyRenewed, match="terminate .* its renewal first"):
        contract.terminate(MID_2026)
    assert contract.termination_date is None


# --- termination ----------------------------------------------------------------------------------


def test_termination_defaults_to_today_and_ends_at_the_local_midnight_after_it(make_contract) -> None:
    contract = make_contract(time_zone="Europe/Berlin")

    terminated_at = contract.terminate(MID_2026)

    assert contract.termination_date == date(2026, 6, 10)
    # Berlin is UTC+2 in June: the end of 10 June there is 22:00 UTC.
    assert terminated_at == datetime(2026, 6, 10, 22, 0, tzinfo=UTC)
    assert contract.end_date == date(2026, 6, 10)


def test_termination_is_irreversible_and_happens_once(make_contract) -> None:
    contract = make_contract()
    contract.terminate(MID_2026, date(2026, 7, 31))

    with pytest.raises(ContractAlreadyTerminated):
        contract.terminate(MID_2026, date(2026, 8, 31))


@pytest.mark.parametrize("day", [date(2026, 6, 9), date(2027, 1, 1)])
def test_the_termination_date_lies_between_today_and_expiry(make_contract, day: date) -> None:
    with pytest.raises(InvalidTermination):
        make_contract().terminate(MID_2026, day)


@pytest.mark.parametrize("now", [datetime(2025, 12, 1, tzinfo=UTC), datetime(2027, 1, 2, tzinfo=UTC)])
def test_termination_is_only_possible_during_the_contract_period(make_contract, now: datetime) -> None:
    with pytest.raises(OutsideContractPeriod):
        make_contract().terminate(now)


def test_a_terminated_contract_frees_the_days_after_its_termination(make_contract) -> None:
    contract = make_contract()
    contract.terminate(MID_2026, date(2026, 6, 30))
    follow_up = make_contract(start_date=date(2026, 7, 1), expiry_date=date(2026, 12, 31))

    follow_up.ensure_no_overlap([contract])
