"""Use cases of the billing service: keep contract copies, accrue usage, make bills."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from billing.adapters.repositories import PlacedEntry
from billing.domain.bills import (
    BillDraft,
    BillLine,
    postpaid_cycle_bill,
    prepaid_cycle_bill,
    prepaid_final_bill,
)
from billing.domain.errors import ContractUnknown
from billing.domain.usage import CycleUsage, TopUpPurchase, UsageEntry, calculate_cycle_usage
from billing.service_layer.contract_book import BillPeriod, ContractBook, top_up_units
from billing.service_layer.unit_of_work import BillingUnitOfWork
from contracts_schema import CloudEvent
from contracts_schema import billing as wire
from contracts_schema.contracts import BusinessCalendar, ContractState
from contracts_schema.primitives import MoneyAmount
from contracts_schema.timetracking import TimeEntryState
from servicekit.cycles import Cycle, cycle_containing
from servicekit.money import Money

Clock = Callable[[], datetime]
THRESHOLDS = (50, 75, 90, 100)


def _thresholds(book: ContractBook) -> list[int]:
    """The usual thresholds, plus the percentage the contract's notifications ask for."""
    asked = book.contract.notifications.allowance_used_percent
    return sorted({*THRESHOLDS, asked} if asked else THRESHOLDS)


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
        top_up_id,
        contract.contract_id,
        top_up_units(contract, units),
        Money(price.amount, price.currency),
        bought_at,
    )


async def contract_book(uow: BillingUnitOfWork, contract_id: UUID) -> ContractBook:
    contract = await uow.contracts.get(contract_id)
    if contract is None:
        raise ContractUnknown(f"billing has no contract {contract_id} (yet)")
    calendar = await uow.contracts.calendar(contract.terms.calendar_id)
    if calendar is None:
        raise ContractUnknown(f"billing has no business-hours calendar {contract.terms.calendar_id} (yet)")
    return ContractBook.of(contract, calendar)


async def cycle_usage(uow: BillingUnitOfWork, book: ContractBook, cycle: Cycle) -> CycleUsage:
    """Usage of one cycle from the raw entries; with carry-forward, earlier cycles are replayed first,
    since what a cycle brings forward depends on what the one before it used."""
    contract_id = book.contract.contract_id
    purchases = await _top_ups_by_cycle(uow, book)
    first = book.cycles[0] if book.terms.carry_forward else cycle
    entries = await uow.usage.entries_between(contract_id, first.starts_at, cycle.ends_at)
    by_cycle: dict[int, list[UsageEntry]] = defaultdict(list)
    for entry in entries:
        found = cycle_containing(book.cycles, entry.started_at)
        if found is not None:
            by_cycle[found.index].append(entry)
    carried_in = 0
    usage: CycleUsage | None = None
    for current in book.cycles[first.index - 1 : cycle.index]:
        usage = calculate_cycle_usage(
            book.terms,
            current,
            by_cycle[current.index],
            book.calendar,
            carried_in=carried_in,
            top_ups=purchases[current.index],
        )
        carried_in = usage.carried_out
    assert usage is not None
    return usage


async def _top_ups_by_cycle(uow: BillingUnitOfWork, book: ContractBook) -> dict[int, list[TopUpPurchase]]:
    found: dict[int, list[TopUpPurchase]] = defaultdict(list)
    for units, price, bought_at in await uow.contracts.top_ups(book.contract.contract_id):
        cycle = cycle_containing(book.cycles, bought_at)
        if cycle is not None:
            found[cycle.index].append(TopUpPurchase(f"Top-up bought {bought_at:%Y-%m-%d}", units, price))
    return found


async def draft_bill(uow: BillingUnitOfWork, book: ContractBook, period: BillPeriod) -> BillDraft:
    usage = await cycle_usage(uow, book, period.usage_cycle) if period.usage_cycle else None
    if not book.is_prepaid:
        assert usage is not None  # a postpaid period is the cycle it closes
        return postpaid_cycle_bill(book.terms, usage)
    if period.base_charge_cycle is None:
        assert usage is not None  # the final bill carries the last cycle's arrears
        return prepaid_final_bill(book.terms, usage)
    return prepaid_cycle_bill(book.terms, period.base_charge_cycle, usage)


@dataclass(frozen=True)
class BillRequest:
    contract_id: UUID
    period: str
    actor: str | None
    cause: CloudEvent | None = None
    issued_at: datetime | None = None
    """When the bill counts as made (a cycle boundary, a renewal); now when not given."""


async def preview_bill(uow: BillingUnitOfWork, request: BillRequest, *, clock: Clock) -> wire.BillState:
    """The bill that would be made now, not saved and not announced."""
    async with uow:
        book = await contract_book(uow, request.contract_id)
        period = book.period(request.period)
        draft = await draft_bill(uow, book, period)
        versions = await uow.bills.versions(request.contract_id, period.name)
        return _bill_state(
            book, period, draft, version=len(versions) + 1, is_main=not versions, issued_at=clock()
        )


async def issue_bill(uow: BillingUnitOfWork, request: BillRequest, *, clock: Clock) -> wire.BillState:
    """Make a bill for a contract's period; a period that already has bills gets a new version.
    The main bill marks the entries it covers billed."""
    async with uow:
        bill = await make_bill(uow, request, clock=clock)
    return bill


async def make_bill(uow: BillingUnitOfWork, request: BillRequest, *, clock: Clock) -> wire.BillState:
    """`issue_bill` inside the caller's unit of work.

    The first bill of a period is its main bill. A bill made once the period has ended replaces an
    earlier, partial main bill (one made on demand while the cycle ran) that was not sent or paid yet.
    """
    book = await contract_book(uow, request.contract_id)
    period = book.period(request.period)
    draft = await draft_bill(uow, book, period)
    versions = await uow.bills.versions(request.contract_id, period.name)
    issued_at = request.issued_at or clock()
    whole_period = period.covered_whole_by(issued_at)
    partial_main = await uow.bills.partial_main(request.contract_id, period.name) if whole_period else None
    is_main = not versions or partial_main is not None
    bill = _bill_state(book, period, draft, version=len(versions) + 1, is_main=is_main, issued_at=issued_at)
    if partial_main is not None:
        await uow.bills.demote(partial_main)
    await uow.bills.add(bill, whole_period=whole_period)
    if bill.is_main:
        await uow.usage.mark_billed([str(entry_id) for entry_id in bill.time_entry_ids], bill.bill_id)
    uow.publish(
        wire.BillIssued(bill=bill),
        key=str(bill.contract_id),
        subject=f"bill/{bill.bill_id}",
        actor=request.actor,
        cause=request.cause,
    )
    return bill


def reject_bill_command(uow: BillingUnitOfWork, request: BillRequest, error: Exception) -> None:
    """Answer a GenerateBill command that could not be carried out, naming the reason."""
    uow.publish(
        wire.BillCommandRejected(contract_id=request.contract_id, period=request.period, reason=str(error)),
        key=str(request.contract_id),
        subject=f"contract/{request.contract_id}",
        actor=request.actor,
        cause=request.cause,
    )


def _bill_state(
    book: ContractBook,
    period: BillPeriod,
    draft: BillDraft,
    *,
    version: int,
    is_main: bool,
    issued_at: datetime,
) -> wire.BillState:
    contract = book.contract
    bill_date = issued_at.astimezone(ZoneInfo(contract.time_zone)).date()
    first, last = _period_days(period)
    label = period.name.upper() if not period.name.isdigit() else f"{int(period.name):02d}"
    return wire.BillState(
        bill_id=uuid4(),
        bill_number=f"{contract.contract_number}-{label}-v{version}",
        version=version,
        contract_id=contract.contract_id,
        account_id=contract.account_id,
        period=period.name,
        period_start=first,
        period_end=last,
        bill_date=bill_date,
        due_date=bill_date + timedelta(days=contract.payment_terms_days),
        currency=draft.currency,
        lines=[_line(line) for line in draft.lines],
        time_entry_ids=[UUID(entry_id) for entry_id in draft.entry_ids],
        subtotal=_amount(draft.subtotal),
        discount_percent=draft.discount_percent,
        discount=_amount(draft.discount),
        tax_percent=draft.tax_percent,
        tax=_amount(draft.tax),
        total=_amount(draft.total),
        status=wire.BillStatus.ISSUED,
        is_main=is_main,
    )


def _period_days(period: BillPeriod) -> tuple[date, date]:
    cycles = [cycle for cycle in (period.usage_cycle, period.base_charge_cycle) if cycle is not None]
    return min(cycle.start_date for cycle in cycles), max(cycle.end_date for cycle in cycles)


def _amount(money: Money) -> MoneyAmount:
    return MoneyAmount(amount=money.amount, currency=money.currency)


def _line(line: BillLine) -> wire.BillLine:
    return wire.BillLine(
        kind=line.kind.value,
        description=line.description,
        category=line.category.value if line.category else None,
        quantity=line.quantity,
        quantity_display=line.quantity_text,
        unit_price=_amount(line.unit_price),
        amount=_amount(line.amount),
    )


async def accrue_time_entries(
    uow: BillingUnitOfWork, entries: Sequence[TimeEntryState], *, clock: Clock
) -> None:
    """Record entries in bulk, each placed in its cycle, then bring the touched cycles' usage up to
    date and announce the thresholds they crossed. A fixed number of queries per batch, whatever its
    size: the bill itself is still computed from the raw entries, so this is the running figure."""
    contracts = await uow.contracts.many({entry.contract_id for entry in entries if entry.contract_id})
    books = await _books(uow, contracts)
    placed = [_place(entry, books.get(entry.contract_id) if entry.contract_id else None) for entry in entries]
    await uow.usage.record(placed)
    touched = {
        (p.entry.contract_id, p.cycle_index)
        for p in placed
        if p.entry.contract_id is not None and p.cycle_index is not None and p.entry.billable
    }
    if touched:
        await _announce_thresholds(uow, books, touched, now=clock())


async def place_early_entries(uow: BillingUnitOfWork, contract_ids: set[UUID], *, clock: Clock) -> None:
    """Entries that arrived before their contract's copy: placed in their cycles once it is here."""
    unplaced = await uow.usage.unplaced(contract_ids)
    if not unplaced:
        return
    contracts = await uow.contracts.many({contract_id for _, contract_id, *_ in unplaced})
    books = await _books(uow, contracts)
    placements: list[tuple[str, int | None, int]] = []
    touched: set[tuple[UUID, int]] = set()
    for entry_id, contract_id, started_at, minutes, include_non_operational in unplaced:
        book = books.get(contract_id)
        cycle = cycle_containing(book.cycles, started_at) if book else None
        if book is None or cycle is None:
            continue
        placements.append(
            (entry_id, cycle.index, book.counted_minutes(started_at, minutes, include_non_operational))
        )
        touched.add((contract_id, cycle.index))
    await uow.usage.place(placements)
    if touched:
        await _announce_thresholds(uow, books, touched, now=clock())


async def _books(uow: BillingUnitOfWork, contracts: dict[UUID, ContractState]) -> dict[UUID, ContractBook]:
    """Books of the contracts whose calendar billing has; one query for all their calendars."""
    calendars = await uow.contracts.calendars({contract.terms.calendar_id for contract in contracts.values()})
    return {
        contract_id: ContractBook.of(contract, calendars[contract.terms.calendar_id])
        for contract_id, contract in contracts.items()
        if contract.terms.calendar_id in calendars
    }


def _place(entry: TimeEntryState, book: ContractBook | None) -> PlacedEntry:
    """Usage of a contract billing has not seen yet is placed when its bill is made."""
    if book is None:
        return PlacedEntry(entry, None, entry.minutes)
    cycle = cycle_containing(book.cycles, entry.started_at)
    counted = book.counted_minutes(entry.started_at, entry.minutes, entry.include_non_operational)
    return PlacedEntry(entry, cycle.index if cycle else None, counted)


async def _announce_thresholds(
    uow: BillingUnitOfWork, books: dict[UUID, ContractBook], touched: set[tuple[UUID, int]], *, now: datetime
) -> None:
    sums = await uow.usage.cycle_sums(touched)
    known = await uow.usage.cycle_usage(
        touched | {(contract_id, index - 1) for contract_id, index in touched}
    )
    top_ups = await uow.contracts.top_ups_of({contract_id for contract_id, _ in touched})
    rows = []
    for contract_id, index in sorted(touched):
        book = books[contract_id]
        cycle = book.cycle(index)
        minutes, requests = sums[(contract_id, index)]
        used = minutes if book.terms.plan_type.is_hour_based else requests
        carried_in = _carried_into(book, index, known.get((contract_id, index - 1)))
        bought = sum(units for units, bought_at in top_ups[contract_id] if cycle.contains(bought_at))
        allowance = book.terms.allowance_units + carried_in + bought
        previous = known.get((contract_id, index), {})
        announced = int(previous.get("percent_announced", 0))
        exhausted_announced = bool(previous.get("exhausted_announced", False))
        if allowance > int(previous.get("allowance", allowance)):
            # A top-up grew the allowance: the thresholds and exhaustion are announced anew against it.
            announced, exhausted_announced = 0, False
        percent = 100 if allowance == 0 else used * 100 // allowance
        crossed = [threshold for threshold in _thresholds(book) if announced < threshold <= percent]
        if crossed:
            uow.publish(
                wire.UsageThresholdReached(
                    contract_id=contract_id,
                    account_id=book.contract.account_id,
                    cycle_index=index,
                    percent_used=crossed[-1],
                    used_minutes=used,
                    allowance_minutes=allowance,
                    reached_at=now,
                ),
                key=str(contract_id),
                subject=f"contract/{contract_id}/cycle/{index}",
                actor="billing",
            )
            announced = crossed[-1]
        if used >= allowance and used > 0 and not exhausted_announced:
            uow.publish(
                wire.AllowanceExhausted(
                    contract_id=contract_id,
                    account_id=book.contract.account_id,
                    cycle_index=index,
                    exhausted_at=now,
                ),
                key=str(contract_id),
                subject=f"contract/{contract_id}/cycle/{index}",
                actor="billing",
            )
            exhausted_announced = True
        rows.append(
            {
                "contract_id": str(contract_id),
                "cycle_index": index,
                "used": used,
                "allowance": allowance,
                "carried_in": carried_in,
                "percent_announced": announced,
                "exhausted_announced": exhausted_announced,
            }
        )
    await uow.usage.save_cycle_usage(rows)


def _carried_into(book: ContractBook, index: int, previous: dict[str, Any] | None) -> int:
    """The unused part of the previous cycle's own allowance, which it drew on after its carried units."""
    if not book.terms.carry_forward or index == 1:
        return 0
    own = book.terms.allowance_units
    if previous is None:
        return own  # nothing was logged in the previous cycle
    own_used = min(max(int(previous["used"]) - int(previous["carried_in"]), 0), own)
    return own - own_used
