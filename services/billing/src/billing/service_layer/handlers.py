"""Use cases of the billing service: keep contract copies, accrue usage, make bills.

Each runs inside a unit of work its entrypoint opened, and signs what it publishes with the `Origin`
it is given.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

from billing.adapters import wire
from billing.domain.allowance import CycleStanding, account_for_usage
from billing.domain.bill_versions import Bill
from billing.domain.bills import BillDraft, compose_bill
from billing.domain.contract import BillPeriod, ContractBook
from billing.domain.errors import ContractUnknown
from billing.domain.usage import (
    CycleUsage,
    LoggedEntry,
    PlacedEntry,
    TopUpPurchase,
    UsageEntry,
    calculate_cycle_usage,
    unused_own_allowance,
)
from billing.service_layer.contract_cache import ContractCache
from billing.service_layer.unit_of_work import BillingUnitOfWork
from contracts_schema import billing as bills_wire
from contracts_schema.contracts import BusinessCalendar, ContractState
from contracts_schema.primitives import MoneyAmount
from servicekit.cycles import Cycle
from servicekit.origin import Origin

ACCRUAL = Origin("billing")
"""Usage notices are billing's own doing, whatever entries led to them."""

# --- contract copies ------------------------------------------------------------------------------


async def keep_contracts(uow: BillingUnitOfWork, states: Sequence[ContractState]) -> None:
    await uow.contracts.keep(states)


async def keep_calendars(uow: BillingUnitOfWork, calendars: Sequence[BusinessCalendar]) -> None:
    await uow.contracts.keep_calendars(calendars)


async def record_top_up(
    uow: BillingUnitOfWork,
    contract: ContractState,
    top_up_id: UUID,
    units: int,
    price: MoneyAmount,
    bought_at: datetime,
) -> None:
    await uow.contracts.keep([contract])
    await uow.contracts.add_top_up(
        top_up_id, contract.contract_id, wire.top_up_units(contract, units), wire.money(price), bought_at
    )


async def contract_book(uow: BillingUnitOfWork, contract_id: UUID) -> ContractBook:
    contract = await uow.contracts.get(contract_id)
    if contract is None:
        raise ContractUnknown(f"billing has no contract {contract_id} (yet)")
    calendar = (await uow.contracts.calendars([contract.calendar_id])).get(contract.calendar_id)
    if calendar is None:
        raise ContractUnknown(f"billing has no business-hours calendar {contract.calendar_id} (yet)")
    return ContractBook.of(contract, calendar)


# --- usage ----------------------------------------------------------------------------------------


async def cycle_usage(uow: BillingUnitOfWork, book: ContractBook, cycle: Cycle) -> CycleUsage:
    """Usage of one cycle from the raw entries; with carry-forward, earlier cycles are replayed first,
    since what a cycle brings forward depends on what the one before it used."""
    cycles = book.contract.cycles
    purchases = await _top_ups_by_cycle(uow, book)
    first = cycles[0] if book.terms.carry_forward else cycle
    entries = await uow.usage.entries_between(book.contract.contract_id, first.starts_at, cycle.ends_at)
    by_cycle: dict[int, list[UsageEntry]] = defaultdict(list)
    for entry in entries:
        found = book.contract.cycle_at(entry.started_at)
        if found is not None:
            by_cycle[found.index].append(entry)
    carried_in = 0
    for current in cycles[first.index - 1 : cycle.index - 1]:
        carried_in = calculate_cycle_usage(
            book.terms,
            current,
            by_cycle[current.index],
            book.calendar,
            carried_in=carried_in,
            top_ups=purchases[current.index],
        ).carried_out
    return calculate_cycle_usage(
        book.terms,
        cycle,
        by_cycle[cycle.index],
        book.calendar,
        carried_in=carried_in,
        top_ups=purchases[cycle.index],
    )


async def _top_ups_by_cycle(uow: BillingUnitOfWork, book: ContractBook) -> dict[int, list[TopUpPurchase]]:
    found: dict[int, list[TopUpPurchase]] = defaultdict(list)
    for units, price, bought_at in await uow.contracts.top_ups(book.contract.contract_id):
        cycle = book.contract.cycle_at(bought_at)
        if cycle is not None:
            found[cycle.index].append(TopUpPurchase(f"Top-up bought {bought_at:%Y-%m-%d}", units, price))
    return found


async def accrue_time_entries(
    uow: BillingUnitOfWork, entries: Sequence[LoggedEntry], *, contracts: ContractCache, now: datetime
) -> None:
    """Record entries in bulk, each placed in its cycle, then bring the touched cycles' standing up to
    date and announce what they reached. A fixed number of queries per batch, whatever its size: the
    bill itself is still computed from the raw entries, so this is the running figure."""
    books = await _books(uow, contracts, {entry.contract_id for entry in entries if entry.contract_id})
    placed = [
        books[entry.contract_id].place(entry)
        if entry.contract_id in books
        else PlacedEntry(entry, None, entry.usage.minutes or 0)
        for entry in entries
    ]
    await uow.usage.record(placed)
    await _account_for_usage(uow, books, _touched_cycles(placed), now=now)


async def place_early_entries(
    uow: BillingUnitOfWork, contract_ids: set[UUID], *, contracts: ContractCache, now: datetime
) -> None:
    """Entries that arrived before their contract's copy (or its calendar): placed once it is here."""
    unplaced = await uow.usage.unplaced(contract_ids)
    if not unplaced:
        return
    books = await _books(uow, contracts, {entry.contract_id for entry in unplaced if entry.contract_id})
    placed = [books[entry.contract_id].place(entry) for entry in unplaced if entry.contract_id in books]
    placed = [p for p in placed if p.cycle_index is not None]
    await uow.usage.place(placed)
    await _account_for_usage(uow, books, _touched_cycles(placed), now=now)


def _touched_cycles(placed: Sequence[PlacedEntry]) -> set[tuple[UUID, int]]:
    return {
        (p.entry.contract_id, p.cycle_index)
        for p in placed
        if p.entry.contract_id is not None and p.cycle_index is not None and p.entry.usage.billable
    }


async def _books(
    uow: BillingUnitOfWork, contracts: ContractCache, contract_ids: set[UUID | None]
) -> dict[UUID | None, ContractBook]:
    """Books of the contracts whose calendar billing has; one query for all their calendars."""
    copies = await contracts.many(uow, {contract_id for contract_id in contract_ids if contract_id})
    calendars = await uow.contracts.calendars({copy.calendar_id for copy in copies.values()})
    return {
        contract_id: ContractBook.of(copy, calendars[copy.calendar_id])
        for contract_id, copy in copies.items()
        if copy.calendar_id in calendars
    }


async def _account_for_usage(
    uow: BillingUnitOfWork,
    books: dict[UUID | None, ContractBook],
    touched: set[tuple[UUID, int]],
    *,
    now: datetime,
) -> None:
    """Count each touched cycle's use of its allowance and announce the levels it reached."""
    if not touched:
        return
    sums = await uow.usage.cycle_sums(touched)
    standings = await uow.usage.standings(
        touched | {(contract_id, index - 1) for contract_id, index in touched}
    )
    top_ups = await uow.contracts.top_ups_of({contract_id for contract_id, _ in touched})
    updated: dict[tuple[UUID, int], CycleStanding] = {}
    for contract_id, index in sorted(touched):
        book = books[contract_id]
        contract, terms = book.contract, book.terms
        cycle = contract.cycle(index)
        minutes, requests = sums[(contract_id, index)]
        carried_in = _carried_into(book, index, standings.get((contract_id, index - 1)))
        bought = sum(units for units, bought_at in top_ups[contract_id] if cycle.contains(bought_at))
        standing, notices = account_for_usage(
            standings.get((contract_id, index)),
            used=minutes if terms.plan_type.is_hour_based else requests,
            allowance=terms.allowance_units + carried_in + bought,
            carried_in=carried_in,
            levels=contract.allowance_levels(),
        )
        updated[(contract_id, index)] = standing
        for notice in notices:
            uow.publish(
                wire.usage_notice(notice, contract, index, now),
                key=str(contract_id),
                subject=f"contract/{contract_id}/cycle/{index}",
                origin=ACCRUAL,
            )
    await uow.usage.save_standings(updated)


def _carried_into(book: ContractBook, index: int, previous: CycleStanding | None) -> int:
    """What the previous cycle's own allowance left over; all of it when nothing was logged there."""
    own = book.terms.allowance_units
    if not book.terms.carry_forward or index == 1:
        return 0
    if previous is None:
        return own
    return unused_own_allowance(own, previous.carried_in, previous.used)


# --- bills ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BillRequest:
    contract_id: UUID
    period: str
    made_at: datetime | None = None
    """When the bill counts as made (a cycle boundary, a renewal); now when not given."""
    bill_id: UUID | None = None


async def draft_bill(uow: BillingUnitOfWork, book: ContractBook, period: BillPeriod) -> BillDraft:
    """The period's bill from the raw entries: its cycle's base charge and the usage it carries."""
    usage = await cycle_usage(uow, book, period.usage_cycle) if period.usage_cycle else None
    return compose_bill(book.terms, base_charge_cycle=period.base_charge_cycle, usage=usage)


async def preview_bill(uow: BillingUnitOfWork, request: BillRequest, *, now: datetime) -> Bill:
    """The bill that would be made now, not saved and not announced."""
    book = await contract_book(uow, request.contract_id)
    period = book.contract.period(request.period)
    versions = await uow.bills.versions(request.contract_id, period.name)
    return Bill.make(
        book.contract,
        period,
        await draft_bill(uow, book, period),
        bill_id=uuid4(),
        version=len(versions) + 1,
        is_main=not versions,
        made_at=now,
    )


async def make_bill(uow: BillingUnitOfWork, request: BillRequest, *, origin: Origin, now: datetime) -> Bill:
    """Make a bill for a contract's period; a period that already has bills gets a new version.

    The first bill of a period is its main bill, which marks the entries it covers billed. A bill made
    once the period has ended replaces an earlier, partial main bill (one made on demand while the
    cycle ran) that was not sent or paid yet.
    """
    book = await contract_book(uow, request.contract_id)
    period = book.contract.period(request.period)
    draft = await draft_bill(uow, book, period)
    versions = await uow.bills.versions(request.contract_id, period.name)
    made_at = request.made_at or now
    partial_main = (
        await uow.bills.partial_main(request.contract_id, period.name)
        if period.covered_whole_by(made_at)
        else None
    )
    bill = Bill.make(
        book.contract,
        period,
        draft,
        bill_id=request.bill_id or uuid4(),
        version=len(versions) + 1,
        is_main=not versions or partial_main is not None,
        made_at=made_at,
    )
    if partial_main is not None:
        partial_main.demote()
        await uow.bills.save(partial_main)
    await uow.bills.add(bill)
    if bill.is_main:
        await uow.usage.mark_billed(list(bill.time_entry_ids), bill.bill_id)
    uow.publish(
        bills_wire.BillIssued(bill=wire.bill_state(bill)),
        key=str(bill.contract_id),
        subject=f"bill/{bill.bill_id}",
        origin=origin,
    )
    return bill


def reject_bill_command(uow: BillingUnitOfWork, request: BillRequest, origin: Origin, reason: str) -> None:
    """Answer a GenerateBill command that could not be carried out, naming the reason."""
    uow.publish(
        bills_wire.BillCommandRejected(contract_id=request.contract_id, period=request.period, reason=reason),
        key=str(request.contract_id),
        subject=f"contract/{request.contract_id}",
        origin=origin,
    )
