"""What timetracking keeps of the other services' events: contracts (which attach the entries logged
before them), business-hours calendars, and the bills that make entries billed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from contracts_schema.contracts import BusinessCalendar as CalendarDocument
from servicekit.origin import Origin
from timetracking.adapters import wire
from timetracking.domain.audit import AuditAction, AuditRecord
from timetracking.domain.bills import IssuedBill, MainBillChange, PaidBill
from timetracking.domain.contracts import AnnouncedContract
from timetracking.domain.time_entries import TimeEntry, plan_forbids
from timetracking.service_layer.unit_of_work import TimeTrackingUnitOfWork


async def keep_contracts(
    uow: TimeTrackingUnitOfWork, announced: Sequence[AnnouncedContract], *, origin: Origin, now: datetime
) -> None:
    """Keep the contracts, and attach to each the entries logged before timetracking knew of it.

    An entry that carries what the contract's plan forbids (an override, other charges, or charges in
    another currency) is not attached: it is held back with a note saying why, and its producer is
    told by TimeEntryRejected. The rep can edit it into what the plan allows, which attaches it.

    An entry is attached even where a paid bill of the contract closed its period (it was accepted
    while timetracking knew no contract, so nothing could refuse it then): billing flags that paid bill
    as needing regeneration, so the time is seen, not silently dropped, though no version can bill it.
    """
    for announcement in announced:
        contract = announcement.contract
        await uow.contracts.keep(contract)
        for entry in await uow.time_entries.unattached(contract):
            if not contract.covers(entry.product, entry.started_at):
                continue
            forbidden = plan_forbids(entry.work, contract)
            if forbidden is None:
                reason = f"covered by contract {announcement.number}"
                await _change(
                    uow, entry.attached_to(contract), entry, AuditAction.ATTACHED, reason, origin, now
                )
                continue
            # The same rule, saying which contract: the note and the producer's answer read alike.
            held_back = type(forbidden)(f"not attached to contract {announcement.number}: {forbidden}")
            held = entry.held_back(str(held_back))
            if held is entry:
                continue  # the contract announced again: the entry was held back already
            await _change(uow, held, entry, AuditAction.HELD_BACK, str(held_back), origin, now)
            uow.publish(
                wire.time_entry_rejected(entry.entry_id, entry.account_id, held_back),
                key=entry.account_id,
                subject=wire.time_entry_subject(entry.entry_id),
                origin=origin,
            )


async def _change(
    uow: TimeTrackingUnitOfWork,
    changed: TimeEntry,
    entry: TimeEntry,
    action: AuditAction,
    reason: str,
    origin: Origin,
    now: datetime,
) -> None:
    await uow.time_entries.save(changed)
    await uow.audit.add_all([AuditRecord(now, origin.actor, action, reason, entry, changed)])
    uow.publish(
        wire.time_entry_changed(changed, entry, reason=reason),
        key=changed.account_id,
        subject=wire.time_entry_subject(changed.entry_id),
        origin=origin,
    )


async def forget_contract(uow: TimeTrackingUnitOfWork, contract_id: UUID) -> None:
    """A deleted contract covers nothing from now on."""
    await uow.contracts.forget(contract_id)


async def keep_calendars(uow: TimeTrackingUnitOfWork, calendars: Sequence[CalendarDocument]) -> None:
    """Calendars as they now stand: summaries categorize time by them."""
    await uow.calendars.keep(calendars)


async def record_bill_issued(uow: TimeTrackingUnitOfWork, bill: IssuedBill) -> None:
    """The entries a main bill includes move from unbilled to billed."""
    for entry in (await uow.time_entries.get_many(bill.billed_entry_ids(), lock=True)).values():
        if not entry.billed:
            await uow.time_entries.save(entry.billed_by_main_bill())


async def record_bill_paid(uow: TimeTrackingUnitOfWork, paid: PaidBill) -> None:
    """The entries a paid main bill bills are final: a paid bill never changes, so neither do they. The
    usage cycle it carries is closed: time logged or moved there from now on is refused."""
    for entry in (await uow.time_entries.get_many(paid.time_entry_ids, lock=True)).values():
        if not entry.settled:
            await uow.time_entries.save(entry.settled_by_paid_bill())
    if paid.closes is not None:
        await uow.closed_periods.keep(paid.closes)


async def record_main_bill_change(uow: TimeTrackingUnitOfWork, change: MainBillChange) -> None:
    """Entries move to billed or back to unbilled with the period's main bill."""
    billed = set(change.billed)
    entries = await uow.time_entries.get_many((*change.previously_billed, *change.billed), lock=True)
    for entry in entries.values():
        is_billed = entry.entry_id in billed
        if entry.billed != is_billed:
            await uow.time_entries.save(
                entry.billed_by_main_bill() if is_billed else entry.no_longer_billed()
            )
