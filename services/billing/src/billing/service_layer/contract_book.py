"""From billing's copy of a contract to the domain's terms, cycles and calendar, and periods to bill."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from billing.domain.calendar import BusinessCalendar, MinuteCategory, WorkingHours, to_whole_minute
from billing.domain.errors import NoSuchPeriod
from billing.domain.terms import (
    BillingMode,
    BillingTerms,
    DifferentialRates,
    FixedRate,
    OverageRate,
    PlanType,
    WhenExhausted,
    allowance_units,
)
from contracts_schema import contracts as wire
from contracts_schema.primitives import MoneyAmount
from servicekit.cycles import Cycle, contract_cycles
from servicekit.money import Money

FINAL_PERIOD = "final"
_BOOKS_KEPT = 20_000
_CYCLE_NUMBER = re.compile(r"[1-9][0-9]{0,5}")


def money(amount: MoneyAmount) -> Money:
    return Money(amount.amount, amount.currency)


def calendar_from(calendar: wire.BusinessCalendar, time_zone: str) -> BusinessCalendar:
    """The calendar read in the contract's zone, which decides operational time, weekends and holidays."""
    return BusinessCalendar(
        time_zone=calendar.time_zone,
        working_days=frozenset(calendar.working_days),
        working_hours=tuple(WorkingHours(hours.start, hours.end) for hours in calendar.working_hours),
        holidays=frozenset(calendar.holidays),
    ).in_zone(time_zone)


def billing_terms(contract: wire.ContractState) -> BillingTerms:
    terms = contract.terms
    plan_type = PlanType(terms.plan_type.value)
    overage: OverageRate | None = None
    if terms.when_exhausted is wire.WhenExhausted.CHARGE_EXTRA:
        if terms.differential_rates is not None:
            rates = terms.differential_rates
            overage = DifferentialRates(
                money(rates.operational),
                money(rates.non_operational),
                money(rates.weekend),
                money(rates.holiday),
            )
        elif terms.overage_rate is not None:
            overage = FixedRate(money(terms.overage_rate))
    return BillingTerms(
        plan_type=plan_type,
        billing_mode=BillingMode(terms.billing_mode.value),
        currency=terms.currency,
        base_charge=money(terms.base_charge),
        allowance_units=allowance_units(plan_type, hours=terms.allowance, requests=terms.allowance),
        when_exhausted=WhenExhausted(terms.when_exhausted.value),
        overage_rate=overage,
        carry_forward=terms.carry_forward and terms.bill_cycle is not wire.BillCycle.CONTRACT_LENGTH,
        deduct_only_operational=terms.deduct_only_operational,
        discount_percent=Decimal(contract.discount_percent),
        tax_percent=Decimal(contract.tax_percent),
    )


def cycles_of(contract: wire.ContractState) -> list[Cycle]:
    return contract_cycles(
        contract.terms.bill_cycle,
        contract.start_date,
        contract.expiry_date,
        contract.time_zone,
        contract.termination_date,
    )


def bill_due_dates(contract: wire.ContractState) -> list[tuple[str, datetime]]:
    """Every bill the contract's cycles call for, with the instant it falls due: prepaid at each
    cycle's start and a final one at the end, postpaid at each cycle's end."""
    cycles = cycles_of(contract)
    if contract.terms.billing_mode is wire.BillingMode.PREPAID:
        return [(str(c.index), c.starts_at) for c in cycles] + [(FINAL_PERIOD, cycles[-1].ends_at)]
    return [(str(c.index), c.ends_at) for c in cycles]


def top_up_units(contract: wire.ContractState, units: int) -> int:
    plan_type = PlanType(contract.terms.plan_type.value)
    return allowance_units(plan_type, hours=units, requests=units)


@dataclass(frozen=True)
class BillPeriod:
    """What one bill carries: the base charge of `base_charge_cycle`, the usage of `usage_cycle`."""

    name: str
    base_charge_cycle: Cycle | None
    usage_cycle: Cycle | None

    def covered_whole_by(self, issued_at: datetime) -> bool:
        """Whether a bill made at `issued_at` carries all of the period: its usage cycle had ended."""
        return self.usage_cycle is None or issued_at >= self.usage_cycle.ends_at


@dataclass(frozen=True)
class ContractBook:
    """Everything billing needs to price one contract."""

    contract: wire.ContractState
    terms: BillingTerms
    cycles: list[Cycle]
    calendar: BusinessCalendar

    @classmethod
    def of(cls, contract: wire.ContractState, calendar: wire.BusinessCalendar) -> ContractBook:
        """The book of a contract version and calendar, built once: every batch of usage needs it."""
        key = (contract.model_dump_json(), calendar.model_dump_json())
        book = _BOOKS.pop(key, None) or cls._build(contract, calendar)
        _BOOKS[key] = book  # most recently used last
        if len(_BOOKS) > _BOOKS_KEPT:
            del _BOOKS[next(iter(_BOOKS))]
        return book

    @classmethod
    def _build(cls, contract: wire.ContractState, calendar: wire.BusinessCalendar) -> ContractBook:
        return cls(
            contract=contract,
            terms=billing_terms(contract),
            cycles=cycles_of(contract),
            calendar=calendar_from(calendar, contract.time_zone),
        )

    def counted_minutes(self, started_at: datetime, minutes: int, include_non_operational: bool) -> int:
        """The minutes of an entry that draw on the allowance: all of them, or only the operational
        ones when the entry leaves out non-operational time or the terms deduct operational hours only."""
        if include_non_operational and not self.terms.deduct_only_operational:
            return minutes
        start = to_whole_minute(started_at)
        by_category = self.calendar.minutes_by_category(start, start + timedelta(minutes=minutes))
        return by_category.get(MinuteCategory.OPERATIONAL, 0)

    @property
    def is_prepaid(self) -> bool:
        return self.terms.billing_mode is BillingMode.PREPAID

    def cycle(self, index: int) -> Cycle:
        if not 1 <= index <= len(self.cycles):
            raise NoSuchPeriod(
                f"contract {self.contract.contract_number} has cycles 1 to {len(self.cycles)}, not {index}"
            )
        return self.cycles[index - 1]

    def period(self, name: str) -> BillPeriod:
        """Postpaid N: cycle N's base and usage. Prepaid N: N's base and N-1's arrears; prepaid
        'final': the last cycle's arrears."""
        if name == FINAL_PERIOD:
            if not self.is_prepaid:
                raise NoSuchPeriod("only prepaid contracts have a 'final' bill; postpaid bills close cycles")
            return BillPeriod(name, None, self.cycles[-1])
        if not _CYCLE_NUMBER.fullmatch(name):
            raise NoSuchPeriod(f"a bill period is a cycle number (1, 2, ...) or 'final', not {name!r}")
        cycle = self.cycle(int(name))
        # One spelling per period ("1", never "01"): bills of a period are found by its name.
        if not self.is_prepaid:
            return BillPeriod(str(cycle.index), cycle, cycle)
        arrears = self.cycle(cycle.index - 1) if cycle.index > 1 else None
        return BillPeriod(str(cycle.index), cycle, arrears)


_BOOKS: dict[tuple[str, str], ContractBook] = {}
