"""The rules between a plan's fields, and top-up plans."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import pytest

from contracts.domain.errors import InvalidPlan
from contracts.domain.plans import (
    BillCycle,
    BillingMode,
    BillRule,
    DifferentialRates,
    OverageRateKind,
    PlanType,
    RuleCriterion,
    RuleField,
    RuleMatch,
    RuleOperator,
    validate_terms,
)
from servicekit.money import Money
from services.contracts.tests.builders import support_plan, usd


def test_valid_terms_pass(make_terms) -> None:
    validate_terms(make_terms())


def test_carry_forward_is_not_possible_with_a_contract_length_cycle(make_terms) -> None:
    with pytest.raises(InvalidPlan, match="carry forward"):
        validate_terms(make_terms(carry_forward=True, bill_cycle=BillCycle.CONTRACT_LENGTH))


def test_deducting_only_operational_hours_needs_differential_rates(make_terms) -> None:
    with pytest.raises(InvalidPlan, match="differential"):
        validate_terms(make_terms(deduct_only_operational=True))


def test_deducting_only_operational_hours_with_differential_rates_passes(make_terms) -> None:
    rates = DifferentialRates(
        operational=usd("50"), non_operational=usd("75"), weekend=usd("100"), holiday=usd("150")
    )
    validate_terms(
        make_terms(
            overage_rate_kind=OverageRateKind.DIFFERENTIAL,
            overage_rate=None,
            differential_rates=rates,
            deduct_only_operational=True,
        )
    )


def test_a_blocking_plan_has_no_overage_rates(make_blocking_terms) -> None:
    with pytest.raises(InvalidPlan, match="blocks"):
        validate_terms(make_blocking_terms(overage_rate=usd("60.00")))


def test_charges_are_in_the_plans_currency(make_terms) -> None:
    with pytest.raises(InvalidPlan, match="EUR"):
        validate_terms(make_terms(overage_rate=Money(Decimal("60.00"), "EUR")))


def test_amounts_have_no_more_decimals_than_the_currency(make_terms) -> None:
    with pytest.raises(InvalidPlan, match="decimals"):
        validate_terms(make_terms(base_charge=usd("500.001")))


@pytest.mark.parametrize(
    "changes",
    [{"billing_mode": BillingMode.POSTPAID}, {"plan_type": PlanType.FIXED_CHARGE}],
)
def test_top_ups_are_only_for_prepaid_non_fixed_charge_plans(make_terms, changes) -> None:
    with pytest.raises(InvalidPlan, match="top-up"):
        support_plan(make_terms(**changes), [uuid4()])


def test_a_prepaid_per_hour_plan_offers_top_ups(make_terms) -> None:
    assert len(support_plan(make_terms(), [uuid4()]).top_up_plan_ids) == 1


def test_a_plan_offers_top_ups_priced_in_its_currency_only(make_terms, make_top_up_plan) -> None:
    euro_offer = make_top_up_plan(price=Money(Decimal("10.00"), "EUR"))
    plan = support_plan(make_terms(), [euro_offer.top_up_plan_id])

    with pytest.raises(InvalidPlan, match="EUR"):
        plan.ensure_top_ups_fit([euro_offer])


def test_a_top_up_plan_adds_some_units(make_top_up_plan) -> None:
    with pytest.raises(InvalidPlan, match="units"):
        make_top_up_plan(hour_units=0, request_units=0)


def test_a_top_up_plans_price_is_not_negative(make_top_up_plan) -> None:
    with pytest.raises(InvalidPlan, match="negative"):
        make_top_up_plan(price=usd("-1.00"))


def on_site(**changes: object) -> BillRule:
    rule: dict[str, object] = {
        "name": "On-site work",
        "criteria": (RuleCriterion(RuleField.WORK_LOG_TYPE, RuleOperator.EQUALS, ("onsite",)),),
        "match": RuleMatch.ALL,
        "hourly_rate": usd("120.00"),
    }
    return BillRule(**(rule | changes))  # type: ignore[arg-type]


def test_bill_rules_in_the_plans_currency_pass(make_terms) -> None:
    custom = RuleCriterion(RuleField.CUSTOM_FIELD, RuleOperator.ONE_OF, ("gold", "platinum"), "tier")
    validate_terms(make_terms(bill_rules=(on_site(), on_site(name="Premium", criteria=(custom,)))))


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        (on_site(hourly_rate=Money.of("120", "EUR")), "in EUR"),
        (on_site(hourly_rate=usd("-1")), "may not be negative"),
        (on_site(hourly_rate=Money(Decimal("1.005"), "USD")), "more decimals"),
        (on_site(criteria=()), "at least one criterion"),
        (on_site(name=" "), "needs a name"),
        (
            on_site(criteria=(RuleCriterion(RuleField.CUSTOM_FIELD, RuleOperator.EQUALS, ("gold",)),)),
            "custom_field",
        ),
        (
            on_site(criteria=(RuleCriterion(RuleField.PRODUCT, RuleOperator.EQUALS, ("a", "b")),)),
            "equals takes one value",
        ),
    ],
)
def test_a_bill_rule_that_cannot_price_an_entry_is_refused(make_terms, rule: BillRule, problem: str) -> None:
    with pytest.raises(InvalidPlan, match=problem):
        validate_terms(make_terms(bill_rules=(rule,)))


def test_two_bill_rules_of_one_plan_have_names_of_their_own(make_terms) -> None:
    with pytest.raises(InvalidPlan, match="same name"):
        validate_terms(make_terms(bill_rules=(on_site(), on_site())))
