"""Bill cycles of a contract: consecutive periods of local days that each get their own allowance and bill.

Billing bills by them and contracts answers coverage by them, so both count them here, the same way.

Cycles start on the contract's start date and step by the bill cycle; month-based cycles keep the start
day, clamped to short months. A cycle's instants are local midnights in the contract's zone, in UTC.

A bill cycle is taken by its value ("monthly"): this module's `BillCycle`, the schema's, or a service
domain's own enum of the same values, so that a domain that keeps off the wire models can count here.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from servicekit.dates import ONE_DAY, add_months_clamped, local_midnight_utc
from servicekit.errors import DomainError


class InvalidContractPeriod(DomainError):
    """Contract dates that cannot be split into bill cycles."""


class BillCycle(StrEnum):
    """How long a cycle runs. The wire enum of contracts-schema has the same values; services map it
    to this one in their wire adapters, and functions here accept either by value."""

    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    HALF_YEARLY = "half_yearly"
    YEARLY = "yearly"
    CONTRACT_LENGTH = "contract_length"


_MONTHS_PER_CYCLE: dict[BillCycle, int] = {
    BillCycle.MONTHLY: 1,
    BillCycle.QUARTERLY: 3,
    BillCycle.HALF_YEARLY: 6,
    BillCycle.YEARLY: 12,
}


@dataclass(frozen=True, slots=True)
class Cycle:
    """Cycle number `index` (1 for the first) over local days start_date..end_date, both inclusive.

    `starts_at` and `ends_at` are the UTC instants of the local midnights around those days; an instant
    belongs to the cycle when starts_at <= instant < ends_at.
    """

    index: int
    start_date: date
    end_date: date
    starts_at: datetime
    ends_at: datetime

    def contains(self, instant: datetime) -> bool:
        if instant.tzinfo is None:
            raise ValueError(f"instant {instant.isoformat()} has no time zone")
        return self.starts_at <= instant < self.ends_at


def contract_cycles(
    bill_cycle: BillCycle | str,
    start_date: date,
    expiry_date: date,
    time_zone: str,
    termination_date: date | None = None,
) -> list[Cycle]:
    """Every cycle of a contract; the last one ends at expiry or termination and may be short."""
    return list(_contract_cycles(BillCycle(bill_cycle), start_date, expiry_date, time_zone, termination_date))


@lru_cache(maxsize=4096)
def _contract_cycles(
    cycle: BillCycle, start_date: date, expiry_date: date, time_zone: str, termination_date: date | None
) -> tuple[Cycle, ...]:
    """`contract_cycles`, kept for the next contract of the same dates and zone (many start on the same
    first of a month for a year): a bill run asks for the cycles of every contract it bills, and
    working them out (a local midnight each, in the zone) cost more than a bill's lines. Cycles are
    frozen, so contracts can share them."""
    if expiry_date < start_date:
        raise InvalidContractPeriod(f"expiry {expiry_date} is before start {start_date}")
    if termination_date is not None and not start_date <= termination_date <= expiry_date:
        raise InvalidContractPeriod(
            f"termination {termination_date} is outside the contract period {start_date}..{expiry_date}"
        )
    try:
        zone = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidContractPeriod(f"unknown time zone {time_zone!r}") from error
    last_day = termination_date or expiry_date
    cycles: list[Cycle] = []
    cycle_start = start_date
    starts_at = local_midnight_utc(start_date, zone)
    while cycle_start <= last_day:
        index = len(cycles) + 1
        # Each boundary comes from the original start day so that clamping in February does not
        # pull every later cycle to the 28th.
        next_start = _cycle_boundary(cycle, start_date, index, last_day)
        cycle_end = min(next_start - ONE_DAY, last_day)
        ends_at = local_midnight_utc(cycle_end + ONE_DAY, zone)
        cycles.append(
            Cycle(
                index=index,
                start_date=cycle_start,
                end_date=cycle_end,
                starts_at=starts_at,
                ends_at=ends_at,
            )
        )
        # The next cycle starts the day after, at the instant this one ends.
        cycle_start, starts_at = cycle_end + ONE_DAY, ends_at
    return tuple(cycles)


def cycle_containing(cycles: Sequence[Cycle], instant: datetime) -> Cycle | None:
    """The cycle (from `contract_cycles`, in order) that contains the instant, if any."""
    if instant.tzinfo is None:
        raise ValueError(f"instant {instant.isoformat()} has no time zone")
    position = bisect.bisect_right(cycles, instant, key=lambda cycle: cycle.starts_at) - 1
    if position >= 0 and cycles[position].contains(instant):
        return cycles[position]
    return None


def cycle_index_on(bill_cycle: BillCycle | str, start_date: date, day: date) -> int:
    """The number (1 for the first) of the cycle that contains local day `day`, without listing them."""
    if day < start_date:
        raise ValueError(f"{day} is before the contract starts on {start_date}")
    cycle = BillCycle(bill_cycle)
    if cycle is BillCycle.CONTRACT_LENGTH:
        return 1
    if cycle is BillCycle.WEEKLY:
        return (day - start_date) // timedelta(days=7) + 1
    step = _MONTHS_PER_CYCLE[cycle]
    months = (day.year - start_date.year) * 12 + day.month - start_date.month
    index = max(months // step, 0)
    # The month difference can overshoot by one cycle when the day is before the start day.
    while add_months_clamped(start_date, index * step) > day:
        index -= 1
    return index + 1


def _cycle_boundary(bill_cycle: BillCycle, start_date: date, steps: int, last_day: date) -> date:
    """Start date of cycle number `steps + 1`."""
    if bill_cycle is BillCycle.CONTRACT_LENGTH:
        return last_day + ONE_DAY
    if bill_cycle is BillCycle.WEEKLY:
        return start_date + timedelta(weeks=steps)
    return add_months_clamped(start_date, steps * _MONTHS_PER_CYCLE[bill_cycle])
