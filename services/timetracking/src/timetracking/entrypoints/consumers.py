"""Kafka subscribers of the timetracking service: translate deliveries into service-layer calls."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from contracts_schema import registry
from contracts_schema.billing import BillIssued
from contracts_schema.contracts import (
    ContractCreated,
    ContractDeleted,
    ContractRenewed,
    ContractState,
    ContractStatusChanged,
    ContractTerminated,
    ContractToppedUp,
    ContractUpdated,
)
from contracts_schema.timetracking import LogTimeEntry, TimeEntryFields
from servicekit.consumers import Consumers, Delivery
from servicekit.errors import DomainError
from timetracking.service_layer import handlers
from timetracking.service_layer.unit_of_work import TimeTrackingUnitOfWork

UowFactory = Callable[[], TimeTrackingUnitOfWork]

LOG_COMMANDS = "timetracking.log-commands"
CONTRACT_VIEW = "timetracking.contract-view"
BILL_VIEW = "timetracking.bill-view"


def register(consumers: Consumers, uow: UowFactory) -> None:
    async def on_log_commands(deliveries: Sequence[Delivery]) -> None:
        async with uow() as unit:
            fresh = await unit.unprocessed(LOG_COMMANDS, deliveries)
            requests = [_log_request(delivery) for delivery in fresh]
            outcomes = await handlers.record_time_entries(unit, requests)
            for request, outcome in zip(requests, outcomes, strict=True):
                if isinstance(outcome, DomainError):
                    handlers.reject(unit, request, outcome)

    async def on_contract_events(deliveries: Sequence[Delivery]) -> None:
        async with uow() as unit:
            for delivery in await unit.unprocessed(CONTRACT_VIEW, deliveries):
                if isinstance(delivery.body, ContractDeleted):
                    await handlers.forget_contract(unit, delivery.body.contract_id)
                else:
                    await handlers.keep_contracts(unit, _contract_states(delivery), cause=delivery.event)

    async def on_bill_events(deliveries: Sequence[Delivery]) -> None:
        async with uow() as unit:
            for delivery in await unit.unprocessed(BILL_VIEW, deliveries):
                if isinstance(delivery.body, BillIssued):
                    await handlers.record_main_bill(unit, delivery.body.bill)

    consumers.subscribe(registry.TIME_ENTRY_COMMANDS, on_log_commands, name=LOG_COMMANDS)
    consumers.subscribe(registry.BILLS, on_bill_events, name=BILL_VIEW)
    consumers.subscribe(registry.CONTRACTS, on_contract_events, name=CONTRACT_VIEW)


def _log_request(delivery: Delivery) -> handlers.LogRequest:
    command = delivery.body
    assert isinstance(command, LogTimeEntry)
    fields = TimeEntryFields.model_validate(command.model_dump(exclude={"entry_id"}))
    return handlers.LogRequest(command.entry_id, fields, delivery.event.actor, delivery.event)


def _contract_states(delivery: Delivery) -> list[ContractState]:
    body = delivery.body
    if isinstance(body, ContractRenewed):
        return [body.contract, body.new_contract]
    if isinstance(
        body,
        ContractCreated | ContractUpdated | ContractStatusChanged | ContractTerminated | ContractToppedUp,
    ):
        return [body.contract]
    return []
