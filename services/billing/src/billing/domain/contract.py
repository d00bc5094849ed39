"""Billing's copy of a contract: the terms that price it, its cycles, and the bills its cycles call for.

A contract's cycles are counted by `servicekit.cycles`, the same way the contracts service counts them.
A bill belongs to a *period*: postpaid, the cycle it closes; prepaid, the cycle whose base charge it
carries (with the previous cycle's arrears), or `final` for the arrears of the last cycle.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property
from uuid import UUID
from zoneinfo import ZoneInfo

from billing.domain.errors import NoSuchPeriod
from billing.domain.terms import BillingMode, BillingTerms
from billing.domain.usage import LoggedEntry, PlacedEntry, minutes_drawing
from servicekit.business_hours import BusinessCalendar
from servicekit.cycles import BillCycle, Cycle, contract_cycles, cycle_containing
from servicekit.dates import local_date

FINAL_PERIOD = "final"
USUAL_ALLOWANCE_LEVELS = (50, 75, 90, 100)
"""Percentages of a cycle's allowance announced as it is used, besides the contract's own level."""

_CYCLE_NUMBER = re.compile(r"0*([1-9][0-9]{0,5})")


def period_name(text: str) -> str:
    """The one name of a period: "01" and "1" are period "1"; anything else is as written."""
    number = _CYCLE_NUMBER.fullmatch(text)
    return number.group(1) if number else text


@dataclass(frozen=True)
class BillPeriod:
    """What one bill carries: the base charge of `base_charge_cycle`, the usage of `usage_cycle`."""

    name: str
    base_charge_cycle: Cycle | None
    usage_cycle: Cycle | None

    def covered_whole_by(self, made_at: datetime) -> bool:
        """Whether a bill made at `made_at` carries all of the period: its usage cycle had ended."""
        return self.usage_cycle is None or made_at >= self.usage_cycle.ends_at

    @property
    def opens_at(self) -> datetime:
        """When the period's own cycle starts: a bill for it makes sense from then (prepaid: the cycle
        whose base charge it carries; otherwise the cycle whose usage it carries)."""
        own = self.base_charge_cycle or self.usage_cycle
        if own is None:
            raise NoSuchPeriod(f"period {self.name} carries no cycle")
        return own.starts_at

    @property
    def first_day(self) -> date:
        return min(cycle.start_date for cycle in self._cycles)

    @property
    def last_day(self) -> date:
        return max(cycle.end_date for cycle in self._cycles)

    @property
    def _cycles(self) -> list[Cycle]:
        return [cycle for cycle in (self.usage_cycle, self.base_charge_cycle) if cycle is not None]


@dataclass(frozen=True)
class BillingContract:
    """What billing keeps of a contract, from the contracts service's events.

    `allowance_level` is the percentage of a cycle's allowance the contract's own notifications ask
    to hear about, if any. Cycles are counted once per contract version.
    """

    contract_id: UUID
    contract_number: str
    account_id: str
    version: int
    time_zone: str
    start_date: date
    expiry_date: date
    termination_date: date | None
    bill_cycle: BillCycle
    calendar_id: UUID
    terms: BillingTerms
    payment_terms_days: int
    allowance_level: int | None = None
    recipients: tuple[str, ...] = ()
    """Who hears of the contract's allowance levels, from its notifications."""
    billing_email: str | None = None
    grace_period_days: int = 0
    """Days an automatic bill stays a draft, recomputed as late time arrives, before it is issued."""

    @cached_property
    def cycles(self) -> tuple[Cycle, ...]:
        return tuple(
            contract_cycles(
                self.bill_cycle, self.start_date, self.expiry_date, self.time_zone, self.termination_date
            )
        )

    @property
    def grace_period(self) -> timedelta:
        return timedelta(days=self.grace_period_days)

    @property
    def is_prepaid(self) -> bool:
        return self.terms.billing_mode is BillingMode.PREPAID

    def cycle(self, index: int) -> Cycle:
        if not 1 <= index <= len(self.cycles):
            raise NoSuchPeriod(
                f"contract {self.contract_number} has cycles 1 to {len(self.cycles)}, not {index}"
            )
        return self.cycles[index - 1]

    def cycle_at(self, instant: datetime) -> Cycle | None:
        return cycle_containing(self.cycles, instant)

    def allowance_levels(self) -> list[int]:
        """The usual levels, plus the one the contract's notifications ask for."""
        levels = set(USUAL_ALLOWANCE_LEVELS)
        if self.allowance_level:
            levels.add(self.allowance_level)
        return sorted(levels)

    def period(self, name: str) -> BillPeriod:
        """Postpaid N: cycle N's base and usage. Prepaid N: N's base and N-1's arrears; prepaid
        'final': the last cycle's arrears. A period has one name: "01" is period "1"."""
        if name == FINAL_PERIOD:
            if not self.is_prepaid:
                raise NoSuchPeriod("only prepaid contracts have a 'final' bill; postpaid bills close cycles")
            return BillPeriod(name, None, self.cycles[-1])
        number = _CYCLE_NUMBER.fullmatch(name)
        if number is None:
            raise NoSuchPeriod(f"a bill period is a cycle number (1, 2, ...) or 'final', not {name!r}")
        cycle = self.cycle(int(number.group(1)))
        if not self.is_prepaid:
            return BillPeriod(str(cycle.index), cycle, cycle)
        arrears = self.cycle(cycle.index - 1) if cycle.index > 1 else None
        return BillPeriod(str(cycle.index), cycle, arrears)

    def period_carrying(self, cycle_index: int) -> str:
        """The period whose bill carries a cycle's usage: postpaid the cycle's own; prepaid the next
        cycle's, or the final bill for the last cycle."""
        if not self.is_prepaid:
            return str(cycle_index)
        return str(cycle_index + 1) if cycle_index < len(self.cycles) else FINAL_PERIOD

    def bill_due_dates(self) -> list[tuple[str, datetime]]:
        """Every bill the cycles call for, with the instant it falls due: prepaid at each cycle's
        start and a final one at the end, postpaid at each cycle's end."""
        if self.is_prepaid:
            return [(str(c.index), c.starts_at) for c in self.cycles] + [
                (FINAL_PERIOD, self.cycles[-1].ends_at)
            ]
        return [(str(c.index), c.ends_at) for c in self.cycles]

    def bill_date(self, made_at: datetime) -> date:
        """The day a bill is made, on the contract's clock."""
        return local_date(made_at, ZoneInfo(self.time_zone))

    def due_date(self, bill_date: date) -> date:
        return bill_date + timedelta(days=self.payment_terms_days)


@dataclass(frozen=True)
class ContractBook:
    """A contract with its business-hours calendar read on the contract's clock: all that prices it."""

    contract: BillingContract
    calendar: BusinessCalendar

    @classmethod
    def of(cls, contract: BillingContract, calendar: BusinessCalendar) -> ContractBook:
        return cls(contract, calendar.in_zone(contract.time_zone))

    @property
    def terms(self) -> BillingTerms:
        return self.contract.terms

    def place(self, entry: LoggedEntry) -> PlacedEntry:
        """The cycle the entry starts in, and the minutes of it that draw on the allowance."""
        usage = entry.usage
        cycle = self.contract.cycle_at(usage.span()[0])
        counted = minutes_drawing(usage, self.calendar, self.terms)
        by_rule = self.terms.rule_for(usage.traits) is not None
        return PlacedEntry(entry, cycle.index if cycle else None, counted, by_rule)
