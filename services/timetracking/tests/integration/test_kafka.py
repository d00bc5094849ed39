"""Log commands and other services' events on the real broker, through the running service."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from uuid import UUID

import pytest

from contracts_schema import CloudEvent, registry
from contracts_schema.billing import BillIssued, BillMainChanged
from contracts_schema.contracts import (
    ContractCreated,
    ContractDeleted,
    ContractRenewed,
    ContractScope,
    ContractUpdated,
)
from contracts_schema.timetracking import DeleteTimeEntry, EditTimeEntry, LogTimeEntries
from tests.support.kafka import eventually, find_record, produce

from .conftest import RunningTimeTracking

pytestmark = pytest.mark.kafka

COMMANDS = registry.TIME_ENTRY_COMMANDS
LOGGED = "timetracking.time_entry.logged"
CHANGED = "timetracking.time_entry.changed"
DELETED = "timetracking.time_entry.deleted"
REJECTED = "timetracking.time_entry.rejected"


async def test_a_log_command_is_answered_by_time_entry_logged_caused_by_the_command(
    timetracking, account, make_contract_state, make_log_command
) -> None:
    contract = make_contract_state(account_id=account)
    await timetracking.sign(contract)
    command = make_log_command(account_id=account)

    sent = await timetracking.send(COMMANDS, command, account)

    logged = await timetracking.reply(command.entry_id, LOGGED)
    assert (logged.data["entry"]["contract_id"], logged.data["entry"]["minutes"]) == (
        str(contract.contract_id),
        90,
    )
    assert (logged.actor, logged.causationid, logged.correlationid) == (
        "ops",
        str(sent.id),
        sent.correlationid,
    )
    assert await timetracking.entry(command.entry_id) == logged.data["entry"]


async def test_a_log_command_the_plan_does_not_allow_is_answered_by_time_entry_rejected(
    timetracking, account, make_contract_state, make_log_command
) -> None:
    await timetracking.sign(make_contract_state(account_id=account))
    command = make_log_command(account_id=account, time_taken_minutes=30)

    sent = await timetracking.send(COMMANDS, command, account)

    rejected = await timetracking.reply(command.entry_id, REJECTED)
    assert "override the time taken" in rejected.data["reason"]
    assert (rejected.data["account_id"], rejected.causationid) == (account, str(sent.id))
    assert await timetracking.entry(command.entry_id) is None


async def test_every_command_of_a_batch_gets_its_own_answer_signed_by_its_own_origin(
    timetracking, account, make_log_command
) -> None:
    accepted = [make_log_command(account_id=account) for _ in range(4)]
    refused = [make_log_command(account_id=account, ended_at=None, duration_minutes=0) for _ in range(2)]

    sent = await asyncio.gather(*(timetracking.send(COMMANDS, c, account) for c in accepted + refused))

    answers = await asyncio.gather(
        *(timetracking.reply(c.entry_id, LOGGED) for c in accepted),
        *(timetracking.reply(c.entry_id, REJECTED) for c in refused),
    )
    assert [answer.causationid for answer in answers] == [str(event.id) for event in sent]


async def test_a_redelivered_log_command_is_applied_and_answered_once(
    timetracking, account, make_log_command
) -> None:
    command = make_log_command(account_id=account)
    sent = await timetracking.send(COMMANDS, command, account)
    await produce(timetracking.kafka, COMMANDS.name, sent.to_json(), account)  # the same message again
    after = make_log_command(account_id=account)
    await timetracking.send(COMMANDS, after, account)  # same key, same partition: read after the copy

    await eventually(lambda: timetracking.entry(after.entry_id))

    answers = [e for e in await timetracking.published(account) if e.causationid == str(sent.id)]
    assert [answer.type for answer in answers] == [LOGGED]


async def test_a_command_for_a_logged_entry_with_other_values_is_rejected_and_changes_nothing(
    timetracking, account, make_log_command
) -> None:
    command = make_log_command(account_id=account)
    await timetracking.send(COMMANDS, command, account)
    logged = await timetracking.reply(command.entry_id, LOGGED)

    await timetracking.send(COMMANDS, command.model_copy(update={"billable": False}), account)

    rejected = await timetracking.reply(command.entry_id, REJECTED)
    assert "already exists" in rejected.data["reason"]
    assert await timetracking.entry(command.entry_id) == logged.data["entry"]


async def test_a_malformed_log_command_is_dead_lettered_with_the_reason(
    timetracking, account, make_log_command
) -> None:
    valid = CloudEvent.wrap(
        make_log_command(account_id=account), source="tests", subject=account, actor="ops"
    )
    both_end_and_duration = valid.model_copy(update={"data": {**valid.data, "duration_minutes": 30}})

    await produce(timetracking.kafka, COMMANDS.name, both_end_and_duration.to_json(), account)

    dead = await find_record(
        timetracking.kafka,
        COMMANDS.dlq,
        lambda record: (
            record.key == account
            and record.headers.get("dlq-consumer") == f"{timetracking.name}.log-commands"
        ),
    )
    assert "exactly one of ended_at or duration_minutes" in dead.headers["dlq-reason"]
    assert dead.json()["id"] == str(valid.id)


async def test_a_contract_event_builds_the_read_model_that_attaches_entries_in_its_scope(
    timetracking, account, make_contract_state, make_log_command
) -> None:
    printers = make_contract_state(
        account_id=account, scope=ContractScope(all_products=False, products=["printer"])
    )
    await timetracking.sign(printers)
    printer = make_log_command(account_id=account, product="printer")
    router = make_log_command(account_id=account, product="router")

    for command in (printer, router):
        await timetracking.send(COMMANDS, command, account)

    assert (await timetracking.reply(printer.entry_id, LOGGED)).data["entry"]["contract_id"] == str(
        printers.contract_id
    )
    assert (await timetracking.reply(router.entry_id, LOGGED)).data["entry"]["contract_id"] is None


async def test_an_entry_logged_before_its_contract_is_attached_when_the_contract_arrives(
    timetracking, account, make_contract_state, make_log_command
) -> None:
    command = make_log_command(account_id=account)
    await timetracking.send(COMMANDS, command, account)
    assert (await timetracking.reply(command.entry_id, LOGGED)).data["entry"]["contract_id"] is None
    contract = make_contract_state(account_id=account)

    created = await timetracking.sign(contract)

    changed = await timetracking.reply(command.entry_id, CHANGED)
    entry, previous = changed.data["entry"], changed.data["previous"]
    assert (entry["contract_id"], entry["version"]) == (str(contract.contract_id), 2)
    assert (previous["contract_id"], previous["version"]) == (None, 1)
    assert changed.data["reason"] == f"covered by contract {contract.contract_number}"
    assert (changed.actor, changed.causationid) == ("timetracking", str(created.id))
    assert await timetracking.entry(command.entry_id) == entry


async def test_a_renewal_keeps_both_contracts_and_entries_go_to_the_one_of_their_day(
    timetracking, account, make_contract_state, make_log_command
) -> None:
    old = make_contract_state(account_id=account, expiry_date=date(2026, 2, 28))
    new = make_contract_state(account_id=account, start_date=date(2026, 3, 1), renewed_from=old.contract_id)
    renewed = ContractRenewed(
        contract=old.model_copy(update={"renewed_to": new.contract_id, "version": 2}),
        new_contract=new,
        renewed_at=datetime(2026, 2, 1, 12, tzinfo=UTC),
    )
    await timetracking.send(registry.CONTRACTS, renewed, str(old.contract_id))
    await eventually(lambda: timetracking.keeps(renewed.contract))
    await eventually(lambda: timetracking.keeps(new))
    command = make_log_command(account_id=account)  # 2 March: the new contract's first day

    await timetracking.send(COMMANDS, command, account)

    logged = await timetracking.reply(command.entry_id, LOGGED)
    assert logged.data["entry"]["contract_id"] == str(new.contract_id)


async def test_an_older_version_of_a_contract_arriving_late_is_ignored(
    timetracking, account, make_contract_state
) -> None:
    contract = make_contract_state(account_id=account)
    shortened = contract.model_copy(update={"expiry_date": date(2026, 6, 30), "version": 2})
    key = str(contract.contract_id)
    await timetracking.send(
        registry.CONTRACTS, ContractUpdated(contract=shortened, changed_fields=["expiry_date"]), key
    )
    await eventually(lambda: timetracking.keeps(shortened))

    await timetracking.send(registry.CONTRACTS, ContractCreated(contract=contract), key)
    marker = make_contract_state(
        account_id=account, start_date=date(2027, 1, 1), expiry_date=date(2027, 12, 31)
    )
    await timetracking.send(registry.CONTRACTS, ContractCreated(contract=marker), key)  # read after it
    await eventually(lambda: timetracking.keeps(marker))

    assert await timetracking.keeps(shortened)
    assert not await timetracking.keeps(contract)


async def test_a_deleted_contract_covers_no_entry_logged_after(
    timetracking, account, make_contract_state, make_log_command
) -> None:
    contract = make_contract_state(account_id=account)
    await timetracking.sign(contract)
    key = str(contract.contract_id)

    await timetracking.send(
        registry.CONTRACTS, ContractDeleted(contract_id=contract.contract_id, account_id=account), key
    )
    await eventually(lambda: timetracking.forgot(contract))
    command = make_log_command(account_id=account)
    await timetracking.send(COMMANDS, command, account)

    assert (await timetracking.reply(command.entry_id, LOGGED)).data["entry"]["contract_id"] is None


async def test_a_main_bill_issued_marks_the_entries_it_includes_billed(
    timetracking, account, make_log_command, make_bill
) -> None:
    included, left_out = make_log_command(account_id=account), make_log_command(account_id=account)
    for command in (included, left_out):
        await timetracking.log(command)
    bill = make_bill(account_id=account, time_entry_ids=[included.entry_id])

    await timetracking.send(registry.BILLS, BillIssued(bill=bill), str(bill.contract_id))

    await eventually(lambda: _billed(timetracking, included.entry_id))
    assert not await _billed(timetracking, left_out.entry_id)


async def test_a_bill_that_is_not_main_leaves_its_entries_unbilled(
    timetracking, account, make_log_command, make_bill
) -> None:
    in_other_version, in_main = make_log_command(account_id=account), make_log_command(account_id=account)
    for command in (in_other_version, in_main):
        await timetracking.log(command)
    other_version = make_bill(account_id=account, time_entry_ids=[in_other_version.entry_id], is_main=False)
    main = make_bill(
        account_id=account, contract_id=other_version.contract_id, time_entry_ids=[in_main.entry_id]
    )
    key = str(other_version.contract_id)

    await timetracking.send(registry.BILLS, BillIssued(bill=other_version), key)
    await timetracking.send(registry.BILLS, BillIssued(bill=main), key)  # same key: read after it

    await eventually(lambda: _billed(timetracking, in_main.entry_id))
    assert not await _billed(timetracking, in_other_version.entry_id)


async def test_entries_follow_their_periods_main_bill_when_it_changes_or_is_voided(
    timetracking, account, make_log_command, make_bill
) -> None:
    both, only_old, only_new = (make_log_command(account_id=account) for _ in range(3))
    for command in (both, only_old, only_new):
        await timetracking.log(command)
    old = make_bill(account_id=account, time_entry_ids=[both.entry_id, only_old.entry_id])
    new = make_bill(
        account_id=account,
        contract_id=old.contract_id,
        time_entry_ids=[both.entry_id, only_new.entry_id],
        bill_number="B-0001-v2",
        version=2,
    )
    key = str(old.contract_id)
    await timetracking.send(registry.BILLS, BillIssued(bill=old), key)
    await eventually(lambda: _billed(timetracking, only_old.entry_id))

    swap = BillMainChanged(contract_id=old.contract_id, period="3", main=new, previous_main=old)
    await timetracking.send(registry.BILLS, swap, key)

    await eventually(lambda: _billed(timetracking, only_new.entry_id))
    assert await _billed(timetracking, both.entry_id)
    assert not await _billed(timetracking, only_old.entry_id)

    voided = BillMainChanged(contract_id=old.contract_id, period="3", main=None, previous_main=new)
    await timetracking.send(registry.BILLS, voided, key)

    await eventually(lambda: _not_billed(timetracking, only_new.entry_id))
    assert not await _billed(timetracking, both.entry_id)


async def _not_billed(timetracking: RunningTimeTracking, entry_id: UUID) -> bool:
    return not await _billed(timetracking, entry_id)


async def _billed(timetracking: RunningTimeTracking, entry_id: UUID) -> bool:
    entry = await timetracking.entry(entry_id)
    return entry is not None and entry["billed"]


# --- commands that change entries ---------------------------------------------------------------------


async def test_an_edit_command_is_answered_by_time_entry_changed_caused_by_it(
    timetracking, account, make_log_command
) -> None:
    command = make_log_command(account_id=account)
    await timetracking.log(command)
    edit = EditTimeEntry(
        entry_id=command.entry_id, account_id=account, duration_minutes=30, rate_type="remote"
    )

    sent = await timetracking.send(COMMANDS, edit, account)

    (changed,) = await timetracking.answers(sent, account)
    assert (changed.type, changed.actor) == (CHANGED, "ops")
    assert (changed.data["entry"]["minutes"], changed.data["entry"]["rate_type"]) == (30, "remote")
    assert (changed.data["previous"]["minutes"], changed.data["entry"]["version"]) == (90, 2)
    assert await timetracking.entry(command.entry_id) == changed.data["entry"]


async def test_an_edit_of_a_billed_entry_without_a_reason_is_rejected_naming_the_rule(
    timetracking, account, make_log_command
) -> None:
    command = make_log_command(account_id=account)
    logged = await timetracking.log(command)
    await timetracking.bill(account, [command.entry_id])

    sent = await timetracking.send(
        COMMANDS, EditTimeEntry(entry_id=command.entry_id, account_id=account, duration_minutes=30), account
    )

    (rejected,) = await timetracking.answers(sent, account)
    assert rejected.type == REJECTED
    assert (rejected.data["entry_id"], rejected.data["error"]) == (str(command.entry_id), "ReasonRequired")
    assert rejected.data["command_type"] == "timetracking.time_entry.edit"
    assert (await timetracking.entry(command.entry_id))["minutes"] == logged["minutes"]


async def test_a_command_on_an_entry_of_another_account_is_rejected_as_not_found(
    timetracking, account, make_log_command
) -> None:
    command = make_log_command(account_id=account)
    await timetracking.log(command)

    sent = await timetracking.send(
        COMMANDS, DeleteTimeEntry(entry_id=command.entry_id, account_id="someone-else"), account
    )

    (rejected,) = await timetracking.answers(sent, "someone-else")  # the reply is of the command's account
    assert (rejected.type, rejected.data["error"]) == (REJECTED, "TimeEntryNotFound")
    assert not (await timetracking.entry(command.entry_id))["deleted"]


async def test_a_delete_command_is_answered_by_time_entry_deleted_with_its_reason(
    timetracking, account, make_log_command
) -> None:
    command = make_log_command(account_id=account)
    await timetracking.log(command)
    await timetracking.bill(account, [command.entry_id])

    sent = await timetracking.send(
        COMMANDS, DeleteTimeEntry(entry_id=command.entry_id, account_id=account, reason="duplicate"), account
    )

    (deleted,) = await timetracking.answers(sent, account)
    assert (deleted.type, deleted.data["reason"]) == (DELETED, "duplicate")
    assert (deleted.data["entry"]["deleted"], deleted.data["entry"]["billed"]) == (True, True)


async def test_commands_on_one_account_are_applied_in_the_order_they_were_sent(
    timetracking, account, make_log_command
) -> None:
    command = make_log_command(account_id=account)
    edit = EditTimeEntry(entry_id=command.entry_id, account_id=account, description="first edit")
    delete = DeleteTimeEntry(entry_id=command.entry_id, account_id=account)

    for message in (command, edit, delete):  # one key, one partition: read in this order
        await timetracking.send(COMMANDS, message, account)

    deleted = await timetracking.reply(command.entry_id, DELETED)
    assert (deleted.data["entry"]["description"], deleted.data["entry"]["version"]) == ("first edit", 3)
    assert [event.type for event in await timetracking.published(account)] == [LOGGED, CHANGED, DELETED]


async def test_bad_input_in_a_command_is_answered_by_a_rejection_naming_the_rule(
    timetracking, account, make_log_command
) -> None:
    zero = make_log_command(account_id=account, ended_at=None, duration_minutes=0)
    old = make_log_command(
        account_id=account,
        started_at=datetime(1999, 6, 1, 9, tzinfo=UTC),
        ended_at=datetime(1999, 6, 1, 10, tzinfo=UTC),
    )
    for command in (zero, old):
        await timetracking.send(COMMANDS, command, account)

    assert (await timetracking.reply(zero.entry_id, REJECTED)).data["error"] == "InvalidSpan"
    assert (await timetracking.reply(old.entry_id, REJECTED)).data["error"] == "StartOutOfRange"
    assert await timetracking.entry(zero.entry_id) is None


# --- a contract that arrives after the entries it covers ----------------------------------------------


async def test_an_override_logged_before_its_contract_is_attached_when_the_plan_allows_it(
    timetracking, account, make_contract_state, make_plan_terms, make_log_command
) -> None:
    command = make_log_command(account_id=account, time_taken_minutes=30)
    await timetracking.send(COMMANDS, command, account)
    logged = await timetracking.reply(command.entry_id, LOGGED)
    assert logged.data["entry"]["note"] == "no covering contract known yet"
    contract = make_contract_state(
        account_id=account, terms=make_plan_terms(reps_may_override_time_taken=True)
    )

    await timetracking.sign(contract)

    changed = await timetracking.reply(command.entry_id, CHANGED)
    assert (changed.data["entry"]["contract_id"], changed.data["entry"]["note"]) == (
        str(contract.contract_id),
        None,
    )


async def test_an_entry_a_new_contracts_plan_forbids_is_held_back_saying_why_and_attached_once_edited(
    timetracking, account, make_contract_state, make_log_command
) -> None:
    command = make_log_command(account_id=account, time_taken_minutes=30)
    await timetracking.log(command)
    contract = make_contract_state(account_id=account)  # reps may not override the time taken

    created = await timetracking.sign(contract)

    held, rejected = await timetracking.answers(created, account, count=2)
    note = (
        f"not attached to contract {contract.contract_number}: the contract's plan does not let reps override"
    )
    assert (held.type, held.data["entry"]["contract_id"]) == (CHANGED, None)
    assert held.data["entry"]["note"].startswith(note)
    assert (rejected.type, rejected.data["entry_id"], rejected.data["error"]) == (
        REJECTED,
        str(command.entry_id),
        "PlanForbidsOverride",
    )
    assert rejected.data["reason"] == held.data["entry"]["note"]

    # The contract announced again changes nothing; the rep drops the override and it is attached.
    again = await timetracking.send(
        registry.CONTRACTS,
        ContractUpdated(contract=contract.model_copy(update={"version": 2}), changed_fields=["name"]),
        str(contract.contract_id),
    )
    await eventually(lambda: timetracking.keeps(contract.model_copy(update={"version": 2})))
    assert [e for e in await timetracking.published(account) if e.causationid == str(again.id)] == []
    response = await timetracking.api.patch(
        f"/time-entries/{command.entry_id}", json={"time_taken_minutes": None}
    )
    attached = response.json()
    assert (attached["contract_id"], attached["minutes"], attached["note"]) == (
        str(contract.contract_id),
        90,
        None,
    )


# --- periods a paid bill closed -----------------------------------------------------------------------

MARCH = (datetime(2026, 3, 1, 5, tzinfo=UTC), datetime(2026, 4, 1, 4, tzinfo=UTC))
"""The March cycle of a contract in New York: what its paid bill carries."""
FEBRUARY_27 = {
    "started_at": datetime(2026, 2, 27, 14, tzinfo=UTC),
    "ended_at": datetime(2026, 2, 27, 15, 30, tzinfo=UTC),
}


async def test_a_log_command_for_a_period_whose_main_bill_is_paid_is_rejected_naming_the_rule(
    timetracking, account, make_contract_state, make_log_command
) -> None:
    contract = make_contract_state(account_id=account)
    await timetracking.sign(contract)
    await timetracking.close_period(contract, *MARCH)
    command = make_log_command(account_id=account)

    sent = await timetracking.send(COMMANDS, command, account)

    (rejected,) = await timetracking.answers(sent, account)
    assert (rejected.type, rejected.data["error"], rejected.data["entry_id"]) == (
        REJECTED,
        "PeriodClosed",
        str(command.entry_id),
    )
    assert rejected.data["reason"].endswith("log it in an open period")
    assert await timetracking.entry(command.entry_id) is None


async def test_a_batch_command_logs_open_periods_time_and_rejects_a_closed_periods_by_index(
    timetracking, account, make_contract_state, make_log_command
) -> None:
    contract = make_contract_state(account_id=account)
    await timetracking.sign(contract)
    await timetracking.close_period(contract, *MARCH)
    in_february = make_log_command(account_id=account, **FEBRUARY_27)
    in_march = make_log_command(account_id=account)

    sent = await timetracking.send(
        COMMANDS, LogTimeEntries(account_id=account, entries=[in_march, in_february]), account
    )

    answers = await timetracking.answers(sent, account, count=2)
    logged = next(event for event in answers if event.type == LOGGED)
    rejected = next(event for event in answers if event.type == REJECTED)
    assert logged.data["entry"]["entry_id"] == str(in_february.entry_id)
    assert (rejected.data["index"], rejected.data["error"]) == (0, "PeriodClosed")
    assert await timetracking.entry(in_march.entry_id) is None


async def test_an_edit_command_that_moves_an_entry_into_a_closed_period_is_rejected(
    timetracking, account, make_contract_state, make_log_command
) -> None:
    contract = make_contract_state(account_id=account)
    await timetracking.sign(contract)
    command = make_log_command(account_id=account, **FEBRUARY_27)
    logged = await timetracking.log(command)
    await timetracking.close_period(contract, *MARCH)
    edit = EditTimeEntry(
        entry_id=command.entry_id,
        account_id=account,
        started_at=datetime(2026, 3, 2, 14, tzinfo=UTC),
        ended_at=datetime(2026, 3, 2, 15, tzinfo=UTC),
    )

    sent = await timetracking.send(COMMANDS, edit, account)

    (rejected,) = await timetracking.answers(sent, account)
    assert (rejected.type, rejected.data["error"]) == (REJECTED, "PeriodClosed")
    assert await timetracking.entry(command.entry_id) == logged


async def test_time_logged_before_its_contract_is_known_is_accepted_and_attached_even_in_a_closed_period(
    timetracking, account, make_contract_state, make_log_command
) -> None:
    """Nothing could refuse it when it was logged; once attached, billing flags the paid bill, so the
    time is seen rather than dropped."""
    contract = make_contract_state(account_id=account)
    await timetracking.close_period(contract, *MARCH)
    command = make_log_command(account_id=account)
    await timetracking.send(COMMANDS, command, account)
    assert (await timetracking.reply(command.entry_id, LOGGED)).data["entry"]["contract_id"] is None

    await timetracking.sign(contract)

    changed = await timetracking.reply(command.entry_id, CHANGED)
    assert changed.data["entry"]["contract_id"] == str(contract.contract_id)
