"""Kafka subscribers of the timetracking service: each opens the unit of work and calls a use case.

Consumer groups are `<service>.<name>` (see `servicekit.consumers.Consumers.group`); each delivery
is recorded in its group's inbox in the same unit of work that applies it.
"""

from __future__ import annotations

from collections.abc import Sequence

from contracts_schema import registry
from contracts_schema.billing import BillIssued, BillMainChanged
from contracts_schema.contracts import (
    ContractCreated,
    ContractDeleted,
    ContractRenewed,
    ContractStatusChanged,
    ContractTerminated,
    ContractToppedUp,
    ContractUpdated,
)
from contracts_schema.timetracking import LogTimeEntry
from servicekit.api import UnitsOfWork
from servicekit.consumers import Consumers, Delivery
from servicekit.errors import DomainError
from servicekit.origin import Origin
from timetracking.adapters import wire
from timetracking.service_layer import handlers
from timetracking.service_layer.unit_of_work import TimeTrackingUnitOfWork

LOG_COMMANDS = "log-commands"
CONTRACT_VIEW = "contract-view"
BILL_VIEW = "bill-view"

SERVICE_ACTOR = "timetracking"
"""Who signs what timetracking does of its own accord, such as attaching entries to a new contract."""


def register(consumers: Consumers, units: UnitsOfWork[TimeTrackingUnitOfWork]) -> None:
    async def on_log_commands(deliveries: Sequence[Delivery]) -> None:
        # One unit of work for the whole batch: entries are checked together and inserted in bulk.
        # A rejection is a reply, not a failure, so it does not undo the others of the batch.
        async with units.write() as uow:
            requests = [_log_request(delivery) for delivery in await uow.unprocessed(deliveries)]
            outcomes = await handlers.log_time_entries(uow, requests)
            for request, outcome in zip(requests, outcomes, strict=True):
                if isinstance(outcome, DomainError):
                    _reject(uow, request, outcome)

    async def on_contract_events(deliveries: Sequence[Delivery]) -> None:
        async with units.write() as uow:
            for delivery in await uow.unprocessed(deliveries):
                origin = Origin(SERVICE_ACTOR, cause=delivery.event)
                # Notices and command rejections say nothing new of a contract: they are let by.
                match delivery.body:
                    case ContractDeleted(contract_id=contract_id):
                        await handlers.forget_contract(uow, contract_id)
                    case ContractRenewed(contract=renewed, new_contract=renewal):
                        await handlers.keep_contracts(
                            uow,
                            [wire.announced_contract(renewed), wire.announced_contract(renewal)],
                            origin=origin,
                        )
                    case (
                        ContractCreated(contract=state)
                        | ContractUpdated(contract=state)
                        | ContractStatusChanged(contract=state)
                        | ContractTerminated(contract=state)
                        | ContractToppedUp(contract=state)
                    ):
                        await handlers.keep_contracts(uow, [wire.announced_contract(state)], origin=origin)

    async def on_bill_events(deliveries: Sequence[Delivery]) -> None:
        async with units.write() as uow:
            for delivery in await uow.unprocessed(deliveries):
                match delivery.body:
                    case BillIssued(bill=bill):
                        await handlers.record_bill_issued(uow, wire.issued_bill(bill))
                    case BillMainChanged() as change:
                        await handlers.record_main_bill_change(uow, wire.main_bill_change(change))

    consumers.subscribe(registry.TIME_ENTRY_COMMANDS, on_log_commands, name=LOG_COMMANDS)
    consumers.subscribe(registry.BILLS, on_bill_events, name=BILL_VIEW)
    consumers.subscribe(registry.CONTRACTS, on_contract_events, name=CONTRACT_VIEW)


def _log_request(delivery: Delivery) -> handlers.LogRequest:
    match delivery.body:
        case LogTimeEntry() as command:
            return handlers.LogRequest(
                command.entry_id, wire.work_log(command), Origin.of_message(delivery.event)
            )
    # The topic carries nothing else today; a new command type must be given its use case first.
    raise TypeError(f"{delivery.event.type} is not a command to log a time entry")


def _reject(uow: TimeTrackingUnitOfWork, request: handlers.LogRequest, error: DomainError) -> None:
    """Answer a command that could not be carried out, so its producer is never left guessing."""
    account_id = request.work.account_id
    uow.publish(
        wire.time_entry_rejected(request.entry_id, account_id, error),
        key=account_id,
        subject=wire.time_entry_subject(request.entry_id),
        origin=request.origin,
    )
