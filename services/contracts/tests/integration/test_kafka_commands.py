"""Contract commands and other services' events on the real broker, through the running service."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import RecordMetadata

from contracts_schema import CloudEvent, WireModel, registry
from contracts_schema.billing import AllowanceExhausted, AllowanceRestored
from contracts_schema.contracts import TerminateContract, TopUpContract
from contracts_schema.timetracking import TimeEntryLogged, TimeEntryState
from services.contracts.tests.builders import create_command

pytestmark = pytest.mark.kafka

REJECTED = "contracts.contract.command_rejected"


async def _send(setup, body: WireModel, topic: str, key: str, event: CloudEvent | None = None) -> CloudEvent:
    event = event or CloudEvent.wrap(body, source="integration-test", subject=f"contract/{key}", actor="ops")
    await _publish(setup, event, topic, key)
    return event


async def _publish(setup, event: CloudEvent, topic: str, key: str) -> RecordMetadata:
    """Send the event as it is, and say where it landed."""
    return await setup.contracts.service.broker.publish(event.to_json(), topic=topic, key=key.encode())


async def _read_past(setup, subscriber: str, record: RecordMetadata) -> bool:
    """The service's subscriber has committed its offset past the record: it is done with it."""
    admin = AIOKafkaAdminClient(bootstrap_servers=setup.contracts.settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(setup.contracts.service.consumers.group(subscriber))
    finally:
        await admin.close()
    committed = offsets.get(TopicPartition(record.topic, record.partition))
    return committed is not None and committed.offset > record.offset


async def _contract(setup, contract_id) -> dict | None:
    response = await setup.api.get(f"/contracts/{contract_id}")
    return response.json() if response.status_code == 200 else None


async def test_a_create_command_signs_the_contract_and_answers_with_contract_created(
    setup, account_id
) -> None:
    command = create_command(account_id, await setup.plan())

    sent = await _send(setup, command, registry.CONTRACT_COMMANDS.name, str(command.contract_id))

    contract = await setup.eventually(lambda: _contract(setup, command.contract_id))
    assert contract["account_id"] == account_id
    [created] = await setup.published(str(command.contract_id), "contracts.contract.created")
    assert (created.causationid, created.actor) == (str(sent.id), "ops")


async def test_a_redelivered_command_is_applied_once(setup, account_id) -> None:
    command = create_command(account_id, await setup.plan())
    topic, key = registry.CONTRACT_COMMANDS.name, str(command.contract_id)

    sent = await _send(setup, command, topic, key)
    redelivered = await _publish(setup, sent, topic, key)

    await setup.eventually(lambda: _contract(setup, command.contract_id))
    await setup.eventually(lambda: _read_past(setup, "contract-commands", redelivered))
    assert len(await setup.published(key, "contracts.contract.created")) == 1
    assert await setup.published(key, REJECTED) == []


async def test_a_command_that_breaks_a_rule_gets_a_rejection_on_the_contracts_topic(
    setup, account_id
) -> None:
    plan_id = await setup.plan()
    signed = await setup.contract(account_id, plan_id)
    command = create_command(account_id, plan_id)  # overlaps the signed contract
    consumer = AIOKafkaConsumer(bootstrap_servers=setup.contracts.settings.kafka_bootstrap_servers)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(registry.CONTRACTS.name, p) for p in range(registry.CONTRACTS.partitions)
        ]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for partition in partitions:
            await consumer.position(partition)

        sent = await _send(setup, command, registry.CONTRACT_COMMANDS.name, str(command.contract_id))

        async def rejection_on_the_wire() -> CloudEvent | None:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    event = CloudEvent.model_validate_json(record.value)
                    if event.type == REJECTED and event.causationid == str(sent.id):
                        return event
            return None

        rejection = await setup.eventually(rejection_on_the_wire)
    finally:
        await consumer.stop()

    assert rejection.data["error"] == "OverlappingContract"
    assert signed["contract_number"] in rejection.data["reason"]
    assert rejection.data["command_id"] == str(sent.id)
    assert await _contract(setup, command.contract_id) is None


async def test_top_up_and_terminate_commands_apply_the_same_rules_as_rest(setup, account_id) -> None:
    top_up_plan_id = await setup.top_up_plan()
    contract = await setup.contract(account_id, await setup.plan([top_up_plan_id]))
    contract_id = uuid.UUID(contract["contract_id"])
    topic, key = registry.CONTRACT_COMMANDS.name, str(contract_id)

    await _send(
        setup, TopUpContract(contract_id=contract_id, top_up_plan_id=uuid.UUID(top_up_plan_id)), topic, key
    )
    await _send(setup, TerminateContract(contract_id=contract_id, reason="customer left"), topic, key)
    await setup.eventually(lambda: setup.published(key, "contracts.contract.terminated"))

    [topped_up] = await setup.published(key, "contracts.contract.topped_up")
    assert topped_up.data["units"] == 5
    terminated = await setup.ok(await setup.api.get(f"/contracts/{contract_id}"))
    assert terminated["termination_date"] == "2026-03-10"


async def test_a_time_entry_logged_against_a_contract_blocks_its_deletion(setup, account_id) -> None:
    contract = await setup.contract(account_id, await setup.plan())
    entry = TimeEntryState(
        entry_id=uuid.uuid4(),
        account_id=account_id,
        contract_id=uuid.UUID(contract["contract_id"]),
        request_id="REQ-1",
        rep_id="rep-1",
        started_at=datetime(2026, 3, 10, 9, tzinfo=UTC),
        minutes=30,
        billable=True,
        include_non_operational=True,
        version=1,
    )

    await _send(setup, TimeEntryLogged(entry=entry), registry.TIME_ENTRIES.name, account_id)

    async def activity_known() -> bool:
        async with setup.contracts.read() as uow:
            return (await uow.activity.get(uuid.UUID(contract["contract_id"]))).has_time_entries

    await setup.eventually(activity_known)
    response = await setup.api.delete(f"/contracts/{contract['contract_id']}")
    assert response.status_code == 409
    assert "time entries were logged against it" in response.json()["detail"]


async def test_billings_exhausted_event_makes_coverage_say_not_covered(setup, account_id) -> None:
    plan_id = await setup.plan(when_exhausted="block", overage_rate_kind=None, overage_rate=None)
    contract = await setup.contract(account_id, plan_id)
    exhausted = AllowanceExhausted(
        contract_id=uuid.UUID(contract["contract_id"]),
        account_id=account_id,
        cycle_index=3,
        exhausted_at=datetime(2026, 3, 9, tzinfo=UTC),
    )

    await _send(setup, exhausted, registry.USAGE.name, contract["contract_id"])

    async def not_covered() -> bool:
        answer = await setup.ok(await setup.api.get("/coverage", params={"account_id": account_id}))
        return answer["work_covered"] is False

    await setup.eventually(not_covered)

    restored = AllowanceRestored(
        contract_id=exhausted.contract_id,
        account_id=account_id,
        cycle_index=3,
        restored_at=datetime(2026, 3, 10, tzinfo=UTC),
        used=540,
        allowance=600,
    )
    await _send(setup, restored, registry.USAGE.name, contract["contract_id"])

    async def covered_again() -> bool:
        answer = await setup.ok(await setup.api.get("/coverage", params={"account_id": account_id}))
        return answer["work_covered"] is True

    await setup.eventually(covered_again)
