"""Bill drafts: the lines a bill carries and the money arithmetic that totals them.

Each line is quantity x unit price, rounded once, half up, to the currency's minor units. The subtotal
is the sum of the rounded lines; discount = round(subtotal x discount %); tax = round((subtotal -
discount) x tax %); total = subtotal - discount + tax.

Which lines a bill carries depends on the billing mode: a postpaid bill closes cycle N with N's base
charge and N's usage; a prepaid bill opens cycle N with N's base charge and the arrears of cycle N-1,
and the prepaid final bill carries the arrears of the last cycle only.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from billing.domain.errors import InvalidBillingTerms, MismatchedBillPeriod
from billing.domain.terms import MINUTES_PER_HOUR, BillingMode, BillingTerms, DifferentialRates, FixedRate
from billing.domain.usage import AllowanceUnit, CycleUsage
from servicekit.business_hours import MinuteCategory
from servicekit.cycles import Cycle
from servicekit.money import Money

# Overage lines of differential rates appear in this order, whatever order the minutes came in.
_CATEGORY_LABELS = {
    MinuteCategory.OPERATIONAL: "operational",
    MinuteCategory.NON_OPERATIONAL: "non-operational",
    MinuteCategory.WEEKEND: "weekend",
    MinuteCategory.HOLIDAY: "holiday",
}


class BillLineKind(StrEnum):
    BASE_CHARGE = "base_charge"
    TOP_UP = "top_up"
    OVERAGE = "overage"
    EXTRA_REQUESTS = "extra_requests"
    BILL_RULE = "bill_rule"
    OTHER_CHARGES = "other_charges"


class QuantityUnit(StrEnum):
    """What a line's quantity counts; a MINUTES line's unit price is per hour."""

    MINUTES = "minutes"
    REQUESTS = "requests"
    UNITS = "units"

    @property
    def price_per(self) -> str:
        """What the line's unit price is per, so that a reader can check amount = quantity x price."""
        return {QuantityUnit.MINUTES: "hour", QuantityUnit.REQUESTS: "request", QuantityUnit.UNITS: "unit"}[
            self
        ]


def format_minutes(minutes: int) -> str:
    """Minutes as h:mm, the way a bill line shows time: 675 -> "11:15"."""
    if minutes < 0:
        raise ValueError(f"cannot show {minutes} minutes as h:mm")
    hours, rest = divmod(minutes, MINUTES_PER_HOUR)
    return f"{hours}:{rest:02d}"


def line_amount(quantity: int, unit: QuantityUnit, unit_price: Money) -> Money:
    """quantity x unit price (per hour for minutes), rounded once, half up, to minor units."""
    exact = quantity * unit_price.amount
    if unit is QuantityUnit.MINUTES:
        exact = exact / MINUTES_PER_HOUR
    return Money.of(exact, unit_price.currency)


@dataclass(frozen=True, slots=True)
class BillLine:
    """One priced line. `cycle_index` is the cycle whose base charge or usage the line carries."""

    kind: BillLineKind
    description: str
    quantity: int
    quantity_unit: QuantityUnit
    unit_price: Money
    amount: Money
    cycle_index: int
    category: MinuteCategory | None = None
    entry_id: str | None = None

    @property
    def quantity_text(self) -> str:
        if self.quantity_unit is QuantityUnit.MINUTES:
            return format_minutes(self.quantity)
        return str(self.quantity)


def _priced_line(
    kind: BillLineKind,
    description: str,
    quantity: int,
    unit: QuantityUnit,
    unit_price: Money,
    cycle_index: int,
    *,
    category: MinuteCategory | None = None,
    entry_id: str | None = None,
) -> BillLine:
    return BillLine(
        kind=kind,
        description=description,
        quantity=quantity,
        quantity_unit=unit,
        unit_price=unit_price,
        amount=line_amount(quantity, unit, unit_price),
        cycle_index=cycle_index,
        category=category,
        entry_id=entry_id,
    )


@dataclass(frozen=True, slots=True)
class BillDraft:
    """A computed bill before it gets a number: lines, totals, and the usage it carries."""

    currency: str
    lines: tuple[BillLine, ...]
    subtotal: Money
    discount_percent: Decimal
    discount: Money
    tax_percent: Decimal
    tax: Money
    total: Money
    base_charge_cycle: Cycle | None
    usage: CycleUsage | None

    @property
    def entry_ids(self) -> tuple[str, ...]:
        """The time entries this bill covers: the billable entries of the usage it carries."""
        return self.usage.entry_ids if self.usage is not None else ()


def compose_bill(
    terms: BillingTerms, *, base_charge_cycle: Cycle | None, usage: CycleUsage | None
) -> BillDraft:
    """A bill with the base charge of `base_charge_cycle` (if any) and the charges of `usage` (if any)."""
    lines: list[BillLine] = []
    if base_charge_cycle is not None:
        lines.append(_base_charge_line(terms, base_charge_cycle))
    if usage is not None:
        lines.extend(_usage_lines(terms, usage))
    subtotal = sum((line.amount for line in lines), Money.zero(terms.currency))
    discount = Money.of(subtotal.amount * terms.discount_percent / 100, terms.currency)
    tax = Money.of((subtotal - discount).amount * terms.tax_percent / 100, terms.currency)
    return BillDraft(
        currency=terms.currency,
        lines=tuple(lines),
        subtotal=subtotal,
        discount_percent=terms.discount_percent,
        discount=discount,
        tax_percent=terms.tax_percent,
        tax=tax,
        total=subtotal - discount + tax,
        base_charge_cycle=base_charge_cycle,
        usage=usage,
    )


def postpaid_cycle_bill(terms: BillingTerms, usage: CycleUsage) -> BillDraft:
    """The postpaid bill that closes a cycle: its base charge, overage, other charges and top-ups."""
    _require_mode(terms, BillingMode.POSTPAID)
    return compose_bill(terms, base_charge_cycle=usage.cycle, usage=usage)


def prepaid_cycle_bill(terms: BillingTerms, cycle: Cycle, arrears: CycleUsage | None) -> BillDraft:
    """The prepaid bill that opens `cycle`: its base charge plus the previous cycle's arrears, if any."""
    _require_mode(terms, BillingMode.PREPAID)
    if arrears is not None and arrears.cycle.index != cycle.index - 1:
        raise MismatchedBillPeriod(
            f"the bill opening cycle {cycle.index} carries the arrears of cycle {cycle.index - 1}, "
            f"not of cycle {arrears.cycle.index}"
        )
    return compose_bill(terms, base_charge_cycle=cycle, usage=arrears)


def prepaid_final_bill(terms: BillingTerms, arrears: CycleUsage) -> BillDraft:
    """The prepaid closing bill at expiry or termination: the last cycle's arrears only."""
    _require_mode(terms, BillingMode.PREPAID)
    return compose_bill(terms, base_charge_cycle=None, usage=arrears)


def _require_mode(terms: BillingTerms, mode: BillingMode) -> None:
    if terms.billing_mode is not mode:
        raise InvalidBillingTerms(f"a {mode} bill for a {terms.billing_mode} contract")


def _base_charge_line(terms: BillingTerms, cycle: Cycle) -> BillLine:
    return _priced_line(
        BillLineKind.BASE_CHARGE,
        f"Base charge, cycle {cycle.index} ({cycle.start_date} to {cycle.end_date})",
        1,
        QuantityUnit.UNITS,
        terms.base_charge,
        cycle.index,
    )


def _usage_lines(terms: BillingTerms, usage: CycleUsage) -> list[BillLine]:
    index = usage.cycle.index
    lines = [
        _priced_line(
            BillLineKind.TOP_UP,
            f"Top-up {top_up.description}, cycle {index}",
            1,
            QuantityUnit.UNITS,
            top_up.price,
            index,
        )
        for top_up in usage.top_ups
    ]
    lines.extend(_overage_lines(terms, usage))
    lines.extend(
        _priced_line(
            BillLineKind.BILL_RULE,
            f"{priced.rule.name}, cycle {index}",
            priced.minutes,
            QuantityUnit.MINUTES,
            priced.rule.hourly_rate,
            index,
        )
        for priced in usage.priced_by_rules
    )
    lines.extend(
        _priced_line(
            BillLineKind.OTHER_CHARGES,
            f"Other charges on time entry {charge.entry_id}",
            1,
            QuantityUnit.UNITS,
            charge.amount,
            index,
            entry_id=charge.entry_id,
        )
        for charge in usage.other_charges
    )
    return lines


def _overage_lines(terms: BillingTerms, usage: CycleUsage) -> list[BillLine]:
    index = usage.cycle.index
    rate = terms.overage_rate
    if usage.unit is AllowanceUnit.REQUESTS:
        if usage.extra_requests == 0 or not isinstance(rate, FixedRate):
            return []
        return [
            _priced_line(
                BillLineKind.EXTRA_REQUESTS,
                f"Requests beyond the allowance, cycle {index}",
                usage.extra_requests,
                QuantityUnit.REQUESTS,
                rate.rate,
                index,
            )
        ]
    if isinstance(rate, FixedRate):
        if usage.total_overage_minutes == 0:
            return []
        return [
            _priced_line(
                BillLineKind.OVERAGE,
                f"Time beyond the allowance, cycle {index}",
                usage.total_overage_minutes,
                QuantityUnit.MINUTES,
                rate.rate,
                index,
            )
        ]
    if isinstance(rate, DifferentialRates):
        return [
            _priced_line(
                BillLineKind.OVERAGE,
                f"Time beyond the allowance, {_CATEGORY_LABELS[category]} hours, cycle {index}",
                usage.overage_minutes[category],
                QuantityUnit.MINUTES,
                rate.for_category(category),
                index,
                category=category,
            )
            for category in _CATEGORY_LABELS
            if usage.overage_minutes[category] > 0
        ]
    return []
