"""Kafka subscribers of the billing service: translate deliveries into use cases.

Contract and calendar events build billing's copies; time-entry events accrue usage; bill commands
make and change bills, each answered by the event of what it did or by a rejection.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from uuid import UUID

from billing.adapters import wire
from billing.domain.bill_versions import BillStatus
from billing.service_layer import bill_schedule, bills, handlers
from billing.service_layer.contract_cache import ContractCache
from billing.service_layer.unit_of_work import BillingUnitOfWork
from contracts_schema import registry
from contracts_schema.billing import (
    BillCommand,
    EditBill,
    GenerateBill,
    IssueBill,
    MarkBillMain,
    PayBill,
    ReconcileBill,
    RegenerateBill,
    SendBill,
    VoidBill,
)
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
from contracts_schema.timetracking import TimeEntryChanged, TimeEntryDeleted, TimeEntryLogged
from servicekit.clock import Clock
from servicekit.commands import apply_commands
from servicekit.consumers import Consumers, Delivery
from servicekit.errors import DomainError
from servicekit.origin import Origin

Units = Callable[[], BillingUnitOfWork]

_STATUS_OF_COMMAND: dict[type[BillCommand], BillStatus] = {
    IssueBill: BillStatus.ISSUED,
    SendBill: BillStatus.SENT,
    PayBill: BillStatus.PAID,
    VoidBill: BillStatus.VOID,
}


def register(consumers: Consumers, units: Units, clock: Clock, contracts: ContractCache) -> None:
    async def on_contract_events(deliveries: Sequence[Delivery]) -> None:
        async with units() as uow:
            await uow.usage.lock_placement(shared=False)
            touched: set[UUID] = set()
            for delivery in await uow.unprocessed(deliveries):
                touched |= await _apply_contract_event(uow, delivery, clock, contracts)
            await handlers.place_early_entries(uow, touched, contracts=contracts, now=clock())
            await bill_schedule.reschedule(uow, list((await uow.contracts.many(touched)).values()))

    async def on_calendar_events(deliveries: Sequence[Delivery]) -> None:
        async with units() as uow:
            await uow.usage.lock_placement(shared=False)
            calendars = [
                d.body.calendar
                for d in await uow.unprocessed(deliveries)
                if isinstance(d.body, CalendarSaved)
            ]
            await handlers.keep_calendars(uow, calendars)
            # Entries of contracts whose calendar was missing until now can be placed in their cycles.
            early = await uow.usage.contracts_with_unplaced_entries()
            await handlers.place_early_entries(uow, early, contracts=contracts, now=clock())

    async def on_time_entry_events(deliveries: Sequence[Delivery]) -> None:
        # No inbox rows on this hot path: applying an entry twice changes nothing, since it is upserted
        # by entry id only when its version is newer, and announced levels are remembered per cycle.
        entries, causes = [], {}
        for d in deliveries:
            if isinstance(d.body, TimeEntryLogged | TimeEntryChanged | TimeEntryDeleted):
                entry = wire.time_entry_event(d.body)
                entries.append(entry)
                causes[entry.usage.entry_id] = bills.BILLING.caused_by(d.event)
        async with units() as uow:
            await handlers.accrue_time_entries(uow, entries, contracts=contracts, now=clock(), causes=causes)

    async def apply_bill_command(uow: BillingUnitOfWork, delivery: Delivery) -> None:
        origin = Origin.of_message(delivery.event)
        match delivery.body:
            case GenerateBill(contract_id=contract_id, period=period, bill_id=bill_id):
                request = bills.BillRequest(contract_id, period, bill_id=bill_id or delivery.event.id)
                await bills.make_bill(uow, request, origin=origin, now=clock())
            case IssueBill() | SendBill() | PayBill() | VoidBill() as command:
                await bills.change_status(
                    uow,
                    command.bill_id,
                    _STATUS_OF_COMMAND[type(command)],
                    origin=origin,
                    contract_id=command.contract_id,
                    reason=command.reason if isinstance(command, VoidBill) else "",
                )
            case MarkBillMain(contract_id=contract_id, bill_id=bill_id):
                await bills.mark_main(uow, bill_id, origin=origin, contract_id=contract_id)
            case RegenerateBill(contract_id=contract_id, bill_id=bill_id, new_bill_id=new_bill_id):
                await bills.regenerate_bill(
                    uow,
                    bill_id,
                    new_bill_id=new_bill_id or delivery.event.id,
                    origin=origin,
                    now=clock(),
                    contract_id=contract_id,
                )
            case EditBill(contract_id=contract_id, bill_id=bill_id) as command:
                await bills.edit_bill(
                    uow, bill_id, wire.bill_edit(command), origin=origin, contract_id=contract_id
                )
            case ReconcileBill(contract_id=contract_id, bill_id=bill_id):
                found = await bills.reconcile_bill(uow, bill_id, contract_id=contract_id)
                uow.publish(
                    wire.reconciliation(found),
                    key=str(contract_id),
                    subject=f"bill/{bill_id}",
                    origin=origin,
                )

    def reject_bill_command(uow: BillingUnitOfWork, delivery: Delivery, error: DomainError) -> None:
        body = delivery.body
        bills.reject_bill_command(
            uow,
            contract_id=getattr(body, "contract_id", None),
            period=getattr(body, "period", None),
            bill_id=getattr(body, "bill_id", None),
            origin=Origin.of_message(delivery.event),
            error=error,
        )

    async def on_bill_commands(deliveries: Sequence[Delivery]) -> None:
        await apply_commands(units, deliveries, apply_bill_command, reject_bill_command)

    consumers.subscribe(registry.CONTRACTS, on_contract_events, name="contract-copy")
    consumers.subscribe(registry.CALENDARS, on_calendar_events, name="calendar-copy")
    consumers.subscribe(registry.TIME_ENTRIES, on_time_entry_events, name="usage-accrual")
    consumers.subscribe(registry.BILLING_COMMANDS, on_bill_commands, name="bill-commands")


async def _apply_contract_event(
    uow: BillingUnitOfWork, delivery: Delivery, clock: Clock, contracts: ContractCache
) -> set[UUID]:
    """Apply one contract event to billing's copy; returns the contracts whose bills may move."""
    match delivery.body:
        case ContractToppedUp(contract=contract, top_up_id=top_up_id, units=units, price=price) as body:
            await handlers.record_top_up(
                uow,
                contract,
                top_up_id,
                units,
                price,
                body.bought_at,
                contracts=contracts,
                origin=bills.BILLING.caused_by(delivery.event),
            )
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
