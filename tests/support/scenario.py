"""Building blocks of end-to-end scenarios, spoken over the services' REST APIs."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx

from tests.support.kafka import eventually

WORKED_EXAMPLE_1_TERMS: dict[str, Any] = {
    "plan_type": "per_hour",
    "billing_mode": "postpaid",
    "bill_cycle": "monthly",
    "currency": "USD",
    "base_charge": {"amount": "500.00", "currency": "USD"},
    "allowance": 10,
    "when_exhausted": "charge_extra",
    "overage_rate_kind": "fixed",
    "overage_rate": {"amount": "60.00", "currency": "USD"},
}


def current_cycle_dates(days_ago: int = 7) -> tuple[date, date]:
    """A year-long contract whose first monthly cycle is running now, so no bill has fallen due yet."""
    start = datetime.now(UTC).date() - timedelta(days=days_ago)
    return start, start.replace(year=start.year + 1) - timedelta(days=1)


def work_day(start: date, day: int, hour: int = 14) -> str:
    """An instant `day` days into the contract, in UTC, as the wire writes it."""
    return datetime.combine(start + timedelta(days=day), time(hour), tzinfo=UTC).isoformat()


def new_account() -> str:
    return f"acct-{uuid.uuid4().hex[:10]}"


async def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def sign_contract(
    client: httpx.AsyncClient,
    contracts_url: str,
    *,
    account_id: str,
    terms: dict[str, Any],
    start_date: str,
    expiry_date: str,
    time_zone: str = "America/New_York",
    **contract_fields: Any,
) -> dict[str, Any]:
    """A calendar, a plan with the terms, and a contract on it for the account."""
    plan = await make_plan(client, contracts_url, name=f"Plan {account_id}", terms=terms, time_zone=time_zone)
    return await make_contract(
        client,
        contracts_url,
        account_id=account_id,
        plan_id=plan["plan_id"],
        start_date=start_date,
        expiry_date=expiry_date,
        **contract_fields,
    )


async def make_plan(
    client: httpx.AsyncClient, contracts_url: str, *, name: str, terms: dict[str, Any], time_zone: str
) -> dict[str, Any]:
    """A plan with the terms on an office calendar of its own (9 to 5 in the time zone)."""
    calendar = await created(
        await client.post(
            f"{contracts_url}/calendars",
            json={
                "name": "Office",
                "time_zone": time_zone,
                "working_hours": [{"start": "09:00", "end": "17:00"}],
            },
        )
    )
    return await created(
        await client.post(
            f"{contracts_url}/plans",
            json={"name": name, "terms": {**terms, "calendar_id": calendar["calendar_id"]}},
        )
    )


async def make_contract(
    client: httpx.AsyncClient,
    contracts_url: str,
    *,
    account_id: str,
    plan_id: str,
    start_date: str,
    expiry_date: str,
    **contract_fields: Any,
) -> dict[str, Any]:
    return await created(
        await client.post(
            f"{contracts_url}/contracts",
            json={
                "account_id": account_id,
                "plan_id": plan_id,
                "name": f"Support for {account_id}",
                "start_date": start_date,
                "expiry_date": expiry_date,
                **contract_fields,
            },
        )
    )


async def sign_running_contract(
    client: httpx.AsyncClient, contracts_url: str, *, account_id: str, terms: dict[str, Any], **fields: Any
) -> tuple[dict[str, Any], date]:
    """A year-long contract whose first cycle runs now (so no bill is due yet), and its start date."""
    start, expiry = current_cycle_dates()
    contract = await sign_contract(
        client,
        contracts_url,
        account_id=account_id,
        terms=terms,
        start_date=start.isoformat(),
        expiry_date=expiry.isoformat(),
        **fields,
    )
    return contract, start


async def billing_knows(client: httpx.AsyncClient, billing_url: str, contract_id: str) -> None:
    """Wait until billing has built its copy of the contract from the contract events."""

    async def known() -> bool:
        response = await client.get(f"{billing_url}/contracts/{contract_id}/usage", params={"cycle": 1})
        return response.status_code == 200

    await eventually(known)


async def usage_reaches(
    client: httpx.AsyncClient, billing_url: str, contract_id: str, used: int, cycle: int = 1
) -> dict[str, Any]:
    async def reached() -> dict[str, Any] | None:
        response = await client.get(f"{billing_url}/contracts/{contract_id}/usage", params={"cycle": cycle})
        body: dict[str, Any] = response.json()
        return body if response.status_code == 200 and body["used"] == used else None

    result: dict[str, Any] = await eventually(reached)
    return result
