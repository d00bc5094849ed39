"""Coverage: which contract covers an account's work at an instant, and whether that work is covered.

Exhaustion is billing's word: the contracts service only remembers the latest AllowanceExhausted event
of each contract (and the AllowanceRestored that may follow it) and the top-ups bought, and asks
whether the instant falls in that exhausted cycle while nothing was left.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from contracts.domain.contracts import Contract
from contracts.domain.plans import WhenExhausted
from servicekit.coverage import covering
from servicekit.cycles import cycle_index_on
from servicekit.dates import local_date


@dataclass(frozen=True)
class Exhaustion:
    """The latest word from billing that a contract's cycle has no allowance left."""

    cycle_index: int
    exhausted_at: datetime
    restored_at: datetime | None = None
    """When billing said the cycle has allowance left again (time deleted or made non-billable)."""

    def supersedes(self, other: Exhaustion | None) -> bool:
        """Events of a contract arrive in order, but a replay may bring an old one back."""
        return other is None or (self.cycle_index, self.exhausted_at) > (
            other.cycle_index,
            other.exhausted_at,
        )

    def restored(self, cycle_index: int, at: datetime) -> Exhaustion | None:
        """This exhaustion ended at `at`; nothing when the word is about another cycle or came before
        it (a replay), which leaves the exhaustion as it was."""
        if cycle_index != self.cycle_index or at < self.exhausted_at or self.restored_at is not None:
            return None
        return Exhaustion(self.cycle_index, self.exhausted_at, restored_at=at)


@dataclass(frozen=True)
class Coverage:
    contract: Contract | None
    work_covered: bool
    reason: str


def find_covering_contract(
    contracts: Iterable[Contract], product: str | None, at: datetime
) -> Contract | None:
    """The contract that covers the work, by the rule timetracking attaches entries by."""
    return covering(contracts, lambda contract: contract.coverage_window, product, at)


def coverage_at(
    contract: Contract | None,
    at: datetime,
    exhaustion: Exhaustion | None,
    top_ups_bought: Iterable[datetime],
) -> Coverage:
    if contract is None:
        return Coverage(None, False, "no contract covers the account (and product) at that instant")
    if contract.terms.when_exhausted is not WhenExhausted.BLOCK:
        return Coverage(contract, True, "the plan charges extra once the allowance is used up")
    if exhaustion is None or exhaustion.exhausted_at > at:
        return Coverage(contract, True, "allowance left in the cycle")
    if exhaustion.restored_at is not None and exhaustion.restored_at <= at:
        return Coverage(contract, True, "allowance left in the cycle again")
    cycle = _cycle_of(contract, at)
    if cycle != exhaustion.cycle_index:
        return Coverage(contract, True, "allowance left in the cycle")
    # A top-up covers the whole cycle it is bought in, so one bought after exhaustion refills it.
    if any(
        bought > exhaustion.exhausted_at and _cycle_of(contract, bought) == cycle for bought in top_ups_bought
    ):
        return Coverage(contract, True, "a top-up was bought after the allowance was used up")
    return Coverage(contract, False, f"the allowance of cycle {cycle} is used up and the plan blocks")


def _cycle_of(contract: Contract, instant: datetime) -> int | None:
    day = local_date(instant, contract.zone)
    if day < contract.start_date:
        return None
    return cycle_index_on(contract.terms.bill_cycle, contract.start_date, day)
