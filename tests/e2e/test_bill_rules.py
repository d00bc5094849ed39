"""Bill rules from plan to bill: a rule on the plan's terms is snapshotted onto the contract, carried to
billing, and prices the time entries that match it on a line of its own."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.stack import Stack
from tests.support.auth import bearer
from tests.support.scenario import (
    WORKED_EXAMPLE_1_TERMS,
    billing_knows,
    created,
    new_account,
    sign_running_contract,
    usage_reaches,
    work_day,
)

ON_SITE_RULE = {
    "name": "On-site work",
    "criteria": [{"field": "work_log_type", "operator": "equals", "values": ["onsite"]}],
    "match": "all",
    "hourly_rate": {"amount": "120.00", "currency": "USD"},
}


async def test_a_plans_bill_rule_prices_matching_entries_on_a_line_of_their_own(stack: Stack) -> None:
    account = new_account()
    async with httpx.AsyncClient(timeout=20, headers=bearer()) as client:
        contract, start = await sign_running_contract(
            client,
            stack["contracts"].url,
            account_id=account,
            terms={**WORKED_EXAMPLE_1_TERMS, "bill_rules": [ON_SITE_RULE]},
            time_zone="Etc/UTC",
            tax_percent="10",
        )
        contract_id = contract["contract_id"]
        assert contract["terms"]["bill_rules"] == [
            {**ON_SITE_RULE, "criteria": [{**ON_SITE_RULE["criteria"][0], "custom_field": None}]}
        ]
        await billing_knows(client, stack["billing"].url, contract_id)

        async def log(minutes: int, day: int, **fields: Any) -> None:
            await created(
                await client.post(
                    f"{stack['timetracking'].url}/time-entries",
                    json={
                        "request_id": f"REQ-{day}",
                        "account_id": account,
                        "rep_id": "bob",
                        "started_at": work_day(start, day, hour=9),
                        "duration_minutes": minutes,
                        **fields,
                    },
                )
            )

        await log(270, 1)
        await log(180, 2, work_log_type="onsite")
        await log(225, 3)
        await usage_reaches(client, stack["billing"].url, contract_id, 495)  # on-site time draws nothing

        preview = await client.post(
            f"{stack['billing'].url}/contracts/{contract_id}/bills/preview", json={"period": "1"}
        )
    assert preview.status_code == 200, preview.text
    bill = preview.json()
    assert [(line["kind"], line["quantity_display"], line["amount"]["amount"]) for line in bill["lines"]] == [
        ("base_charge", "1", "500.00"),
        ("bill_rule", "3:00", "360.00"),
    ]
    assert bill["total"] == {"amount": "946.00", "currency": "USD"}
