"""The contract terms that price a cycle: plan type, base charge, allowance, overage rates, discount and tax.

Allowances are counted in units: minutes for hour-based plans (`per_hour`, `fixed_charge`), requests for
`per_request`. Plans state hours; `allowance_units` converts once so that no later step mixes units.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from billing.domain.errors import InvalidBillingTerms
from servicekit.business_hours import MinuteCategory
from servicekit.money import Money

MINUTES_PER_HOUR = 60


class PlanType(StrEnum):
    PER_HOUR = "per_hour"
    PER_REQUEST = "per_request"
    FIXED_CHARGE = "fixed_charge"

    @property
    def is_hour_based(self) -> bool:
        return self is not PlanType.PER_REQUEST


class BillingMode(StrEnum):
    PREPAID = "prepaid"
    POSTPAID = "postpaid"


class WhenExhausted(StrEnum):
    BLOCK = "block"
    CHARGE_EXTRA = "charge_extra"


@dataclass(frozen=True, slots=True)
class FixedRate:
    """One rate for every uncovered unit: per hour for hour-based plans, per request for `per_request`."""

    rate: Money


@dataclass(frozen=True, slots=True)
class DifferentialRates:
    """Hourly rates per minute category; only for hour-based plans."""

    operational: Money
    non_operational: Money
    weekend: Money
    holiday: Money

    def for_category(self, category: MinuteCategory) -> Money:
        return {
            MinuteCategory.OPERATIONAL: self.operational,
            MinuteCategory.NON_OPERATIONAL: self.non_operational,
            MinuteCategory.WEEKEND: self.weekend,
            MinuteCategory.HOLIDAY: self.holiday,
        }[category]


OverageRate = FixedRate | DifferentialRates


class RuleField(StrEnum):
    WORK_LOG_TYPE = "work_log_type"
    RATE_TYPE = "rate_type"
    PRODUCT = "product"
    CUSTOM_FIELD = "custom_field"


@dataclass(frozen=True, slots=True)
class EntryTraits:
    """What a time entry says of itself that a bill rule can look at."""

    product: str | None = None
    work_log_type: str | None = None
    rate_type: str | None = None
    custom_fields: tuple[tuple[str, str], ...] = ()

    def value_of(self, field: RuleField, custom_field: str | None) -> str | None:
        match field:
            case RuleField.PRODUCT:
                return self.product
            case RuleField.WORK_LOG_TYPE:
                return self.work_log_type
            case RuleField.RATE_TYPE:
                return self.rate_type
            case RuleField.CUSTOM_FIELD:
                return dict(self.custom_fields).get(custom_field or "")


@dataclass(frozen=True, slots=True)
class RuleCriterion:
    """Holds when the entry's field has one of `values` (equals is one_of with one value)."""

    field: RuleField
    values: frozenset[str]
    custom_field: str | None = None

    def holds_for(self, traits: EntryTraits) -> bool:
        return traits.value_of(self.field, self.custom_field) in self.values


@dataclass(frozen=True, slots=True)
class BillRule:
    """Billable entries that match are priced at `hourly_rate` for all their counted minutes, on a line
    of their own; they do not draw on the allowance and are not overage."""

    name: str
    criteria: tuple[RuleCriterion, ...]
    match_all: bool
    hourly_rate: Money

    def matches(self, traits: EntryTraits) -> bool:
        held = (criterion.holds_for(traits) for criterion in self.criteria)
        return all(held) if self.match_all else any(held)


def allowance_units(plan_type: PlanType, *, hours: int = 0, requests: int = 0) -> int:
    """Allowance units of a plan, contract override or top-up that states whole hours and/or requests."""
    if hours < 0 or requests < 0:
        raise InvalidBillingTerms("an allowance cannot be negative")
    return hours * MINUTES_PER_HOUR if plan_type.is_hour_based else requests


@dataclass(frozen=True, slots=True)
class BillingTerms:
    """A contract's snapshot of the terms that price its cycles.

    `allowance_units` is the cycle's own allowance (the contract's override, else the plan's): minutes for
    hour-based plans, requests for `per_request`. Percentages are Decimal percents: Decimal("5") is 5 %.
    """

    plan_type: PlanType
    billing_mode: BillingMode
    currency: str
    base_charge: Money
    allowance_units: int
    when_exhausted: WhenExhausted
    overage_rate: OverageRate | None = None
    carry_forward: bool = False
    deduct_only_operational: bool = False
    discount_percent: Decimal = Decimal(0)
    tax_percent: Decimal = Decimal(0)
    bill_rules: tuple[BillRule, ...] = ()
    """In order: the first rule an entry matches prices it."""

    def rule_for(self, traits: EntryTraits) -> BillRule | None:
        if not self.bill_rules:
            return None  # most terms: asked for every entry a bill counts
        return next((rule for rule in self.bill_rules if rule.matches(traits)), None)

    def __post_init__(self) -> None:
        if self.allowance_units < 0:
            raise InvalidBillingTerms("the allowance cannot be negative")
        if self.when_exhausted is WhenExhausted.CHARGE_EXTRA and self.overage_rate is None:
            raise InvalidBillingTerms("charge_extra needs an overage rate")
        if isinstance(self.overage_rate, DifferentialRates) and not self.plan_type.is_hour_based:
            raise InvalidBillingTerms("differential rates are for hour-based plans")
        if self.deduct_only_operational and not (
            self.when_exhausted is WhenExhausted.CHARGE_EXTRA
            and isinstance(self.overage_rate, DifferentialRates)
        ):
            raise InvalidBillingTerms(
                "deduct only operational hours needs charge_extra with differential rates"
            )
        for name in ("discount_percent", "tax_percent"):
            if not isinstance(getattr(self, name), Decimal):
                raise InvalidBillingTerms(f"{name} must be a Decimal")
        if not Decimal(0) <= self.discount_percent <= Decimal(100):
            raise InvalidBillingTerms(f"discount {self.discount_percent} % is not between 0 and 100")
        if self.tax_percent < 0:
            raise InvalidBillingTerms(f"tax {self.tax_percent} % is negative")
        for money in self._charges_and_rates():
            if money.currency != self.currency:
                raise InvalidBillingTerms(f"{money} is not in the contract's currency {self.currency}")

    def _charges_and_rates(self) -> list[Money]:
        charges = [self.base_charge]
        if isinstance(self.overage_rate, FixedRate):
            charges.append(self.overage_rate.rate)
        elif isinstance(self.overage_rate, DifferentialRates):
            charges.extend(self.overage_rate.for_category(category) for category in MinuteCategory)
        charges.extend(rule.hourly_rate for rule in self.bill_rules)
        return charges
