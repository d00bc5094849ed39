"""Time logged before the contract's events reach timetracking is attached once they do, and billed."""

from __future__ import annotations

import httpx

from tests.e2e.stack import Stack
from tests.support.auth import bearer
from tests.support.kafka import eventually
from tests.support.scenario import (
    WORKED_EXAMPLE_1_TERMS,
    current_cycle_dates,
    new_account,
    sign_contract,
    usage_reaches,
    work_day,
)


async def test_entries_logged_before_the_contract_existed_are_attached_and_count(stack: Stack) -> None:
    account = new_account()
    start, expiry = current_cycle_dates()
    async with httpx.AsyncClient(timeout=10, headers=bearer()) as client:
        for day, minutes in ((1, 270), (2, 180), (3, 225)):
            response = await client.post(
                f"{stack['timetracking'].url}/time-entries",
                json={
                    "request_id": f"R{day}",
                    "account_id": account,
                    "rep_id": "ann",
                    "started_at": work_day(start, day),
                    "duration_minutes": minutes,
                },
            )
            assert response.status_code == 201 and response.json()["contract_id"] is None

        contract = await sign_contract(
            client,
            stack["contracts"].url,
            account_id=account,
            terms=WORKED_EXAMPLE_1_TERMS,
            start_date=start.isoformat(),
            expiry_date=expiry.isoformat(),
            tax_percent="10",
        )
        await usage_reaches(client, stack["billing"].url, contract["contract_id"], used=675)

        async def all_attached() -> bool:
            listed = await client.get(
                f"{stack['timetracking'].url}/time-entries", params={"account_id": account}
            )
            return all(entry["contract_id"] == contract["contract_id"] for entry in listed.json()["items"])

        await eventually(all_attached)
        response = await client.post(
            f"{stack['billing'].url}/contracts/{contract['contract_id']}/bills", json={"period": "1"}
        )
    assert response.json()["total"] == {"amount": "632.50", "currency": "USD"}
