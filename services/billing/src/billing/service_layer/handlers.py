"""Use cases of the billing service on what other services tell it: copies of contracts and calendars,
top-ups, and the usage accrued from time entries.

Each runs inside a unit of work its entrypoint opened, and signs what it publishes with the `Origin`
it is given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from uuid import UUID

from billing.adapters import wire
from billing.domain.allowance import CycleStanding, account_for_usage
from billing.domain.contract import ContractBook
from billing.domain.usage import EntryChange, LoggedEntry, PlacedEntry, unused_own_allowance
from billing.service_layer import bills
from billing.service_layer.contract_cache import ContractCache
from billing.service_layer.unit_of_work import BillingUnitOfWork
from contracts_schema.contracts import BusinessCalendar, ContractState
from contracts_schema.primitives import MoneyAmount
from servicekit.origin import Origin

# --- contract copies ------------------------------------------------------------------------------


async def keep_contracts(uow: BillingUnitOfWork, states: Sequence[ContractState]) -> None:
    await uow.contracts.keep(states)


async def keep_calendars(uow: BillingUnitOfWork, calendars: Sequence[BusinessCalendar]) -> None:
    """A calendar that changed changes categories and counted minutes: the scheduler reviews the
    usage and bills of the contracts on it."""
    changed = await uow.contracts.keep_calendars(calendars)
    await uow.contracts.review_on_calendar_change(changed)


async def record_top_up(
    uow: BillingUnitOfWork,
    contract: ContractState,
    top_up_id: UUID,
    units: int,
    price: MoneyAmount,
    bought_at: datetime,
    *,
    contracts: ContractCache,
    origin: Origin = bills.BILLING,
) -> None:
    """A top-up joins its cycle's allowance: the cycle's standing is counted again (a used-up
    allowance has some left again, and running out again will be announced), and a bill already made
    for that cycle is reviewed. `origin` names the message that announced the top-up."""
    await uow.contracts.keep([contract])
    await uow.contracts.add_top_up(
        top_up_id, contract.contract_id, wire.top_up_units(contract, units), wire.money(price), bought_at
    )
    book = (await _books(uow, contracts, {contract.contract_id})).get(contract.contract_id)
    cycle = book.contract.cycle_at(bought_at) if book else None
    if book is not None and cycle is not None:
        where = (contract.contract_id, cycle.index)
        await _account_for_usage(
            uow, {contract.contract_id: book}, {where}, now=bought_at, causes={where: origin}
        )
        period = book.contract.period_carrying(cycle.index)
        if await uow.bills.billed_periods({(contract.contract_id, period)}):
            await bills.review_periods(
                uow, book, {period: "a top-up was bought for the cycle"}, origin=origin
            )


async def accrue_time_entries(
    uow: BillingUnitOfWork,
    entries: Sequence[LoggedEntry],
    *,
    contracts: ContractCache,
    now: datetime,
    causes: Mapping[str, Origin] | None = None,
) -> None:
    """Record entries in bulk, each placed in its cycle; bring the touched cycles' standing up to date
    and announce what they reached; and review bills that the entries came too late for. A fixed
    number of queries per batch, whatever its size. `causes` (entry id -> the message that announced
    it) makes each event published here name the entry event that caused it: a cycle's notices the
    last of its entries in the batch, a bill's review the first entry that made it stale."""
    # Shared with other batches, exclusive with copies of contracts and calendars arriving: a contract
    # and its entries placed in two concurrent transactions would not see each other.
    await uow.usage.lock_placement(shared=True)
    changed = [entry.usage.entry_id for entry in entries if entry.change is not EntryChange.LOGGED]
    earlier = await uow.usage.placements(changed)
    contract_ids = {entry.contract_id for entry in entries if entry.contract_id}
    contract_ids |= {contract_id for contract_id, _ in earlier.values()}
    # Shared with other batches, exclusive with a bill being made: an entry recorded while its period's
    # bill is drafted is either on the bill or reviewed against it, never neither.
    await uow.contracts.lock_for_accrual(contract_ids)
    books = await _books(uow, contracts, contract_ids)
    placed = [
        books[entry.contract_id].place(entry)
        if entry.contract_id in books
        else PlacedEntry(entry, None, entry.usage.minutes or 0)
        for entry in entries
    ]
    await uow.usage.record(placed)
    touched = _touched_cycles(placed) | set(earlier.values())
    causes = causes or {}
    cycle_causes = {
        (p.entry.contract_id, p.cycle_index): causes[p.entry.usage.entry_id]
        for p in placed
        if p.entry.usage.entry_id in causes
    }
    await _account_for_usage(uow, books, touched, now=now, causes=cycle_causes)
    await _review_bills(uow, books, placed, earlier, causes)


async def place_early_entries(
    uow: BillingUnitOfWork, contract_ids: set[UUID], *, contracts: ContractCache, now: datetime
) -> None:
    """Entries that arrived before their contract's copy (or its calendar): placed once it is here.
    The caller holds the placement lock exclusively."""
    unplaced = await uow.usage.entries_of(contract_ids, unplaced_only=True)
    if not unplaced:
        return
    books = await _books(uow, contracts, {entry.contract_id for entry in unplaced if entry.contract_id})
    placed = [books[entry.contract_id].place(entry) for entry in unplaced if entry.contract_id in books]
    placed = [p for p in placed if p.cycle_index is not None]
    await uow.usage.place(placed)
    await _account_for_usage(uow, books, _touched_cycles(placed), now=now)
    await _review_bills(uow, books, placed, {})


async def review_contract(
    uow: BillingUnitOfWork, contract_id: UUID, *, contracts: ContractCache, now: datetime
) -> None:
    """After the contract's calendar changed: its entries counted again by the new calendar, its
    cycles' standing brought up to date, and every billed period reviewed."""
    await uow.usage.lock_placement(shared=False)  # the entries are placed again: no batch meanwhile
    books = await _books(uow, contracts, {contract_id})
    book = books.get(contract_id)
    if book is not None:
        placed = [
            book.place(entry) for entry in await uow.usage.entries_of({contract_id}, unplaced_only=False)
        ]
        await uow.usage.place(placed)
        await _account_for_usage(uow, books, _touched_cycles(placed), now=now)
        periods = await uow.bills.periods_with_bills(contract_id)
        await bills.review_periods(uow, book, dict.fromkeys(periods, "the business-hours calendar changed"))
    await uow.contracts.reviewed(contract_id)


def _touched_cycles(placed: Sequence[PlacedEntry]) -> set[tuple[UUID, int]]:
    return {
        (p.entry.contract_id, p.cycle_index)
        for p in placed
        if p.entry.contract_id is not None and p.cycle_index is not None and p.entry.usage.billable
    }


async def _books(
    uow: BillingUnitOfWork, contracts: ContractCache, contract_ids: Iterable[UUID | None]
) -> dict[UUID | None, ContractBook]:
    """Books of the contracts whose calendar billing has; one query for all their calendars."""
    copies = await contracts.many(uow, {contract_id for contract_id in contract_ids if contract_id})
    calendars = await uow.contracts.calendars({copy.calendar_id for copy in copies.values()})
    return {
        contract_id: ContractBook.of(copy, calendars[copy.calendar_id])
        for contract_id, copy in copies.items()
        if copy.calendar_id in calendars
    }


async def _review_bills(
    uow: BillingUnitOfWork,
    books: Mapping[UUID | None, ContractBook],
    placed: Sequence[PlacedEntry],
    earlier: Mapping[str, tuple[UUID, int]],
    causes: Mapping[str, Origin] | None = None,
) -> None:
    """Bills of the periods that entries came too late for: drafts recomputed, issued ones flagged.
    A new entry that does not bill changes no bill; an edited or deleted one may, where it was and
    where it is now (another cycle, or another contract). With carry-forward a cycle's use moves what
    every later cycle has, so their bills are reviewed too. One query finds which periods have bills
    at all, which is usually none."""
    # The first entry (in the batch's order) to touch each cycle speaks for it: a batch touches few
    # cycles however many entries it carries.
    first_at: dict[tuple[UUID | None, int | None], LoggedEntry] = {}
    for p in placed:
        entry = p.entry
        if entry.change is EntryChange.LOGGED and not entry.usage.billable:
            continue
        first_at.setdefault((entry.contract_id, p.cycle_index), entry)
        if (where := earlier.get(entry.usage.entry_id)) is not None:
            first_at.setdefault(where, entry)
    reasons: dict[tuple[UUID, str], tuple[str, Origin]] = {}
    for (contract_id, cycle_index), entry in first_at.items():
        book = books.get(contract_id)
        if book is None or cycle_index is None:
            continue
        contract = book.contract
        last = len(contract.cycles) if book.terms.carry_forward else cycle_index
        for index in range(cycle_index, last + 1):
            reasons.setdefault(
                (contract.contract_id, contract.period_carrying(index)),
                (entry.change.reason, (causes or {}).get(entry.usage.entry_id, bills.BILLING)),
            )
    for contract_id, period in sorted(await uow.bills.billed_periods(reasons)):
        reason, origin = reasons[(contract_id, period)]
        await bills.review_periods(uow, books[contract_id], {period: reason}, origin=origin)


async def _account_for_usage(
    uow: BillingUnitOfWork,
    books: Mapping[UUID | None, ContractBook],
    touched: set[tuple[UUID, int]],
    *,
    now: datetime,
    causes: Mapping[tuple[UUID | None, int | None], Origin] | None = None,
) -> None:
    """Count each touched cycle's use of its allowance and announce the levels it reached (as caused
    by `causes` of the cycle, where given)."""
    touched = {(contract_id, index) for contract_id, index in touched if contract_id in books}
    if not touched:
        return
    use = await uow.usage.cycle_use(
        touched,
        in_requests={key for key in touched if not books[key[0]].terms.plan_type.is_hour_based},
    )
    standings = await uow.usage.standings(
        touched | {(contract_id, index - 1) for contract_id, index in touched}
    )
    top_ups = await uow.contracts.top_ups_of({contract_id for contract_id, _ in touched})
    updated: dict[tuple[UUID, int], CycleStanding] = {}
    for contract_id, index in sorted(touched):
        book = books[contract_id]
        contract, terms = book.contract, book.terms
        cycle = contract.cycle(index)
        carried_in = _carried_into(book, index, standings.get((contract_id, index - 1)))
        bought = sum(units for units, bought_at in top_ups[contract_id] if cycle.contains(bought_at))
        standing, notices = account_for_usage(
            standings.get((contract_id, index)),
            used=use[(contract_id, index)],
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
                origin=(causes or {}).get((contract_id, index), bills.BILLING),
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
