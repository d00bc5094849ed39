"""Use cases of the timetracking service: each works inside a unit of work its entrypoint opened."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from contracts_schema.billing import BillState
from contracts_schema.contracts import ContractState
from contracts_schema.timetracking import (
    TimeEntryChanged,
    TimeEntryFields,
    TimeEntryLogged,
    TimeEntryState,
)
from servicekit.errors import DomainError
from servicekit.origin import Origin
from timetracking.domain.errors import TimeEntryExists
from timetracking.domain.time_entries import (
    CoveringContract,
    find_covering_contract,
    new_time_entry,
    same_entry,
)
from timetracking.service_layer.unit_of_work import TimeTrackingUnitOfWork


@dataclass(frozen=True)
class LogRequest:
    """One entry to log: its id (the caller's, so that asking again is the same entry), what the rep
    entered, and who asked for it."""

    entry_id: UUID
    fields: TimeEntryFields
    origin: Origin


async def log_time_entries(
    uow: TimeTrackingUnitOfWork, requests: Sequence[LogRequest]
) -> list[TimeEntryState | DomainError]:
    """Log many entries with a handful of queries, whatever their number.

    Each request gets its entry, or the rule it broke; accepted entries are written in one bulk insert
    and announced through the outbox, each signed by its own request's origin.
    """
    existing = await uow.time_entries.get_many(request.entry_id for request in requests)
    contracts = await uow.contracts.of_accounts(request.fields.account_id for request in requests)
    outcomes: list[TimeEntryState | DomainError] = []
    accepted: list[TimeEntryState] = []
    for request in requests:
        covering = find_covering_contract(
            contracts[request.fields.account_id], request.fields.product, request.fields.started_at
        )
        try:
            entry = new_time_entry(request.entry_id, request.fields, covering)
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
        if isinstance(outcome, TimeEntryState):
            uow.publish(
                TimeEntryLogged(entry=outcome),
                key=outcome.account_id,
                subject=f"time-entry/{outcome.entry_id}",
                origin=request.origin,
            )
    await uow.time_entries.add_all(accepted)
    return outcomes


async def keep_contracts(
    uow: TimeTrackingUnitOfWork, states: Sequence[ContractState], *, origin: Origin
) -> None:
    """Keep the contracts, and attach to each the entries logged before timetracking knew of it."""
    for state in states:
        contract = CoveringContract.from_state(state)
        await uow.contracts.keep(contract)
        since, until = contract.covered_instants()
        for entry in await uow.time_entries.unattached(contract.account_id, since, until):
            if not contract.covers(entry.product, entry.started_at):
                continue
            attached = entry.model_copy(
                update={"contract_id": contract.contract_id, "version": entry.version + 1}
            )
            await uow.time_entries.save(attached)
            uow.publish(
                TimeEntryChanged(
                    entry=attached, previous=entry, reason=f"covered by contract {state.contract_number}"
                ),
                key=attached.account_id,
                subject=f"time-entry/{attached.entry_id}",
                origin=origin,
            )


async def forget_contract(uow: TimeTrackingUnitOfWork, contract_id: UUID) -> None:
    """A deleted contract covers nothing from now on."""
    await uow.contracts.forget(contract_id)


async def record_bill_issued(uow: TimeTrackingUnitOfWork, bill: BillState) -> None:
    """Only a main bill bills its entries; other versions wait to be marked main."""
    if bill.is_main:
        await uow.time_entries.mark_billed(bill.time_entry_ids)
