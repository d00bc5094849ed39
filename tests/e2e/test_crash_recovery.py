"""A service killed mid-flow (SIGKILL, no clean shutdown) loses nothing once it is back."""

from __future__ import annotations

import uuid
from datetime import datetime

import httpx

from contracts_schema import registry
from contracts_schema.timetracking import LogTimeEntry
from tests.e2e.stack import Stack
from tests.support.auth import bearer
from tests.support.kafka import produce_event
from tests.support.scenario import (
    WORKED_EXAMPLE_1_TERMS,
    billing_knows,
    new_account,
    sign_running_contract,
    usage_reaches,
    work_day,
)


async def test_work_logged_while_billing_and_timetracking_are_down_is_billed_after_restart(
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

        stack["billing"].kill()
        response = await client.post(
            f"{stack['timetracking'].url}/time-entries",
            json={
                "request_id": "R1",
                "account_id": account,
                "rep_id": "ann",
                "started_at": work_day(start, 1),
                "duration_minutes": 270,
            },
        )
        assert response.status_code == 201, response.text

        stack["timetracking"].kill()
        for minutes, day in ((180, 3), (225, 4)):
            command = LogTimeEntry(
                entry_id=uuid.uuid4(),
                request_id=f"R{day}",
                account_id=account,
                rep_id="bob",
                started_at=datetime.fromisoformat(work_day(start, day)),
                duration_minutes=minutes,
            )
            await produce_event(kafka_bootstrap, registry.TIME_ENTRY_COMMANDS.name, command, account)

        stack.restart("timetracking")
        stack.restart("billing")

        await usage_reaches(client, stack["billing"].url, contract_id, used=675)
        response = await client.post(
            f"{stack['billing'].url}/contracts/{contract_id}/bills", json={"period": "1"}
        )
        assert response.status_code == 201, response.text
        assert response.json()["total"] == {"amount": "632.50", "currency": "USD"}

        entries = await client.get(
            f"{stack['timetracking'].url}/time-entries", params={"account_id": account}
        )
        assert entries.json()["total"] == 3
