"""Bills the calendar calls for, made by billing on its own: back-dated cycles at once, a prepaid
renewal's first bill as soon as it is published, and a terminated contract's cycle cut short."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from contracts_schema import registry
from tests.e2e.stack import Stack
from tests.support.auth import bearer
from tests.support.kafka import eventually, find_record
from tests.support.scenario import (
    WORKED_EXAMPLE_1_TERMS,
    billing_knows,
    new_account,
    sign_contract,
    sign_running_contract,
)

PREPAID_TERMS = {**WORKED_EXAMPLE_1_TERMS, "billing_mode": "prepaid"}


async def bills_of(
    client: httpx.AsyncClient, stack: Stack, contract_id: str, count: int
) -> list[dict[str, Any]]:
    async def made() -> list[dict[str, Any]] | None:
        response = await client.get(f"{stack['billing'].url}/bills", params={"contract_id": contract_id})
        items: list[dict[str, Any]] = response.json()["items"]
        return items if len(items) >= count else None

    result: list[dict[str, Any]] = await eventually(made)
    return result


async def test_a_back_dated_contract_gets_the_bills_of_its_past_cycles_at_once(stack: Stack) -> None:
    today = datetime.now(UTC).date()
    first_of_month = today.replace(day=1)
    start = (first_of_month - timedelta(days=80)).replace(day=1)  # three whole months ago
    async with httpx.AsyncClient(timeout=10, headers=bearer()) as client:
        contract = await sign_contract(
            client,
            stack["contracts"].url,
            account_id=new_account(),
            terms=WORKED_EXAMPLE_1_TERMS,
            start_date=start.isoformat(),
            expiry_date=(start + timedelta(days=364)).isoformat(),
            time_zone="Etc/UTC",
            tax_percent="10",
        )
        bills = await bills_of(client, stack, contract["contract_id"], 3)
        await billing_knows(client, stack["billing"].url, contract["contract_id"])
        response = await client.get(
            f"{stack['billing'].url}/bills", params={"contract_id": contract["contract_id"]}
        )

    assert response.json()["total"] == 3, "only the cycles that have ended are billed"
    assert sorted(bill["period"] for bill in bills) == ["1", "2", "3"]
    for bill in bills:
        assert bill["is_main"] and bill["total"] == {"amount": "550.00", "currency": "USD"}
        assert (
            bill["bill_date"]
            == (datetime.fromisoformat(bill["period_end"]) + timedelta(days=1)).date().isoformat()
        )


async def test_a_prepaid_renewal_gets_its_first_bill_as_soon_as_it_is_published(
    stack: Stack, kafka_bootstrap: str
) -> None:
    async with httpx.AsyncClient(timeout=10, headers=bearer()) as client:
        contract, start = await sign_running_contract(
            client,
            stack["contracts"].url,
            account_id=new_account(),
            terms=PREPAID_TERMS,
            time_zone="Etc/UTC",
        )
        upfront = await bills_of(client, stack, contract["contract_id"], 1)
        assert upfront[0]["period"] == "1" and upfront[0]["total"]["amount"] == "500.00"

        response = await client.post(
            f"{stack['contracts'].url}/contracts/{contract['contract_id']}/renewals", json={}
        )
        assert response.status_code in (200, 201), response.text
        renewal = response.json()["new_contract"]
        assert (
            renewal["start_date"]
            == (date.fromisoformat(contract["expiry_date"]) + timedelta(days=1)).isoformat()
        )

        (first,) = await bills_of(client, stack, renewal["contract_id"], 1)
    assert first["period"] == "1" and first["bill_date"] == datetime.now(UTC).date().isoformat()
    assert first["period_start"] == renewal["start_date"]
    assert [line["kind"] for line in first["lines"]] == ["base_charge"]
    event = await find_record(
        kafka_bootstrap,
        registry.BILLS.name,
        lambda r: r.json()["data"].get("bill", {}).get("bill_id") == first["bill_id"],
    )
    assert event.json()["type"] == "billing.bill.issued"


async def test_termination_closes_the_current_cycle_on_the_termination_date(stack: Stack) -> None:
    async with httpx.AsyncClient(timeout=10, headers=bearer()) as client:
        contract, start = await sign_running_contract(
            client,
            stack["contracts"].url,
            account_id=new_account(),
            terms=WORKED_EXAMPLE_1_TERMS,
            time_zone="Etc/UTC",
        )
        contract_id = contract["contract_id"]
        await billing_knows(client, stack["billing"].url, contract_id)
        response = await client.post(f"{stack['contracts'].url}/contracts/{contract_id}/termination", json={})
        assert response.status_code in (200, 201), response.text
        today = datetime.now(UTC).date().isoformat()

        async def cycle_cut_short() -> bool:
            usage = await client.get(
                f"{stack['billing'].url}/contracts/{contract_id}/usage", params={"cycle": 1}
            )
            return usage.status_code == 200 and usage.json()["cycle_end"] == today

        await eventually(cycle_cut_short)
        # Its bill falls due at the end of the termination day, not before.
        response = await client.get(f"{stack['billing'].url}/bills", params={"contract_id": contract_id})
    assert response.json()["total"] == 0
