"""Kafka subscribers of the billing service: translate deliveries into use cases.

Contract and calendar events build billing's copies; time-entry events accrue usage; bill commands
make bills, each answered by the bill it made or by a rejection.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from uuid import UUID

from billing.adapters import wire
from billing.service_layer import bill_schedule, handlers
from billing.service_layer.contract_cache import ContractCache
from billing.service_layer.unit_of_work import BillingUnitOfWork
from contracts_schema import registry
from contracts_schema.billing import GenerateBill
from contracts_schema.contracts import (
    CalendarSaved,
    ContractCreated,
    ContractDeleted,
    ContractRenewed,
    ContractStatusChanged,
    ContractTerminated,
    ContractToppedUp,
    ContractUpdated,
)
from contracts_schema.timetracking import TimeEntryChanged, TimeEntryLogged
from servicekit.clock import Clock
from servicekit.commands import apply_commands
from servicekit.consumers import Consumers, Delivery
from servicekit.errors import DomainError
from servicekit.origin import Origin

Units = Callable[[], BillingUnitOfWork]


def register(consumers: Consumers, units: Units, clock: Clock) -> None:
    contracts = ContractCache()

    async def on_contract_events(deliveries: Sequence[Delivery]) -> None:
        async with units() as uow:
            touched: set[UUID] = set()
            for delivery in await uow.unprocessed(deliveries):
                touched |= await _apply_contract_event(uow, delivery, clock)
            await handlers.place_early_entries(uow, touched, contracts=contracts, now=clock())
            await bill_schedule.reschedule(uow, list((await uow.contracts.many(touched)).values()))

    async def on_calendar_events(deliveries: Sequence[Delivery]) -> None:
        async with units() as uow:
            fresh = await uow.unprocessed(deliveries)
            await handlers.keep_calendars(
                uow, [d.body.calendar for d in fresh if isinstance(d.body, CalendarSaved)]
            )
            # Entries of contracts whose calendar was missing until now can be placed in their cycles.
            early = await uow.usage.contracts_with_unplaced_entries()
            await handlers.place_early_entries(uow, early, contracts=contracts, now=clock())

    async def on_time_entry_events(deliveries: Sequence[Delivery]) -> None:
        # No inbox rows on this hot path: applying an entry twice changes nothing, since it is upserted
        # by entry id only when its version is newer, and announced levels are remembered per cycle.
        entries = [
            wire.logged_entry(d.body.entry)
            for d in deliveries
            if isinstance(d.body, TimeEntryLogged | TimeEntryChanged)
        ]
        async with units() as uow:
            await handlers.accrue_time_entries(uow, entries, contracts=contracts, now=clock())

    async def apply_bill_command(uow: BillingUnitOfWork, delivery: Delivery) -> None:
        match delivery.body:
            case GenerateBill(contract_id=contract_id, period=period):
                request = handlers.BillRequest(contract_id, period)
                await handlers.make_bill(uow, request, origin=Origin.of_message(delivery.event), now=clock())

    def reject_bill_command(uow: BillingUnitOfWork, delivery: Delivery, error: DomainError) -> None:
        match delivery.body:
            case GenerateBill(contract_id=contract_id, period=period):
                request = handlers.BillRequest(contract_id, period)
                handlers.reject_bill_command(uow, request, Origin.of_message(delivery.event), str(error))

    async def on_bill_commands(deliveries: Sequence[Delivery]) -> None:
        await apply_commands(units, deliveries, apply_bill_command, reject_bill_command)

    consumers.subscribe(registry.CONTRACTS, on_contract_events, name="contract-copy")
    consumers.subscribe(registry.CALENDARS, on_calendar_events, name="calendar-copy")
    consumers.subscribe(registry.TIME_ENTRIES, on_time_entry_events, name="usage-accrual")
    consumers.subscribe(registry.BILLING_COMMANDS, on_bill_commands, name="bill-commands")


async def _apply_contract_event(uow: BillingUnitOfWork, delivery: Delivery, clock: Clock) -> set[UUID]:
    """Apply one contract event to billing's copy; returns the contracts whose bills may move."""
    match delivery.body:
        case ContractToppedUp(contract=contract, top_up_id=top_up_id, units=units, price=price) as body:
            await handlers.record_top_up(uow, contract, top_up_id, units, price, body.bought_at)
            return {contract.contract_id}
        case ContractRenewed(contract=old, new_contract=new, renewed_at=renewed_at):
            await handlers.keep_contracts(uow, [old, new])
            await bill_schedule.bill_renewal(
                uow,
                wire.billing_contract(new),
                renewed_at=renewed_at,
                origin=Origin.of_message(delivery.event),
                now=clock(),
            )
            return {old.contract_id, new.contract_id}
        case ContractDeleted(contract_id=contract_id):
            await uow.contracts.forget(contract_id)
            return set()
        case (
            ContractCreated(contract=contract)
            | ContractUpdated(contract=contract)
            | ContractStatusChanged(contract=contract)
            | ContractTerminated(contract=contract)
        ):
            await handlers.keep_contracts(uow, [contract])
            return {contract.contract_id}
    return set()
