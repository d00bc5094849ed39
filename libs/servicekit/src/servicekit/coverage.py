"""Which contract covers an account's work on a product at an instant: one rule for the contracts
service's coverage answer and for timetracking attaching entries to contracts.

A contract covers work when the instant falls on one of its days (start to expiry, or termination, on
the contract's clock) and its scope is all of the account's products or names the product; work with
no product is covered only by an all-products scope. Contracts of one account whose scopes overlap may
not overlap in time, so at most one covers; should two ever qualify, the one scoped to the product
wins over an all-products one, then the later start, then the lower contract id, so every service
picks the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

from servicekit.dates import local_date

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CoverageWindow:
    """What decides whether a contract covers work: its id, scope, days and clock."""

    contract_id: UUID
    all_products: bool
    products: frozenset[str]
    start_date: date
    end_date: date
    time_zone: str

    def covers(self, product: str | None, at: datetime) -> bool:
        if not self.start_date <= local_date(at, ZoneInfo(self.time_zone)) <= self.end_date:
            return False
        return self.all_products or (product is not None and product in self.products)

    def _precedence(self) -> tuple[bool, int, str]:
        return (self.all_products, -self.start_date.toordinal(), str(self.contract_id))


def covering(
    candidates: Iterable[T], window: Callable[[T], CoverageWindow], product: str | None, at: datetime
) -> T | None:
    """The candidate whose window covers the work, by the rule above; None when none does."""
    covering_ones = [
        (w, candidate) for candidate in candidates if (w := window(candidate)).covers(product, at)
    ]
    if len(covering_ones) < 2:  # the rule's precedence is for overlaps, which should never be
        return covering_ones[0][1] if covering_ones else None
    return min(covering_ones, key=lambda pair: pair[0]._precedence())[1]
