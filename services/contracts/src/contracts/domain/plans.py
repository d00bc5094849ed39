"""Support plans and top-up plans, the terms a plan sells, and the rules between a plan's fields."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from contracts.domain.errors import InvalidPlan
from servicekit.money import Money, minor_units


class PlanType(StrEnum):
    PER_HOUR = "per_hour"
    PER_REQUEST = "per_request"
    FIXED_CHARGE = "fixed_charge"


class BillingMode(StrEnum):
    PREPAID = "prepaid"
    POSTPAID = "postpaid"


class BillCycle(StrEnum):
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    HALF_YEARLY = "half_yearly"
    YEARLY = "yearly"
    CONTRACT_LENGTH = "contract_length"


class WhenExhausted(StrEnum):
    BLOCK = "block"
    CHARGE_EXTRA = "charge_extra"


class OverageRateKind(StrEnum):
    FIXED = "fixed"
    DIFFERENTIAL = "differential"


@dataclass(frozen=True)
class DifferentialRates:
    """Hourly overage rates by category of time."""

    operational: Money
    non_operational: Money
    weekend: Money
    holiday: Money


class RuleField(StrEnum):
    """The fields of a time entry a bill rule can look at."""

    WORK_LOG_TYPE = "work_log_type"
    RATE_TYPE = "rate_type"
    PRODUCT = "product"
    CUSTOM_FIELD = "custom_field"


class RuleOperator(StrEnum):
    EQUALS = "equals"
    ONE_OF = "one_of"


class RuleMatch(StrEnum):
    ALL = "all"
    ANY = "any"


@dataclass(frozen=True)
class RuleCriterion:
    """A condition on one field of a time entry (`custom_field` names the custom field)."""

    field: RuleField
    operator: RuleOperator
    values: tuple[str, ...]
    custom_field: str | None = None


@dataclass(frozen=True)
class BillRule:
    """Entries that match (all or any of the criteria) are billed at `hourly_rate` on a line of their own."""

    name: str
    criteria: tuple[RuleCriterion, ...]
    match: RuleMatch
    hourly_rate: Money


@dataclass(frozen=True)
class PlanTerms:
    """What a support plan sells; snapshotted onto a contract when it is signed.

    `allowance` is whole hours per cycle, or requests for `per_request`; `overage_rate` is per hour,
    or per request for `per_request`.
    """

    plan_type: PlanType
    billing_mode: BillingMode
    bill_cycle: BillCycle
    currency: str
    base_charge: Money
    allowance: int
    when_exhausted: WhenExhausted
    calendar_id: UUID
    overage_rate_kind: OverageRateKind | None = None
    overage_rate: Money | None = None
    differential_rates: DifferentialRates | None = None
    carry_forward: bool = False
    reps_may_add_other_charges: bool = False
    reps_may_override_time_taken: bool = False
    deduct_only_operational: bool = False
    bill_rules: tuple[BillRule, ...] = ()
    """In order: the first rule an entry matches prices it."""
    grace_period_days: int = 0
    """Days an automatic bill stays a draft, recomputed as late time arrives, before it is issued."""


def validate_terms(terms: PlanTerms) -> None:
    """Raise InvalidPlan naming the first rule the terms break."""
    for rule in _RULES:
        problem = rule(terms)
        if problem:
            raise InvalidPlan(problem)


def _amounts(terms: PlanTerms) -> list[tuple[str, Money]]:
    found = [("base_charge", terms.base_charge)]
    found += [(f"bill rule {rule.name!r} hourly_rate", rule.hourly_rate) for rule in terms.bill_rules]
    if terms.overage_rate is not None:
        found.append(("overage_rate", terms.overage_rate))
    if terms.differential_rates is not None:
        rates = terms.differential_rates
        found += [
            ("differential_rates.operational", rates.operational),
            ("differential_rates.non_operational", rates.non_operational),
            ("differential_rates.weekend", rates.weekend),
            ("differential_rates.holiday", rates.holiday),
        ]
    return found


def _money_in_plan_currency(terms: PlanTerms) -> str | None:
    for name, amount in _amounts(terms):
        if amount.currency != terms.currency:
            return f"{name} is in {amount.currency}, but the plan's currency is {terms.currency}"
        if amount.amount < 0:
            return f"{name} may not be negative"
        if -amount.amount.as_tuple().exponent > minor_units(terms.currency):  # type: ignore[operator]
            return f"{name} has more decimals than {terms.currency} allows"
    return None


def _overage_rate_matches_when_exhausted(terms: PlanTerms) -> str | None:
    if terms.when_exhausted is WhenExhausted.BLOCK:
        if terms.overage_rate_kind or terms.overage_rate or terms.differential_rates:
            return "a plan that blocks when the allowance is used up has no overage rates"
        return None
    if terms.overage_rate_kind is None:
        return "charge_extra needs overage_rate_kind: fixed or differential"
    if terms.overage_rate_kind is OverageRateKind.FIXED:
        if terms.overage_rate is None or terms.differential_rates is not None:
            return "a fixed overage rate needs overage_rate and no differential_rates"
    elif terms.differential_rates is None or terms.overage_rate is not None:
        return "differential overage needs differential_rates and no overage_rate"
    return None


def _differential_rates_are_for_hours(terms: PlanTerms) -> str | None:
    if terms.overage_rate_kind is OverageRateKind.DIFFERENTIAL and terms.plan_type is PlanType.PER_REQUEST:
        return "differential rates are for hour-based plans, not per_request"
    return None


def _operational_deduction_needs_differential(terms: PlanTerms) -> str | None:
    if terms.deduct_only_operational and terms.overage_rate_kind is not OverageRateKind.DIFFERENTIAL:
        return "deduct only operational hours needs differential rates"
    return None


def _no_carry_forward_over_contract_length(terms: PlanTerms) -> str | None:
    if terms.carry_forward and terms.bill_cycle is BillCycle.CONTRACT_LENGTH:
        return "carry forward is not possible with a contract_length bill cycle"
    return None


def _bill_rules_say_what_they_match(terms: PlanTerms) -> str | None:
    names = [rule.name for rule in terms.bill_rules]
    if len(set(names)) != len(names):
        return "bill rules need names of their own: two have the same name"
    for rule in terms.bill_rules:
        if not rule.name.strip():
            return "a bill rule needs a name"
        if not rule.criteria:
            return f"bill rule {rule.name!r} needs at least one criterion"
        for criterion in rule.criteria:
            if (criterion.field is RuleField.CUSTOM_FIELD) != (criterion.custom_field is not None):
                return (
                    f"bill rule {rule.name!r}: a criterion on a custom field names it in custom_field, "
                    "and only such a criterion does"
                )
            if not criterion.values:
                return f"bill rule {rule.name!r}: a criterion needs a value"
            if criterion.operator is RuleOperator.EQUALS and len(criterion.values) != 1:
                return f"bill rule {rule.name!r}: equals takes one value; one_of takes several"
    return None


_RULES = (
    _money_in_plan_currency,
    _bill_rules_say_what_they_match,
    _overage_rate_matches_when_exhausted,
    _differential_rates_are_for_hours,
    _operational_deduction_needs_differential,
    _no_carry_forward_over_contract_length,
)


def accepts_top_ups(terms: PlanTerms) -> bool:
    return terms.billing_mode is BillingMode.PREPAID and terms.plan_type is not PlanType.FIXED_CHARGE


@dataclass
class TopUpPlan:
    top_up_plan_id: UUID
    name: str
    description: str
    price: Money
    hour_units: int
    request_units: int
    version: int = 1

    def __post_init__(self) -> None:
        if self.price.amount < Decimal(0):
            raise InvalidPlan("a top-up plan's price may not be negative")
        if -self.price.amount.as_tuple().exponent > minor_units(self.price.currency):  # type: ignore[operator]
            raise InvalidPlan(f"a top-up plan's price has more decimals than {self.price.currency} allows")
        if self.hour_units < 0 or self.request_units < 0 or self.hour_units + self.request_units == 0:
            raise InvalidPlan("a top-up plan adds hour units or request units")

    def units_for(self, plan_type: PlanType) -> int:
        return self.request_units if plan_type is PlanType.PER_REQUEST else self.hour_units


@dataclass
class SupportPlan:
    plan_id: UUID
    name: str
    description: str
    terms: PlanTerms
    top_up_plan_ids: list[UUID] = field(default_factory=list)
    is_default: bool = False
    version: int = 1

    def __post_init__(self) -> None:
        validate_terms(self.terms)
        self.top_up_plan_ids = list(dict.fromkeys(self.top_up_plan_ids))
        if self.top_up_plan_ids and not accepts_top_ups(self.terms):
            raise InvalidPlan("top-up plans can only be associated with prepaid, non-fixed-charge plans")

    def ensure_top_ups_fit(self, top_up_plans: list[TopUpPlan]) -> None:
        """Top-ups are billed on the contract's bills, so they must be priced in the plan's currency."""
        for top_up_plan in top_up_plans:
            if top_up_plan.price.currency != self.terms.currency:
                raise InvalidPlan(
                    f"top-up plan {top_up_plan.name!r} is priced in {top_up_plan.price.currency}, "
                    f"but the plan bills in {self.terms.currency}"
                )
