"""Contract commands from Kafka: the same use cases as REST, answered by an event either way.

A command is applied in one unit of work with its inbox record, so a redelivery changes nothing twice.
One that breaks a business rule is answered by ContractCommandRejected (its id as causation) in a
unit of work of its own; it is not a dead letter, which is for messages that cannot be read at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from contracts.service_layer import contract_actions, handlers
from contracts.service_layer.handlers import Clock
from contracts.service_layer.unit_of_work import ContractsUnitOfWork
from contracts_schema import CloudEvent, WireModel
from contracts_schema.contracts import (
    ContractCommandRejected,
    CreateContract,
    RenewContract,
    TerminateContract,
    TopUpContract,
)
from servicekit.consumers import Delivery
from servicekit.errors import DomainError

CONTRACT_COMMANDS_CONSUMER = "contracts.contract-commands"

UnitOfWorkFactory = Callable[[], ContractsUnitOfWork]


ContractCommand = CreateContract | TopUpContract | RenewContract | TerminateContract


async def apply_contract_command(uow_factory: UnitOfWorkFactory, delivery: Delivery, clock: Clock) -> None:
    command = delivery.body
    if not isinstance(command, ContractCommand):
        raise TypeError(f"{type(command).__name__} is not a contract command")
    try:
        async with uow_factory() as uow:
            if not await uow.unprocessed(CONTRACT_COMMANDS_CONSUMER, [delivery]):
                return  # applied (or rejected) before: a redelivery
            uow.cause = delivery.event
            await _apply(uow, command, delivery.event, clock)
    except DomainError as error:
        async with uow_factory() as uow:
            if not await uow.unprocessed(CONTRACT_COMMANDS_CONSUMER, [delivery]):
                return
            reject(uow, delivery.event, command.contract_id, error)


def reject(uow: ContractsUnitOfWork, command: CloudEvent, contract_id: UUID, error: DomainError) -> None:
    uow.publish(
        ContractCommandRejected(
            command_id=command.id,
            command_type=command.type,
            contract_id=contract_id,
            error=type(error).__name__,
            reason=str(error),
        ),
        key=str(contract_id),
        subject=f"contract/{contract_id}",
        actor=command.actor,
        cause=command,
    )


async def _apply(uow: ContractsUnitOfWork, command: ContractCommand, event: CloudEvent, clock: Clock) -> None:
    actor = event.actor
    match command:
        case CreateContract():
            request = handlers.NewContract.of(command)
            await handlers.sign_contract(uow, request, clock=clock, actor=actor)
        case TopUpContract():
            await contract_actions.buy_top_up(
                uow,
                command.contract_id,
                command.top_up_plan_id,
                # The command's id makes a redelivered top-up the same purchase.
                top_up_id=command.top_up_id or event.id,
                clock=clock,
                actor=actor,
            )
        case RenewContract():
            renewal = contract_actions.RenewalRequest(**_fields(command, RenewContract, "contract_id"))
            await contract_actions.sign_renewal(uow, command.contract_id, renewal, clock=clock, actor=actor)
        case TerminateContract():
            await contract_actions.end_contract(
                uow,
                command.contract_id,
                termination_date=command.termination_date,
                reason=command.reason,
                clock=clock,
                actor=actor,
            )


def _fields(command: WireModel, model: type[WireModel], *leave_out: str) -> dict[str, Any]:
    """The command's fields as they are (nested models stay models, unlike model_dump)."""
    return {name: getattr(command, name) for name in model.model_fields if name not in leave_out}
