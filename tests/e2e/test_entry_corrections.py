"""Correcting billed time across the services: an entry logged by a Kafka command is billed by a main
bill; an edit without a reason is refused, one with a reason is announced, and billing flags the bill
that billed it for regeneration; the audit trail keeps who changed what, when and why."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx

from contracts_schema import CloudEvent, registry
from contracts_schema.timetracking import EditTimeEntry, LogTimeEntry
from tests.e2e.stack import Stack
from tests.support.auth import bearer
from tests.support.kafka import eventually, find_record, produce_event
from tests.support.scenario import (
    WORKED_EXAMPLE_1_TERMS,
    billing_knows,
    created,
    new_account,
    sign_running_contract,
    usage_reaches,
    work_day,
)

COMMANDS = registry.TIME_ENTRY_COMMANDS.name


async def _answer(kafka_bootstrap: str, command: CloudEvent) -> dict[str, Any]:
    """Timetracking's answer to a command, read from its topic."""
    record = await find_record(
        kafka_bootstrap,
        registry.TIME_ENTRIES.name,
        lambda r: r.json().get("causationid") == str(command.id),
        timeout=30,
    )
    answer: dict[str, Any] = record.json()
    return answer


async def test_a_billed_entry_edited_by_command_with_a_reason_flags_the_main_bill_that_billed_it(
    stack: Stack, kafka_bootstrap: str
) -> None:
    contracts, billing, timetracking = (stack[name].url for name in ("contracts", "billing", "timetracking"))
    account = new_account()
    async with httpx.AsyncClient(timeout=20, headers=bearer()) as client:
        contract, start = await sign_running_contract(
            client, contracts, account_id=account, terms=WORKED_EXAMPLE_1_TERMS, tax_percent="10"
        )
        contract_id = contract["contract_id"]
        await billing_knows(client, billing, contract_id)

        # Logged by a command: worked example 1's 11 h 15 min.
        entry_id = uuid.uuid4()
        log = LogTimeEntry(
            entry_id=entry_id,
            request_id="REQ-1",
            account_id=account,
            rep_id="ann",
            started_at=datetime.fromisoformat(work_day(start, 1, hour=9)),
            duration_minutes=675,
        )
        logged = await _answer(kafka_bootstrap, await produce_event(kafka_bootstrap, COMMANDS, log, account))
        assert logged["type"] == "timetracking.time_entry.logged"
        assert logged["data"]["entry"]["contract_id"] == contract_id
        await usage_reaches(client, billing, contract_id, used=675)

        # Billed by a main bill.
        bill = await created(
            await client.post(f"{billing}/contracts/{contract_id}/bills", json={"period": "1"})
        )
        assert (bill["is_main"], bill["total"]["amount"], bill["time_entry_ids"]) == (
            True,
            "632.50",
            [str(entry_id)],
        )

        async def billed() -> bool:
            entry = (await client.get(f"{timetracking}/time-entries/{entry_id}")).json()
            return bool(entry["billed"])

        await eventually(billed, timeout=30)

        # Edited without a reason: refused, naming the rule; the bill stays as it is.
        without_reason = EditTimeEntry(entry_id=entry_id, account_id=account, duration_minutes=600)
        refused = await _answer(
            kafka_bootstrap, await produce_event(kafka_bootstrap, COMMANDS, without_reason, account)
        )
        assert (refused["type"], refused["data"]["error"]) == (
            "timetracking.time_entry.rejected",
            "ReasonRequired",
        )

        # Edited with a reason: announced, and billing flags the bill.
        reason = "the call ended at 7 pm, not 8:15"
        edit = EditTimeEntry(entry_id=entry_id, account_id=account, duration_minutes=600, reason=reason)
        changed = await _answer(
            kafka_bootstrap, await produce_event(kafka_bootstrap, COMMANDS, edit, account, actor="lead")
        )
        assert changed["type"] == "timetracking.time_entry.changed"
        assert (changed["data"]["reason"], changed["data"]["previous"]["minutes"]) == (reason, 675)
        assert (changed["data"]["entry"]["minutes"], changed["data"]["entry"]["billed"]) == (600, True)

        async def flagged() -> dict[str, Any] | None:
            found = (await client.get(f"{billing}/bills/{bill['bill_id']}")).json()
            return found if found["needs_regeneration"] else None

        stale = await eventually(flagged, timeout=30)
        assert stale["regeneration_reasons"] and stale["total"]["amount"] == "632.50"
        reconciliation = (await client.get(f"{billing}/bills/{bill['bill_id']}/reconciliation")).json()
        assert reconciliation["recomputed_total"]["amount"] == "550.00"  # 600 minutes: no overage left

        audit = (await client.get(f"{timetracking}/time-entries/{entry_id}/audit")).json()
        assert [(r["action"], r["actor"], r["reason"]) for r in audit] == [
            ("logged", "test", None),
            ("edited", "lead", reason),
        ]
