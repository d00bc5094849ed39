"""What prices a contract's periods: its book (copy and calendar), a cycle's usage from the raw entries,
and the draft of a period's bill. Bills, `/usage` and reconciliation all compute through here."""

from __future__ import annotations

from collections import defaultdict
from uuid import UUID

from billing.domain.bills import BillDraft, compose_bill
from billing.domain.contract import ContractBook
from billing.domain.errors import ContractUnknown
from billing.domain.usage import CycleUsage, TopUpPurchase, UsageEntry, calculate_cycle_usage
from billing.service_layer.unit_of_work import BillingUnitOfWork
from servicekit.auth import AccountScope
from servicekit.cycles import Cycle


async def contract_book(
    uow: BillingUnitOfWork, contract_id: UUID, scope: AccountScope = None
) -> ContractBook:
    """A contract's book; one of an account outside `scope` is unknown, as if it did not exist."""
    contract = await uow.contracts.get(contract_id)
    if contract is None or (scope is not None and contract.account_id not in scope):
        raise ContractUnknown(f"billing has no contract {contract_id} (yet)")
    calendar = (await uow.contracts.calendars([contract.calendar_id])).get(contract.calendar_id)
    if calendar is None:
        raise ContractUnknown(f"billing has no business-hours calendar {contract.calendar_id} (yet)")
    return ContractBook.of(contract, calendar)


async def cycle_usage(uow: BillingUnitOfWork, book: ContractBook, cycle: Cycle) -> CycleUsage:
    """Usage of one cycle from the raw entries; with carry-forward, earlier cycles are replayed first,
    since what a cycle brings forward depends on what the one before it used."""
    cycles = book.contract.cycles
    purchases = await _top_ups_by_cycle(uow, book)
    first = cycles[0] if book.terms.carry_forward else cycle
    entries = await uow.usage.entries_between(book.contract.contract_id, first.starts_at, cycle.ends_at)
    by_cycle: dict[int, list[UsageEntry]] = defaultdict(list)
    if first is cycle:
        by_cycle[cycle.index] = entries  # read between the cycle's bounds: each is of the cycle
    else:
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


async def draft_bill(uow: BillingUnitOfWork, book: ContractBook, period_name: str) -> BillDraft:
    """A period's bill from the raw entries and current terms: its base charge and the usage it carries."""
    period = book.contract.period(period_name)
    usage = await cycle_usage(uow, book, period.usage_cycle) if period.usage_cycle else None
    return compose_bill(book.terms, base_charge_cycle=period.base_charge_cycle, usage=usage)
