"""Kafka subscribers of the billing service: translate deliveries into service-layer calls."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from uuid import UUID

from billing.service_layer import bill_schedule, handlers
from billing.service_layer.unit_of_work import BillingUnitOfWork
from contracts_schema import billing as billing_messages
from contracts_schema import contracts as contract_messages
from contracts_schema import registry
from contracts_schema import timetracking as time_messages
from servicekit.consumers import Consumers, Delivery
from servicekit.errors import DomainError

UowFactory = Callable[[], BillingUnitOfWork]
Clock = handlers.Clock

CONTRACT_COPY = "billing.contract-copy"
CALENDAR_COPY = "billing.calendar-copy"
USAGE = "billing.usage-accrual"
BILL_COMMANDS = "billing.bill-commands"


def register(consumers: Consumers, uow: UowFactory, clock: Clock) -> None:
    async def on_contract_events(deliveries: Sequence[Delivery]) -> None:
        async with uow() as unit:
            touched: set[UUID] = set()
            for delivery in await unit.unprocessed(CONTRACT_COPY, deliveries):
                touched |= await _apply_contract_event(unit, delivery, clock)
            copies = await unit.contracts.many(touched)
            await handlers.place_early_entries(unit, set(copies), clock=clock)
            await bill_schedule.reschedule(unit, list(copies.values()))

    async def on_calendar_events(deliveries: Sequence[Delivery]) -> None:
        async with uow() as unit:
            fresh = await unit.unprocessed(CALENDAR_COPY, deliveries)
            await handlers.keep_calendars(
                unit,
                [d.body.calendar for d in fresh if isinstance(d.body, contract_messages.CalendarSaved)],
            )
            # Entries of contracts whose calendar was missing until now can be placed in their cycles.
            await handlers.place_early_entries(
                unit, await unit.usage.contracts_with_unplaced_entries(), clock=clock
            )

    async def on_time_entry_events(deliveries: Sequence[Delivery]) -> None:
        # No inbox rows on this hot path: applying an entry twice changes nothing, since it is upserted
        # by entry id only when its version is newer, and announced thresholds are remembered per cycle.
        async with uow() as unit:
            entries = [
                d.body.entry
                for d in deliveries
                if isinstance(d.body, time_messages.TimeEntryLogged | time_messages.TimeEntryChanged)
            ]
            await handlers.accrue_time_entries(unit, entries, clock=clock)

    async def on_bill_commands(deliveries: Sequence[Delivery]) -> None:
        for delivery in deliveries:
            command = delivery.body
            assert isinstance(command, billing_messages.GenerateBill)
            request = handlers.BillRequest(
                command.contract_id, command.period, delivery.event.actor, delivery.event
            )
            async with uow() as unit:
                if not await unit.unprocessed(BILL_COMMANDS, [delivery]):
                    continue
                try:
                    async with unit.savepoint():
                        await handlers.make_bill(unit, request, clock=clock)
                except DomainError as error:
                    handlers.reject_bill_command(unit, request, error)

    consumers.subscribe(registry.CONTRACTS, on_contract_events, name=CONTRACT_COPY)
    consumers.subscribe(registry.CALENDARS, on_calendar_events, name=CALENDAR_COPY)
    consumers.subscribe(registry.TIME_ENTRIES, on_time_entry_events, name=USAGE)
    consumers.subscribe(registry.BILLING_COMMANDS, on_bill_commands, name=BILL_COMMANDS)


async def _apply_contract_event(unit: BillingUnitOfWork, delivery: Delivery, clock: Clock) -> set[UUID]:
    """Apply one contract event to billing's copy; returns the contracts whose bills may move."""
    body = delivery.body
    if isinstance(body, contract_messages.ContractToppedUp):
        await handlers.record_top_up(
            unit, body.contract, body.top_up_id, body.units, body.price, body.bought_at
        )
        return {body.contract.contract_id}
    if isinstance(body, contract_messages.ContractRenewed):
        await handlers.keep_contracts(unit, [body.contract, body.new_contract])
        await bill_schedule.bill_renewal(
            unit, body.new_contract, renewed_at=body.renewed_at, cause=delivery.event, clock=clock
        )
        return {body.contract.contract_id, body.new_contract.contract_id}
    if isinstance(body, contract_messages.ContractDeleted):
        await unit.contracts.forget(body.contract_id)
        return set()
    if isinstance(
        body,
        contract_messages.ContractCreated
        | contract_messages.ContractUpdated
        | contract_messages.ContractStatusChanged
        | contract_messages.ContractTerminated,
    ):
        await handlers.keep_contracts(unit, [body.contract])
        return {body.contract.contract_id}
    return set()
