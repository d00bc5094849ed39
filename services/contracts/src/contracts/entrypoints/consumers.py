"""Kafka subscribers of the contracts service: each opens its unit of work and calls the service layer.

Contract commands are the same use cases as REST. Each is applied with its inbox record in a unit of
work of its own (`servicekit.commands.apply_commands`); one that breaks a business rule is answered by
ContractCommandRejected, with the command as its cause. The other subscribers keep what the contracts
service needs to know of billing's and timetracking's events.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from contracts.domain.commands import NewContract, RenewalRequest, TerminationRequest, TopUpRequest
from contracts.domain.coverage import Exhaustion
from contracts.service_layer import contracts, views
from contracts.service_layer.unit_of_work import ContractsUnitOfWork
from contracts_schema import WireModel, registry
from contracts_schema.billing import AllowanceExhausted, BillIssued
from contracts_schema.contracts import (
    ContractCommandRejected,
    CreateContract,
    RenewContract,
    TerminateContract,
    TopUpContract,
)
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
            await views.record_time_entries_logged(uow, [c for c in logged if c is not None])

    async def on_bills(deliveries: Sequence[Delivery]) -> None:
        async with units.write() as uow:
            fresh = await uow.unprocessed(deliveries)
            billed = [_contract_billed(delivery.body) for delivery in fresh]
            await views.record_bills_issued(uow, [c for c in billed if c is not None])

    async def on_usage(deliveries: Sequence[Delivery]) -> None:
        async with units.write() as uow:
            for delivery in await uow.unprocessed(deliveries):
                match delivery.body:
                    case AllowanceExhausted() as exhausted:
                        await views.record_allowance_exhausted(
                            uow,
                            exhausted.contract_id,
                            Exhaustion(exhausted.cycle_index, exhausted.exhausted_at),
                        )

    consumers.subscribe(registry.CONTRACT_COMMANDS, on_contract_commands, name="contract-commands")
    consumers.subscribe(registry.TIME_ENTRIES, on_time_entries, name="time-entry-view")
    consumers.subscribe(registry.BILLS, on_bills, name="bill-view")
    consumers.subscribe(registry.USAGE, on_usage, name="usage-view")


async def apply_contract_command(uow: ContractsUnitOfWork, delivery: Delivery, *, now: datetime) -> None:
    origin = Origin.of_message(delivery.event)
    match delivery.body:
        case CreateContract() as command:
            await contracts.sign_contract(uow, NewContract(**_fields(command)), origin=origin, now=now)
        case TopUpContract() as command:
            # The command's id makes a redelivered top-up the same purchase.
            top_up_id = command.top_up_id or delivery.event.id
            top_up = TopUpRequest(command.contract_id, command.top_up_plan_id, top_up_id)
            await contracts.top_up_contract(uow, top_up, origin=origin, now=now)
        case RenewContract() as command:
            await contracts.renew_contract(uow, RenewalRequest(**_fields(command)), origin=origin, now=now)
        case TerminateContract() as command:
            termination = TerminationRequest(command.contract_id, command.termination_date, command.reason)
            await contracts.terminate_contract(uow, termination, origin=origin, now=now)
        case other:
            raise TypeError(f"{type(other).__name__} is not a contract command")


def reject_contract_command(uow: ContractsUnitOfWork, delivery: Delivery, error: DomainError) -> None:
    contract_id = _contract_of_command(delivery.body)
    rejection = ContractCommandRejected(
        command_id=delivery.event.id,
        command_type=delivery.event.type,
        contract_id=contract_id,
        error=type(error).__name__,
        reason=str(error),
    )
    uow.publish(
        rejection,
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
        case BillIssued(bill=bill):
            return bill.contract_id
    return None


def _fields(command: WireModel) -> dict[str, Any]:
    """The command's fields as they are (nested models stay models, unlike model_dump)."""
    return {name: getattr(command, name) for name in type(command).model_fields}
