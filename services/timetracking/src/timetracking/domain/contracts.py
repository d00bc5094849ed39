"""What timetracking knows of contracts, from the contracts service's events: which one covers an entry,
what its plan lets reps enter, and the business-hours calendar its time is categorized by."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from servicekit.coverage import CoverageWindow, covering
from servicekit.dates import end_of_day_utc, local_midnight_utc


@dataclass(frozen=True, slots=True)
class CoveringContract:
    """What timetracking keeps of a contract: enough to attach entries, check what reps may enter and
    categorize their time."""

    contract_id: UUID
    account_id: str
    all_products: bool
    products: frozenset[str]
    start_date: date
    end_date: date
    time_zone: str
    currency: str
    reps_may_override_time_taken: bool
    reps_may_add_other_charges: bool
    version: int
    calendar_id: UUID | None = None
    """The plan's business-hours calendar, read on the contract's clock (`time_zone`)."""
    coverage_window: CoverageWindow = field(init=False, repr=False, compare=False)
    """What decides whether the contract covers work (`servicekit.coverage`): made once, as every entry
    of a batch is checked against its account's contracts."""

    def __post_init__(self) -> None:
        window = CoverageWindow(
            contract_id=self.contract_id,
            all_products=self.all_products,
            products=self.products,
            start_date=self.start_date,
            end_date=self.end_date,
            time_zone=self.time_zone,
        )
        object.__setattr__(self, "coverage_window", window)

    def covered_instants(self) -> tuple[datetime, datetime]:
        """[first, last) instant of the contract's days in its zone."""
        zone = ZoneInfo(self.time_zone)
        return local_midnight_utc(self.start_date, zone), end_of_day_utc(self.end_date, zone)

    def covers(self, product: str | None, at: datetime) -> bool:
        return self.coverage_window.covers(product, at)


@dataclass(frozen=True, slots=True)
class AnnouncedContract:
    """A contract as a contract event states it: what timetracking keeps of it, and the number people
    know it by, which names it in the reason an entry was attached to it (or held back from it)."""

    contract: CoveringContract
    number: str


def find_covering_contract(
    contracts: list[CoveringContract], product: str | None, at: datetime
) -> CoveringContract | None:
    """The contract that covers the product at the instant, by the rule the contracts service's
    coverage answer uses."""
    return covering(contracts, lambda contract: contract.coverage_window, product, at)
