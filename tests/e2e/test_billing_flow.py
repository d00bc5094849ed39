"""The first flow end to end, on the real broker with the three services as real processes:
plan and contract in contracts -> billing's copy; time entries over REST and as a Kafka command ->
billing's usage; an on-demand bill with PRODUCT.md's worked example 1 figures and its event."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from contracts_schema import registry
from contracts_schema.timetracking import LogTimeEntry
from tests.e2e.stack import Stack
from tests.support.auth import bearer
from tests.support.kafka import eventually, find_record, produce, produce_event
from tests.support.scenario import (
    WORKED_EXAMPLE_1_TERMS,
    billing_knows,
    new_account,
    sign_running_contract,
    usage_reaches,
    work_day,
)


def money(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "USD"}


async def test_a_postpaid_cycle_is_billed_from_time_logged_over_rest_and_kafka(
    stack: Stack, kafka_bootstrap: str
) -> None:
    account = new_account()
    async with httpx.AsyncClient(timeout=10, headers=bearer()) as client:
        contract, start = await sign_running_contract(
            client,
            stack["contracts"].url,
            account_id=account,
            terms=WORKED_EXAMPLE_1_TERMS,
            tax_percent="10",
        )
        contract_id = contract["contract_id"]
        await billing_knows(client, stack["billing"].url, contract_id)

        for started, minutes in ((work_day(start, 1), 270), (work_day(start, 2), 180)):
            response = await client.post(
                f"{stack['timetracking'].url}/time-entries",
                json={
                    "request_id": f"R-{minutes}",
                    "account_id": account,
                    "rep_id": "ann",
                    "started_at": started,
                    "duration_minutes": minutes,
                },
            )
            assert response.status_code == 201, response.text
            assert response.json()["contract_id"] == contract_id

        command = LogTimeEntry(
            entry_id=uuid.uuid4(),
            request_id="R-kafka",
            account_id=account,
            rep_id="bob",
            started_at=datetime.fromisoformat(work_day(start, 3)),
            ended_at=datetime.fromisoformat(work_day(start, 3)) + timedelta(minutes=225, seconds=59),
        )
        sent = await produce_event(kafka_bootstrap, registry.TIME_ENTRY_COMMANDS.name, command, account)
        reply = await find_record(
            kafka_bootstrap, registry.TIME_ENTRIES.name, lambda r: r.json().get("causationid") == str(sent.id)
        )
        assert reply.json()["type"] == "timetracking.time_entry.logged"
        assert reply.json()["data"]["entry"]["minutes"] == 225
        assert reply.key == account
        # The entry id makes the command idempotent: sent again, it is answered and not logged twice.
        again = await produce_event(kafka_bootstrap, registry.TIME_ENTRY_COMMANDS.name, command, account)
        second = await find_record(
            kafka_bootstrap,
            registry.TIME_ENTRIES.name,
            lambda r: r.json().get("causationid") == str(again.id),
        )
        assert second.json()["data"]["entry"]["entry_id"] == str(command.entry_id)

        usage = await usage_reaches(client, stack["billing"].url, contract_id, used=675)
        assert (usage["allowance_total"], usage["remaining"], usage["overage"]) == (600, -75, 75)
        exhausted = await find_record(
            kafka_bootstrap,
            registry.USAGE.name,
            lambda r: r.key == contract_id and r.json()["type"] == "billing.usage.allowance_exhausted",
        )
        assert exhausted.json()["data"]["cycle_index"] == 1
        full = await find_record(
            kafka_bootstrap,
            registry.USAGE.name,
            lambda r: r.key == contract_id and r.json()["data"].get("percent_used") == 100,
        )
        assert full.json()["data"]["used_minutes"] == 675

        response = await client.post(
            f"{stack['billing'].url}/contracts/{contract_id}/bills", json={"period": "1"}
        )
        assert response.status_code == 201, response.text
        bill = response.json()

        async def entries_billed() -> bool:
            listed = await client.get(
                f"{stack['timetracking'].url}/time-entries", params={"account_id": account, "billed": "true"}
            )
            return bool(listed.json()["total"] == 3)

        await eventually(entries_billed)  # the main bill moved its entries from unbilled to billed

    assert [(line["kind"], line["quantity"], line["amount"]) for line in bill["lines"]] == [
        ("base_charge", "1", money("500.00")),
        ("overage", "75", money("75.00")),
    ]
    assert bill["lines"][1]["quantity_display"] == "1:15"
    assert (bill["subtotal"], bill["tax"], bill["total"]) == (
        money("575.00"),
        money("57.50"),
        money("632.50"),
    )
    assert len(bill["time_entry_ids"]) == 3 and str(command.entry_id) in bill["time_entry_ids"]
    assert bill["is_main"] and bill["bill_number"].endswith("-01-v1")

    event = await find_record(
        kafka_bootstrap,
        registry.BILLS.name,
        lambda r: r.json()["data"].get("bill", {}).get("bill_id") == bill["bill_id"],
    )
    assert event.key == contract_id
    assert event.json()["data"]["bill"]["total"] == money("632.50")


async def test_malformed_input_gets_a_clear_answer_and_the_consumer_goes_on(
    stack: Stack, kafka_bootstrap: str
) -> None:
    async with httpx.AsyncClient(timeout=10, headers=bearer()) as client:
        response = await client.post(
            f"{stack['timetracking'].url}/time-entries",
            json={"account_id": "x", "rep_id": "ann", "started_at": "yesterday"},
        )
    assert response.status_code == 422
    problems = {tuple(item["loc"]) for item in response.json()["errors"]}
    assert ("body", "request_id") in problems and ("body", "started_at") in problems

    marker = uuid.uuid4().hex
    await produce(
        kafka_bootstrap, registry.TIME_ENTRY_COMMANDS.name, f"not json {marker}".encode(), "acct-bad"
    )
    unknown = json.dumps(
        {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "type": "timetracking.nonsense",
            "source": "tests",
            "time": "2026-01-01T00:00:00Z",
            "data": {"marker": marker},
        }
    )
    await produce(kafka_bootstrap, registry.TIME_ENTRY_COMMANDS.name, unknown.encode(), "acct-bad")

    garbage = await find_record(
        kafka_bootstrap,
        registry.TIME_ENTRY_COMMANDS.dlq,
        lambda r: marker.encode() in r.value and r.value.startswith(b"not json"),
    )
    assert garbage.headers["dlq-reason"].startswith("not JSON")
    assert garbage.headers["dlq-original-topic"] == registry.TIME_ENTRY_COMMANDS.name
    wrong_type = await find_record(
        kafka_bootstrap,
        registry.TIME_ENTRY_COMMANDS.dlq,
        lambda r: marker.encode() in r.value and r.value.startswith(b"{"),
    )
    assert "timetracking.nonsense" in wrong_type.headers["dlq-reason"]

    # The consumer went on: a good command after the bad ones is still applied.
    account = new_account()
    command = LogTimeEntry(
        entry_id=uuid.uuid4(),
        request_id="R1",
        account_id=account,
        rep_id="ann",
        started_at=datetime(2026, 2, 1, 9, tzinfo=UTC),
        duration_minutes=30,
    )
    sent = await produce_event(kafka_bootstrap, registry.TIME_ENTRY_COMMANDS.name, command, account)
    await find_record(
        kafka_bootstrap, registry.TIME_ENTRIES.name, lambda r: r.json().get("causationid") == str(sent.id)
    )
