"""Shows the running stack at work: PRODUCT.md's worked example 1, from plan to bill.

A calendar, a plan and a contract over the contracts API; two time entries over the timetracking API
and one as a Kafka command; billing's usage of the cycle; an on-demand bill and its event on Kafka.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from contracts_schema import CloudEvent, registry
from contracts_schema.timetracking import LogTimeEntry
from servicekit.dev_token import issue_token
from servicekit.kafka_security import from_environment

CONTRACTS = "http://127.0.0.1:8001"
BILLING = "http://127.0.0.1:8002"
TIMETRACKING = "http://127.0.0.1:8003"
KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
KAFKA_OPTIONS = from_environment().for_aiokafka()
"""The services' KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_* and KAFKA_SSL_* settings: on a secured broker the
demo is an integration (it sends a command and reads its bill's event)."""


DEV_KEYS = Path(__file__).resolve().parents[1] / "var" / "dev-keys"


def demo_token() -> str:
    """An admin's bearer token, signed with the dev stack's own key (written by scripts/stack.sh)."""
    private_key = json.loads((DEV_KEYS / "private.jwk.json").read_text())
    return issue_token(private_key, subject="demo", roles=["admin"], accounts="*")


def step(text: str) -> None:
    print(f"-> {text}")


async def post(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(url, json=body)
    if response.status_code >= 300:
        raise SystemExit(f"POST {url} answered {response.status_code}: {response.text}")
    result: dict[str, Any] = response.json()
    return result


async def wait_for(client: httpx.AsyncClient, url: str, done: Any, what: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        response = await client.get(url)
        if response.status_code == 200 and done(response.json()):
            result: dict[str, Any] = response.json()
            return result
        await asyncio.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


async def main() -> None:
    account = f"demo-{uuid.uuid4().hex[:6]}"
    # The first monthly cycle runs now, so its bill is not due yet: the demo asks for it on demand.
    start = datetime.now(UTC).date() - timedelta(days=7)
    expiry = start.replace(year=start.year + 1) - timedelta(days=1)

    def work_day(day: int) -> datetime:
        return datetime.combine(start + timedelta(days=day), clock_time(14), tzinfo=UTC)

    headers = {"Authorization": f"Bearer {demo_token()}"}
    async with httpx.AsyncClient(timeout=10, headers=headers) as client:
        calendar = await post(
            client,
            f"{CONTRACTS}/calendars",
            {
                "name": "New York office",
                "time_zone": "America/New_York",
                "working_hours": [{"start": "09:00", "end": "17:00"}],
            },
        )
        plan = await post(
            client,
            f"{CONTRACTS}/plans",
            {
                "name": f"Gold hours ({account})",
                "terms": {
                    "plan_type": "per_hour",
                    "billing_mode": "postpaid",
                    "bill_cycle": "monthly",
                    "currency": "USD",
                    "base_charge": {"amount": "500.00", "currency": "USD"},
                    "allowance": 10,
                    "when_exhausted": "charge_extra",
                    "overage_rate_kind": "fixed",
                    "overage_rate": {"amount": "60.00", "currency": "USD"},
                    "calendar_id": calendar["calendar_id"],
                },
            },
        )
        step(f"support plan {plan['name']}: USD 500.00 a month, 10 h included, 60.00/h beyond")
        contract = await post(
            client,
            f"{CONTRACTS}/contracts",
            {
                "account_id": account,
                "plan_id": plan["plan_id"],
                "name": "Demo support contract",
                "start_date": start.isoformat(),
                "expiry_date": expiry.isoformat(),
                "tax_percent": "10",
            },
        )
        contract_id = contract["contract_id"]
        step(f"contract {contract['contract_number']} for account {account}, tax 10 %")
        await wait_for(
            client,
            f"{BILLING}/contracts/{contract_id}/usage?cycle=1",
            lambda _: True,
            "billing to receive the contract",
        )
        step("billing has its own copy of the contract's terms (from contracts.contracts.v1)")

        for request_id, day, minutes in (("REQ-1", 1, 270), ("REQ-2", 2, 180)):
            await post(
                client,
                f"{TIMETRACKING}/time-entries",
                {
                    "request_id": request_id,
                    "account_id": account,
                    "rep_id": "ann",
                    "started_at": work_day(day).isoformat(),
                    "duration_minutes": minutes,
                },
            )
            step(f"logged {minutes // 60} h {minutes % 60:02d} min on {request_id} over REST")
        command = LogTimeEntry(
            entry_id=uuid.uuid4(),
            request_id="REQ-3",
            account_id=account,
            rep_id="bob",
            started_at=work_day(3),
            duration_minutes=225,
        )
        producer = AIOKafkaProducer(bootstrap_servers=KAFKA, enable_idempotence=True, **KAFKA_OPTIONS)
        await producer.start()
        try:
            event = CloudEvent.wrap(
                command, source="demo", subject=f"time-entry/{command.entry_id}", actor="bob"
            )
            await producer.send_and_wait(
                registry.TIME_ENTRY_COMMANDS.name, event.to_json(), key=account.encode()
            )
        finally:
            await producer.stop()
        step(f"logged 3 h 45 min on REQ-3 as a command on {registry.TIME_ENTRY_COMMANDS.name}")

        usage = await wait_for(
            client,
            f"{BILLING}/contracts/{contract_id}/usage?cycle=1",
            lambda body: body["used"] == 675,
            "billing to accrue the usage",
        )
        step(
            f"usage of cycle 1: {usage['used']} of {usage['allowance_total']} min used, "
            f"{usage['remaining']} remaining"
        )

        bill = await post(client, f"{BILLING}/contracts/{contract_id}/bills", {"period": "1"})
    print()
    print(
        f"Bill {bill['bill_number']}  {bill['period_start']} .. {bill['period_end']}  due {bill['due_date']}"
    )
    for line in bill["lines"]:
        print(f"  {line['description']:<52} {line['quantity_display']:>6}  {line['amount']['amount']:>9}")
    for label in ("subtotal", "discount", "tax", "total"):
        print(f"  {label.capitalize():<60} {bill[label]['amount']:>9} {bill[label]['currency']}")
    await show_bill_event(bill["bill_id"])


async def show_bill_event(bill_id: str) -> None:
    consumer = AIOKafkaConsumer(
        registry.BILLS.name,
        bootstrap_servers=KAFKA,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **KAFKA_OPTIONS,
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    event = CloudEvent.model_validate_json(record.value)
                    if event.data.get("bill", {}).get("bill_id") == bill_id:
                        print(
                            f"\nEvent {event.type} on {record.topic} (partition {record.partition}, "
                            f"offset {record.offset}), id {event.id}"
                        )
                        return
        print("the bill event did not show up within 15 s", file=sys.stderr)
        raise SystemExit(1)
    finally:
        await consumer.stop()


if __name__ == "__main__":
    asyncio.run(main())
