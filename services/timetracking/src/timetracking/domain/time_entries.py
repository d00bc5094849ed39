"""Time entries: how many minutes an entry counts, which contract covers it, what a rep may enter."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TypeAlias
from uuid import UUID
from zoneinfo import ZoneInfo

from servicekit.coverage import CoverageWindow, covering
from servicekit.dates import end_of_day_utc, local_midnight_utc
from servicekit.money import Money, round_to_currency
from timetracking.domain.errors import InvalidTimeEntry

# Other charges are stored as NUMERIC(18, 6): anything this large is a typo, not a charge.
MAX_OTHER_CHARGES = Decimal(10) ** 9


@dataclass(frozen=True, slots=True)
class CoveringContract:
    """What timetracking keeps of a contract: enough to attach entries and check what reps may enter."""

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

    def covered_instants(self) -> tuple[datetime, datetime]:
        """[first, last) instant of the contract's days in its zone."""
        zone = ZoneInfo(self.time_zone)
        return local_midnight_utc(self.start_date, zone), end_of_day_utc(self.end_date, zone)

    @property
    def coverage_window(self) -> CoverageWindow:
        """What decides whether the contract covers work (`servicekit.coverage`)."""
        return CoverageWindow(
            contract_id=self.contract_id,
            all_products=self.all_products,
            products=self.products,
            start_date=self.start_date,
            end_date=self.end_date,
            time_zone=self.time_zone,
        )

    def covers(self, product: str | None, at: datetime) -> bool:
        return self.coverage_window.covers(product, at)


@dataclass(frozen=True, slots=True)
class AnnouncedContract:
    """A contract as a contract event states it: what timetracking keeps of it, and the number people
    know it by, which names it in the reason an entry was attached to it."""

    contract: CoveringContract
    number: str


def find_covering_contract(
    contracts: list[CoveringContract], product: str | None, at: datetime
) -> CoveringContract | None:
    """The contract that covers the product at the instant, by the rule the contracts service's
    coverage answer uses."""
    return covering(contracts, lambda contract: contract.coverage_window, product, at)


@dataclass(frozen=True, slots=True)
class EndedAt:
    """The work ended at this instant."""

    instant: datetime


@dataclass(frozen=True, slots=True)
class Duration:
    """The work took this many minutes."""

    minutes: int


Span: TypeAlias = EndedAt | Duration
"""How long the work took: a rep gives its end or its duration, never both."""


@dataclass(frozen=True, slots=True)
class WorkLog:
    """What a rep enters for a time entry; the contract, the version and the billing state come later."""

    request_id: str
    task_id: str | None
    account_id: str
    product: str | None
    rep_id: str
    started_at: datetime
    span: Span
    time_taken_minutes: int | None
    """An override of the minutes the span counts, where the plan lets reps make one."""
    billable: bool
    include_non_operational: bool
    other_charges: Money | None
    description: str
    work_log_type: str | None


@dataclass(frozen=True, slots=True)
class TimeEntry:
    """Work logged on a request, counted in whole minutes from a start in UTC on the whole minute."""

    entry_id: UUID
    account_id: str
    contract_id: UUID | None
    request_id: str
    task_id: str | None
    product: str | None
    rep_id: str
    started_at: datetime
    minutes: int
    billable: bool
    include_non_operational: bool
    other_charges: Money | None
    description: str
    work_log_type: str | None
    billed: bool
    version: int

    def attached_to(self, contract: CoveringContract) -> TimeEntry:
        """The entry's next version, covered by a contract timetracking learned of after it was logged."""
        return replace(self, contract_id=contract.contract_id, version=self.version + 1)

    def billed_by_main_bill(self) -> TimeEntry:
        """The entry once a main bill includes it. The version stays: nothing the rep entered or the
        contract it counts against changed, and billing, which issued the bill, already knows."""
        return replace(self, billed=True)

    def no_longer_billed(self) -> TimeEntry:
        """The entry once the main bill that included it is no longer main (voided, or replaced by a
        version without it); the version stays, as when it was billed."""
        return replace(self, billed=False)


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


def whole_minute(instant: datetime) -> datetime:
    """The instant in UTC, cut down to the whole minute (time is counted in whole minutes)."""
    return instant.astimezone(UTC).replace(second=0, microsecond=0)


def elapsed_minutes(work: WorkLog) -> int:
    """Real elapsed whole minutes between the start and end cut down to the minute, or the duration."""
    match work.span:
        case Duration(minutes=minutes):
            return minutes
        case EndedAt(instant=ended_at):
            return (whole_minute(ended_at) - whole_minute(work.started_at)) // timedelta(minutes=1)


def new_time_entry(entry_id: UUID, work: WorkLog, contract: CoveringContract | None) -> TimeEntry:
    """Check what the rep entered against the contract's terms and build the entry."""
    if work.time_taken_minutes is not None and not (contract and contract.reps_may_override_time_taken):
        raise InvalidTimeEntry("the contract's plan does not let reps override the time taken")
    if work.other_charges is not None:
        if not (contract and contract.reps_may_add_other_charges):
            raise InvalidTimeEntry("the contract's plan does not let reps add other charges")
        if work.other_charges.currency != contract.currency:
            raise InvalidTimeEntry(
                f"other charges are in {work.other_charges.currency}, the contract bills in "
                f"{contract.currency}"
            )
        amount = work.other_charges.amount
        if not 0 <= amount < MAX_OTHER_CHARGES:
            raise InvalidTimeEntry(f"other charges must be from 0 up to {MAX_OTHER_CHARGES}")
        if amount != round_to_currency(amount, contract.currency):
            raise InvalidTimeEntry(
                f"other charges of {amount} have more decimals than {contract.currency} allows"
            )
    minutes = work.time_taken_minutes if work.time_taken_minutes is not None else elapsed_minutes(work)
    return TimeEntry(
        entry_id=entry_id,
        account_id=work.account_id,
        contract_id=contract.contract_id if contract else None,
        request_id=work.request_id,
        task_id=work.task_id,
        product=work.product,
        rep_id=work.rep_id,
        started_at=whole_minute(work.started_at),
        minutes=minutes,
        billable=work.billable,
        include_non_operational=work.include_non_operational,
        other_charges=work.other_charges,
        description=work.description,
        work_log_type=work.work_log_type,
        billed=False,
        version=1,
    )


def same_entry(logged: TimeEntry, again: TimeEntry) -> bool:
    """Whether a repeated log of an entry id says what was logged the first time: only what the rep
    entered counts, not the contract it was attached to since, its version or its billing state."""
    return (
        replace(again, contract_id=logged.contract_id, version=logged.version, billed=logged.billed) == logged
    )
