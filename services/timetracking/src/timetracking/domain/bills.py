"""What timetracking hears of billing's bills: which entries a period's main bill includes."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


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
