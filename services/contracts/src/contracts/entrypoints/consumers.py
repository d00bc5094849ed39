"""Kafka subscribers of the contracts service: translate deliveries into service-layer calls."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from contracts.domain.coverage import Exhaustion
from contracts.service_layer import read_models
from contracts.service_layer.commands import CONTRACT_COMMANDS_CONSUMER, apply_contract_command
from contracts.service_layer.handlers import Clock
from contracts.service_layer.unit_of_work import ContractsUnitOfWork
from contracts_schema import registry
from contracts_schema.billing import AllowanceExhausted, BillIssued
from contracts_schema.timetracking import TimeEntryChanged, TimeEntryLogged
from servicekit.consumers import Consumers, Delivery

UowFactory = Callable[[], ContractsUnitOfWork]

TIME_ENTRY_VIEW = "contracts.time-entry-view"
BILL_VIEW = "contracts.bill-view"
USAGE_VIEW = "contracts.usage-view"


def register(consumers: Consumers, uow: UowFactory, clock: Clock, *, service_name: str) -> None:
    """Consumer groups are named after the service ("contracts.bill-view"), so a second deployment
    under another name (a test run beside a running service) reads every message itself."""

    async def on_contract_commands(deliveries: Sequence[Delivery]) -> None:
        # One unit of work per command: a rejected one must not undo the others of the batch.
        for delivery in deliveries:
            await apply_contract_command(uow, delivery, clock)

    async def on_time_entries(deliveries: Sequence[Delivery]) -> None:
        async with uow() as unit:
            fresh = await unit.unprocessed(TIME_ENTRY_VIEW, deliveries)
            await read_models.record_time_entries_logged(
                unit,
                [
                    d.body.entry.contract_id
                    for d in fresh
                    if isinstance(d.body, TimeEntryLogged | TimeEntryChanged) and d.body.entry.contract_id
                ],
            )

    async def on_bills(deliveries: Sequence[Delivery]) -> None:
        async with uow() as unit:
            fresh = await unit.unprocessed(BILL_VIEW, deliveries)
            await read_models.record_bills_issued(
                unit, [d.body.bill.contract_id for d in fresh if isinstance(d.body, BillIssued)]
            )

    async def on_usage(deliveries: Sequence[Delivery]) -> None:
        async with uow() as unit:
            for delivery in await unit.unprocessed(USAGE_VIEW, deliveries):
                body = delivery.body
                if isinstance(body, AllowanceExhausted):
                    await read_models.record_allowance_exhausted(
                        unit, body.contract_id, Exhaustion(body.cycle_index, body.exhausted_at)
                    )

    def group(consumer: str) -> str:
        return consumer.replace("contracts.", f"{service_name}.", 1)

    consumers.subscribe(
        registry.CONTRACT_COMMANDS, on_contract_commands, name=group(CONTRACT_COMMANDS_CONSUMER)
    )
    consumers.subscribe(registry.TIME_ENTRIES, on_time_entries, name=group(TIME_ENTRY_VIEW))
    consumers.subscribe(registry.BILLS, on_bills, name=group(BILL_VIEW))
    consumers.subscribe(registry.USAGE, on_usage, name=group(USAGE_VIEW))
