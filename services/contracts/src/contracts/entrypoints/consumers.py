"""Kafka subscribers of the contracts service: each opens its unit of work and calls the service layer.

Contract commands are the same use cases as REST. Each is applied with its inbox record in a unit of
work of its own (`servicekit.commands.apply_commands`); one that breaks a business rule is answered by
ContractCommandRejected, with the command as its cause. The other subscribers keep what the contracts
service needs to know of billing's and timetracking's events.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from contracts.adapters import wire
from contracts.service_layer import contracts, views
from contracts.service_layer.unit_of_work import ContractsUnitOfWork
from contracts_schema import WireModel, registry
from contracts_schema.billing import AllowanceExhausted, BillDrafted, BillIssued
from contracts_schema.contracts import CreateContract, RenewContract, TerminateContract, TopUpContract
from contracts_schema.timetracking import TimeEntryChanged, TimeEntryLogged
from servicekit.api import UnitsOfWork
from servicekit.clock import Clock
from servicekit.commands import apply_commands
from servicekit.consumers import Consumers, Delivery
from servicekit.errors import DomainError
from servicekit.origin import Origin


def subscribe(consumers: Consumers, units: UnitsOfWork[ContractsUnitOfWork], clock: Clock) -> None:
    async def on_contract_commands(deliveries: Sequence[Delivery]) -> None:
        async def apply(uow: ContractsUnitOfWork, delivery: Delivery) -> None:
            await apply_contract_command(uow, delivery, now=clock())

        await apply_commands(units.write, deliveries, apply, reject_contract_command)

    async def on_time_entries(deliveries: Sequence[Delivery]) -> None:
        async with units.write() as uow:
            fresh = await uow.unprocessed(deliveries)
            logged = [_contract_with_time_logged(delivery.body) for delivery in fresh]
            await views.record_time_entries_logged(
                uow, [contract_id for contract_id in logged if contract_id]
            )

    async def on_bills(deliveries: Sequence[Delivery]) -> None:
        async with units.write() as uow:
            fresh = await uow.unprocessed(deliveries)
            billed = [_contract_billed(delivery.body) for delivery in fresh]
            await views.record_bills_issued(uow, [contract_id for contract_id in billed if contract_id])

    async def on_usage(deliveries: Sequence[Delivery]) -> None:
        async with units.write() as uow:
            for delivery in await uow.unprocessed(deliveries):
                match delivery.body:
                    case AllowanceExhausted() as exhausted:
                        await views.record_allowance_exhausted(
                            uow, exhausted.contract_id, wire.exhaustion(exhausted)
                        )

    consumers.subscribe(registry.CONTRACT_COMMANDS, on_contract_commands, name="contract-commands")
    consumers.subscribe(registry.TIME_ENTRIES, on_time_entries, name="time-entry-view")
    consumers.subscribe(registry.BILLS, on_bills, name="bill-view")
    consumers.subscribe(registry.USAGE, on_usage, name="usage-view")


async def apply_contract_command(uow: ContractsUnitOfWork, delivery: Delivery, *, now: datetime) -> None:
    origin = Origin.of_message(delivery.event)
    match delivery.body:
        case CreateContract() as command:
            await contracts.sign_contract(uow, wire.new_contract(command), origin=origin, now=now)
        case TopUpContract() as command:
            top_up = wire.top_up_request(command, delivery.event.id)
            await contracts.top_up_contract(uow, top_up, origin=origin, now=now)
        case RenewContract() as command:
            await contracts.renew_contract(uow, wire.renewal_request(command), origin=origin, now=now)
        case TerminateContract() as command:
            termination = wire.termination_request(command)
            await contracts.terminate_contract(uow, termination, origin=origin, now=now)
        case other:
            raise TypeError(f"{type(other).__name__} is not a contract command")


def reject_contract_command(uow: ContractsUnitOfWork, delivery: Delivery, error: DomainError) -> None:
    contract_id = _contract_of_command(delivery.body)
    uow.publish(
        wire.contract_command_rejected(delivery.event, contract_id, error),
        key=str(contract_id),
        subject=f"contract/{contract_id}",
        origin=Origin.of_message(delivery.event),
    )


def _contract_of_command(command: WireModel) -> UUID:
    match command:
        case CreateContract() | TopUpContract() | RenewContract() | TerminateContract():
            return command.contract_id
    raise TypeError(f"{type(command).__name__} is not a contract command")


def _contract_with_time_logged(event: WireModel) -> UUID | None:
    match event:
        case TimeEntryLogged(entry=entry) | TimeEntryChanged(entry=entry):
            return entry.contract_id
    return None


def _contract_billed(event: WireModel) -> UUID | None:
    match event:
        case BillIssued(bill=bill) | BillDrafted(bill=bill):
            return bill.contract_id  # a draft is a bill too: the contract must be kept
    return None
