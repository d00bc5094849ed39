"""What timetracking hears of billing's bills: which entries a period's main bill includes, and which
spans of time a paid main bill closes to new time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TypeAlias
from uuid import UUID

from timetracking.domain.errors import PeriodClosed


@dataclass(frozen=True, slots=True)
class MainBillChange:
    """A period's main bill changed, or was voided: the entries the previous main billed are billed no
    longer, unless the new main bills them too."""

    previously_billed: tuple[UUID, ...]
    billed: tuple[UUID, ...]


@dataclass(frozen=True, slots=True)
class IssuedBill:
    """What timetracking hears of a bill billing issued: is it its period's main bill, which entries it
    includes."""

    is_main: bool
    time_entry_ids: tuple[UUID, ...]

    def billed_entry_ids(self) -> tuple[UUID, ...]:
        """Only a main bill bills its entries; another version waits until it is marked main."""
        return self.time_entry_ids if self.is_main else ()


@dataclass(frozen=True, slots=True)
class ClosedPeriod:
    """The usage cycle a contract's paid main bill carries, [starts_at, ends_at). The main of a paid
    period never changes and the period takes no new version, so time logged there could never reach a
    bill: the span is closed to new time."""

    contract_id: UUID
    period: str
    bill_number: str
    """The paid bill, named in the refusal."""
    starts_at: datetime
    ends_at: datetime

    def contains(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at


ClosedPeriods: TypeAlias = Mapping[UUID, Sequence[ClosedPeriod]]
"""The closed periods timetracking knows, by contract."""
NO_CLOSED_PERIODS: ClosedPeriods = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class PaidBill:
    """A period's main bill was paid: the entries it bills are settled, and the usage cycle it carries
    (none for a prepaid contract's first bill) is closed."""

    time_entry_ids: tuple[UUID, ...]
    closes: ClosedPeriod | None


def check_period_open(closed: ClosedPeriods, contract_id: UUID | None, at: datetime) -> None:
    """Refuse time at `at` that counts against `contract_id` in a span a paid bill closed. Time no known
    contract covers yet (`contract_id` None) is accepted: when its contract arrives it is attached all
    the same, and billing flags the paid bill, so it is not dropped silently."""
    if contract_id is None:
        return
    for period in closed.get(contract_id, ()):
        if period.contains(at):
            raise PeriodClosed(
                f"contract {contract_id}'s time from {_instant(period.starts_at)} until "
                f"{_instant(period.ends_at)} is billed by paid bill {period.bill_number}: "
                "log it in an open period"
            )


def _instant(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")
