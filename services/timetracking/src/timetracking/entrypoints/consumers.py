"""Kafka subscribers of the timetracking service: each opens the unit of work and calls a use case.

Consumer groups are `<service>.<name>` (see `servicekit.consumers.Consumers.group`); each delivery
is recorded in its group's inbox in the same unit of work that applies it.

Commands on time entries are applied in the order they arrive: a run of log commands (single or
batch) as one batch in one unit of work, where entries are checked together and inserted in bulk; any
other command in a unit of work of its own (`servicekit.commands.apply_commands`). Every command is
answered: by the events of what it did, or by TimeEntryRejected naming the rule it broke.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

from contracts_schema import registry
from contracts_schema.billing import BillIssued, BillMainChanged, BillStatusChanged
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
from contracts_schema.timetracking import (
    DeleteTimeEntry,
    EditTimeEntry,
    LogTimeEntries,
    LogTimeEntry,
    MarkTimeEntriesBillable,
)
from servicekit.api import UnitsOfWork
from servicekit.clock import Clock
from servicekit.commands import apply_commands
from servicekit.consumers import Consumers, Delivery
from servicekit.errors import DomainError
from servicekit.origin import Origin
from timetracking.adapters import wire
from timetracking.service_layer import handlers, views
from timetracking.service_layer.unit_of_work import TimeTrackingUnitOfWork

TIME_ENTRY_COMMANDS = "log-commands"
"""The group that applies commands on time entries. Named when log commands were all the topic carried;
a new name would be a new group, which would read (and apply) every command on the topic again."""
CONTRACT_VIEW = "contract-view"
CALENDAR_VIEW = "calendar-view"
BILL_VIEW = "bill-view"

SERVICE_ACTOR = "timetracking"
"""Who signs what timetracking does of its own accord, such as attaching entries to a new contract."""


def register(consumers: Consumers, units: UnitsOfWork[TimeTrackingUnitOfWork], clock: Clock) -> None:
    async def on_time_entry_commands(deliveries: Sequence[Delivery]) -> None:
        for logs, run in groupby(deliveries, key=lambda delivery: _is_log(delivery)):
            if logs:
                await log_entries(list(run))
            else:
                await apply_commands(units.write, list(run), apply=apply_command, reject=reject_command)

    async def log_entries(deliveries: Sequence[Delivery]) -> None:
        # One unit of work for the run: entries are checked together and inserted in bulk.
        # A rejection is a reply, not a failure, so it does not undo the others of the run.
        async with units.write() as uow:
            requests = [
                request
                for delivery in await uow.unprocessed(deliveries)
                for request in _log_requests(delivery)
            ]
            outcomes = await handlers.log_time_entries(uow, requests, now=clock())
            for request, outcome in zip(requests, outcomes, strict=True):
                if isinstance(outcome, DomainError):
                    _reject_log(uow, request, outcome)

    async def apply_command(uow: TimeTrackingUnitOfWork, delivery: Delivery) -> None:
        origin, now = Origin.of_message(delivery.event), clock()
        match delivery.body:
            case EditTimeEntry() as command:
                await handlers.edit_time_entry(uow, wire.edit_command(command), origin=origin, now=now)
            case DeleteTimeEntry() as command:
                await handlers.delete_time_entry(uow, wire.delete_command(command), origin=origin, now=now)
            case MarkTimeEntriesBillable() as command:
                marking = wire.billable_marking(command)
                marked = await handlers.mark_time_entries_billable(uow, marking, origin=origin, now=now)
                uow.publish(
                    wire.time_entries_marked(
                        command.account_id,
                        command.billable,
                        [entry.entry_id for entry in marked.changed],
                        marked.refused,
                    ),
                    key=command.account_id,
                    subject=wire.time_entries_subject(command.account_id),
                    origin=origin,
                )
            case other:
                raise TypeError(f"{type(other).__name__} is not a command on time entries")

    async def on_contract_events(deliveries: Sequence[Delivery]) -> None:
        async with units.write() as uow:
            for delivery in await uow.unprocessed(deliveries):
                origin = Origin(SERVICE_ACTOR, cause=delivery.event)
                # Notices and command rejections say nothing new of a contract: they are let by.
                match delivery.body:
                    case ContractDeleted(contract_id=contract_id):
                        await views.forget_contract(uow, contract_id)
                    case ContractRenewed(contract=renewed, new_contract=renewal):
                        await views.keep_contracts(
                            uow,
                            [wire.announced_contract(renewed), wire.announced_contract(renewal)],
                            origin=origin,
                            now=clock(),
                        )
                    case (
                        ContractCreated(contract=state)
                        | ContractUpdated(contract=state)
                        | ContractStatusChanged(contract=state)
                        | ContractTerminated(contract=state)
                        | ContractToppedUp(contract=state)
                    ):
                        await views.keep_contracts(
                            uow, [wire.announced_contract(state)], origin=origin, now=clock()
                        )

    async def on_calendar_events(deliveries: Sequence[Delivery]) -> None:
        async with units.write() as uow:
            fresh = await uow.unprocessed(deliveries)
            await views.keep_calendars(
                uow,
                [delivery.body.calendar for delivery in fresh if isinstance(delivery.body, CalendarSaved)],
            )

    async def on_bill_events(deliveries: Sequence[Delivery]) -> None:
        async with units.write() as uow:
            for delivery in await uow.unprocessed(deliveries):
                match delivery.body:
                    case BillIssued(bill=bill):
                        await views.record_bill_issued(uow, wire.issued_bill(bill))
                    case BillMainChanged() as change:
                        await views.record_main_bill_change(uow, wire.main_bill_change(change))
                    case BillStatusChanged() as change:
                        if (paid := wire.paid_bill(change)) is not None:
                            await views.record_bill_paid(uow, paid)

    consumers.subscribe(registry.TIME_ENTRY_COMMANDS, on_time_entry_commands, name=TIME_ENTRY_COMMANDS)
    consumers.subscribe(registry.BILLS, on_bill_events, name=BILL_VIEW)
    consumers.subscribe(registry.CONTRACTS, on_contract_events, name=CONTRACT_VIEW)
    consumers.subscribe(registry.CALENDARS, on_calendar_events, name=CALENDAR_VIEW)


def _is_log(delivery: Delivery) -> bool:
    return isinstance(delivery.body, LogTimeEntry | LogTimeEntries)


def _log_requests(delivery: Delivery) -> list[handlers.LogRequest]:
    """The entries a log command asks for; each entry of a batch command knows its index in it."""
    origin = Origin.of_message(delivery.event)
    match delivery.body:
        case LogTimeEntry() as command:
            return [handlers.LogRequest(command.entry_id, wire.work_log(command), origin)]
        case LogTimeEntries(account_id=account_id, entries=entries):
            return [
                handlers.LogRequest(
                    entry.entry_id, wire.work_log(entry), origin, index=index, batch_account_id=account_id
                )
                for index, entry in enumerate(entries)
            ]
    raise TypeError(f"{delivery.event.type} is not a command to log time entries")


def _reject_log(uow: TimeTrackingUnitOfWork, request: handlers.LogRequest, error: DomainError) -> None:
    """Answer an entry that could not be logged, so its producer is never left guessing."""
    account_id = request.work.account_id
    cause = request.origin.cause
    uow.publish(
        wire.time_entry_rejected(
            request.entry_id,
            account_id,
            error,
            index=request.index,
            command_type=cause.type if cause is not None else None,
        ),
        key=account_id,
        subject=wire.time_entry_subject(request.entry_id),
        origin=request.origin,
    )


def reject_command(uow: TimeTrackingUnitOfWork, delivery: Delivery, error: DomainError) -> None:
    """Answer an edit, deletion or marking that could not be carried out, naming the rule it broke."""
    match delivery.body:
        case (
            EditTimeEntry(entry_id=entry_id, account_id=account_id)
            | DeleteTimeEntry(entry_id=entry_id, account_id=account_id)
        ):
            subject = wire.time_entry_subject(entry_id)
            rejected = wire.time_entry_rejected(entry_id, account_id, error, command_type=delivery.event.type)
        case MarkTimeEntriesBillable(account_id=account_id):
            subject = wire.time_entries_subject(account_id)
            rejected = wire.time_entry_rejected(None, account_id, error, command_type=delivery.event.type)
        case other:
            raise TypeError(f"{type(other).__name__} is not a command on time entries")
    uow.publish(rejected, key=account_id, subject=subject, origin=Origin.of_message(delivery.event))
