"""Use cases of the timetracking service: each works inside a unit of work its entrypoint opened."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from servicekit.errors import DomainError
from servicekit.origin import Origin
from timetracking.adapters import wire
from timetracking.domain.errors import TimeEntryExists
from timetracking.domain.time_entries import (
    AnnouncedContract,
    IssuedBill,
    MainBillChange,
    TimeEntry,
    WorkLog,
    find_covering_contract,
    new_time_entry,
    same_entry,
)
from timetracking.service_layer.unit_of_work import TimeTrackingUnitOfWork


@dataclass(frozen=True, slots=True)
class LogRequest:
    """One entry to log: its id (the caller's, so that asking again is the same entry), what the rep
    entered, and who asked for it."""

    entry_id: UUID
    work: WorkLog
    origin: Origin


async def log_time_entries(
    uow: TimeTrackingUnitOfWork, requests: Sequence[LogRequest]
) -> list[TimeEntry | DomainError]:
    """Log many entries with a handful of queries, whatever their number.

    Each request gets its entry, or the rule it broke; accepted entries are written in one bulk insert
    and announced through the outbox, each signed by its own request's origin.
    """
    existing = await uow.time_entries.get_many(request.entry_id for request in requests)
    contracts = await uow.contracts.of_accounts(request.work.account_id for request in requests)
    outcomes: list[TimeEntry | DomainError] = []
    accepted: list[TimeEntry] = []
    for request in requests:
        work = request.work
        covering = find_covering_contract(contracts[work.account_id], work.product, work.started_at)
        try:
            entry = new_time_entry(request.entry_id, work, covering)
        except DomainError as error:
            outcomes.append(error)
            continue
        earlier = existing.get(entry.entry_id)
        if earlier is not None:
            # The entry id makes logging idempotent: the same entry again is answered with what was
            # logged; other values under a taken id are refused.
            outcomes.append(
                earlier
                if same_entry(earlier, entry)
                else TimeEntryExists(f"time entry {entry.entry_id} already exists with other values")
            )
            continue
        existing[entry.entry_id] = entry
        accepted.append(entry)
        outcomes.append(entry)
    for request, outcome in zip(requests, outcomes, strict=True):
        if isinstance(outcome, TimeEntry):
            uow.publish(
                wire.time_entry_logged(outcome),
                key=outcome.account_id,
                subject=wire.time_entry_subject(outcome.entry_id),
                origin=request.origin,
            )
    await uow.time_entries.add_all(accepted)
    return outcomes


async def keep_contracts(
    uow: TimeTrackingUnitOfWork, announced: Sequence[AnnouncedContract], *, origin: Origin
) -> None:
    """Keep the contracts, and attach to each the entries logged before timetracking knew of it."""
    for announcement in announced:
        contract = announcement.contract
        await uow.contracts.keep(contract)
        since, until = contract.covered_instants()
        for entry in await uow.time_entries.unattached(contract.account_id, since, until):
            if not contract.covers(entry.product, entry.started_at):
                continue
            attached = entry.attached_to(contract)
            await uow.time_entries.save(attached)
            uow.publish(
                wire.time_entry_changed(attached, entry, reason=f"covered by contract {announcement.number}"),
                key=attached.account_id,
                subject=wire.time_entry_subject(attached.entry_id),
                origin=origin,
            )


async def forget_contract(uow: TimeTrackingUnitOfWork, contract_id: UUID) -> None:
    """A deleted contract covers nothing from now on."""
    await uow.contracts.forget(contract_id)


async def record_bill_issued(uow: TimeTrackingUnitOfWork, bill: IssuedBill) -> None:
    """The entries a main bill includes move from unbilled to billed."""
    for entry in (await uow.time_entries.get_many(bill.billed_entry_ids())).values():
        if not entry.billed:
            await uow.time_entries.save(entry.billed_by_main_bill())


async def record_main_bill_change(uow: TimeTrackingUnitOfWork, change: MainBillChange) -> None:
    """Entries move to billed or back to unbilled with the period's main bill."""
    billed = set(change.billed)
    for entry in (await uow.time_entries.get_many((*change.previously_billed, *change.billed))).values():
        is_billed = entry.entry_id in billed
        if entry.billed != is_billed:
            await uow.time_entries.save(
                entry.billed_by_main_bill() if is_billed else entry.no_longer_billed()
            )
