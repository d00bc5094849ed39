"""Correcting bills across the three services: time logged after a back-dated contract's bills were made
flags them; a regenerated version marked main bills that time in timetracking; the main is sent and
paid, which closes its cycle to new time; and voiding a main puts its entries back to unbilled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.e2e.stack import Stack
from tests.support.auth import bearer
from tests.support.kafka import eventually
from tests.support.scenario import WORKED_EXAMPLE_1_TERMS, created, new_account, sign_contract, work_day


async def _json(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def test_a_late_entry_is_flagged_regenerated_marked_main_billed_sent_and_paid_and_a_void_unbills(
    stack: Stack,
) -> None:
    contracts, billing, timetracking = (stack[name].url for name in ("contracts", "billing", "timetracking"))
    account = new_account()
    start = (datetime.now(UTC).date().replace(day=1) - timedelta(days=40)).replace(day=1)  # two months back
    async with httpx.AsyncClient(timeout=20, headers=bearer()) as client:
        contract = await sign_contract(
            client,
            contracts,
            account_id=account,
            terms=WORKED_EXAMPLE_1_TERMS,
            start_date=start.isoformat(),
            expiry_date=(start + timedelta(days=364)).isoformat(),
            time_zone="Etc/UTC",
            tax_percent="10",
        )
        contract_id = contract["contract_id"]

        async def main_bill(period: str) -> dict[str, Any] | None:
            found = await _json(
                await client.get(f"{billing}/bills", params={"contract_id": contract_id, "period": period})
            )
            return next((bill for bill in found["items"] if bill["is_main"]), None)

        first = await eventually(lambda: main_bill("1"), timeout=30)
        assert (first["total"]["amount"], first["needs_regeneration"]) == ("550.00", False)

        # 11 h 15 min logged in cycle 1 after its bill was made: worked example 1's time, late.
        late = await created(
            await client.post(
                f"{timetracking}/time-entries",
                json={
                    "request_id": "REQ-LATE",
                    "account_id": account,
                    "rep_id": "bob",
                    "started_at": work_day(start, 5, hour=9),
                    "duration_minutes": 675,
                },
            )
        )
        assert late["contract_id"] == contract_id and not late["billed"]

        async def flagged() -> dict[str, Any] | None:
            """The contract's one flagged bill, once billing has seen the late entry."""
            found = await _json(
                await client.get(
                    f"{billing}/bills", params={"contract_id": contract_id, "needs_regeneration": True}
                )
            )
            return found["items"][0] if found["items"] else None

        stale = await eventually(flagged, timeout=30)
        assert stale["bill_id"] == first["bill_id"] and stale["total"]["amount"] == "550.00"
        reconciliation = await _json(await client.get(f"{billing}/bills/{first['bill_id']}/reconciliation"))
        assert reconciliation["entries_not_billed"] == [late["entry_id"]]
        assert reconciliation["recomputed_total"]["amount"] == "632.50"

        regenerated = await _json(
            await client.post(f"{billing}/bills/{first['bill_id']}/regenerate", json={}), 201
        )
        assert (regenerated["version"], regenerated["is_main"], regenerated["total"]["amount"]) == (
            2,
            False,
            "632.50",
        )
        await _json(await client.post(f"{billing}/bills/{regenerated['bill_id']}/mark-main"))

        async def entry_billed(billed: bool) -> bool:
            entry = await _json(await client.get(f"{timetracking}/time-entries/{late['entry_id']}"))
            return bool(entry["billed"] is billed)

        await eventually(lambda: entry_billed(True), timeout=30)
        sent = await _json(await client.post(f"{billing}/bills/{regenerated['bill_id']}/send"))
        paid = await _json(await client.post(f"{billing}/bills/{regenerated['bill_id']}/pay"))
        assert (sent["status"], paid["status"]) == ("sent", "paid")
        refused = await client.post(f"{billing}/bills/{first['bill_id']}/mark-main")
        assert refused.status_code == 409  # the main cannot change once it is paid
        assert paid["usage_starts_at"] == f"{start.isoformat()}T00:00:00Z"

        # Cycle 1 is closed to new time once timetracking has heard of the payment (its entries settle
        # in the same transaction): no bill could ever carry it.
        await eventually(lambda: _settled(client, timetracking, late["entry_id"]), timeout=30)
        too_late = await client.post(
            f"{timetracking}/time-entries",
            json={
                "request_id": "REQ-TOO-LATE",
                "account_id": account,
                "rep_id": "bob",
                "started_at": work_day(start, 6, hour=9),
                "duration_minutes": 30,
            },
        )
        assert too_late.status_code == 409 and too_late.json()["type"].endswith("/period-closed"), (
            too_late.text
        )

        # Cycle 2 (open): a late entry is logged, billed by a regenerated main; voiding that main unbills it.
        second = await eventually(lambda: main_bill("2"), timeout=30)
        late_2 = await created(
            await client.post(
                f"{timetracking}/time-entries",
                json={
                    "request_id": "REQ-2",
                    "account_id": account,
                    "rep_id": "bob",
                    "started_at": work_day(start, 40, hour=9),
                    "duration_minutes": 60,
                },
            )
        )
        await eventually(lambda: _flag_of(client, billing, second["bill_id"]), timeout=30)  # billing has it
        regenerated_2 = await _json(
            await client.post(f"{billing}/bills/{second['bill_id']}/regenerate", json={}), 201
        )
        await _json(await client.post(f"{billing}/bills/{regenerated_2['bill_id']}/mark-main"))

        async def billed_now(entry_id: str, billed: bool) -> bool:
            entry = await _json(await client.get(f"{timetracking}/time-entries/{entry_id}"))
            return bool(entry["billed"] is billed)

        await eventually(lambda: billed_now(late_2["entry_id"], True), timeout=30)
        await _json(await client.post(f"{billing}/bills/{regenerated_2['bill_id']}/void"))
        await eventually(lambda: billed_now(late_2["entry_id"], False), timeout=30)
        assert await main_bill("2") is None


async def _settled(client: httpx.AsyncClient, timetracking: str, entry_id: str) -> bool:
    entry = await _json(await client.get(f"{timetracking}/time-entries/{entry_id}"))
    return bool(entry["settled"])


async def _flag_of(client: httpx.AsyncClient, billing: str, bill_id: str) -> bool:
    bill = await _json(await client.get(f"{billing}/bills/{bill_id}"))
    return bool(bill["needs_regeneration"])
