"""The billing service running for real (migrations, consumers, relay, REST) on a real database and the
real broker: bill actions over REST and as Kafka commands, each answered, an illegal one refused."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from billing.adapters import wire
from billing.adapters.tables import messaging
from billing.bootstrap import bootstrap
from billing.config import BillingSettings
from billing.service_layer import bill_schedule, handlers
from billing.service_layer.contract_cache import ContractCache
from billing.service_layer.unit_of_work import BillingUnitOfWork
from contracts_schema import registry
from contracts_schema.billing import MarkBillMain, PayBill, SendBill
from contracts_schema.timetracking import TimeEntryLogged
from servicekit.app import ServiceApp
from tests.support.auth import bearer
from tests.support.kafka import eventually, produce_event

from ..builders import wire_calendar, wire_contract
from .conftest import time_entry

FEBRUARY = datetime(2026, 2, 3, 12, tzinfo=UTC)


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class RunningBilling:
    app: ServiceApp[BillingUnitOfWork]
    api: httpx.AsyncClient
    kafka: str

    async def events(self, contract_id: uuid.UUID | None, event_type: str) -> list[dict[str, Any]]:
        """Events in the outbox, oldest first: of one contract (or all), of one bill event type (or all)."""
        outbox = messaging.outbox
        query = select(outbox.c.payload).order_by(outbox.c.id)
        if contract_id is not None:
            query = query.where(outbox.c.key == str(contract_id))
        async with self.app.service.db.read() as session:
            events = [json.loads(payload) for payload in await session.scalars(query)]
        return [event for event in events if not event_type or event["type"] == f"billing.bill.{event_type}"]

    async def january_billed(self) -> tuple[uuid.UUID, dict[str, Any]]:
        """A contract of its own whose January (worked example 1) the scheduler has billed."""
        calendar = wire_calendar()
        contract = wire_contract(calendar).model_copy(update={"contract_number": f"C-{uuid.uuid4().hex[:8]}"})
        async with self.app.uow() as uow:
            await handlers.keep_calendars(uow, [calendar])
            await handlers.keep_contracts(uow, [contract])
            await bill_schedule.reschedule(uow, [wire.billing_contract(contract)])
        entries = [
            time_entry(day, minutes).model_copy(update={"contract_id": contract.contract_id})
            for day, minutes in ((date(2026, 1, 5), 270), (date(2026, 1, 6), 405))
        ]
        async with self.app.uow() as uow:
            await handlers.accrue_time_entries(
                uow,
                [wire.time_entry_event(TimeEntryLogged(entry=entry)) for entry in entries],
                contracts=ContractCache(),
                now=FEBRUARY,
            )
            # The module's service also copied other tests' contracts from the broker: pick ours.
            made = (await bill_schedule.make_due_bills(uow, now=FEBRUARY)).bills
            (bill,) = [bill for bill in made if bill.contract_id == contract.contract_id]
        response = await self.api.get(f"/bills/{bill.bill_id}")
        assert response.status_code == 200, response.text
        return contract.contract_id, response.json()


@pytest.fixture(scope="module")
async def billing(database_url: Callable[[str], str], kafka_bootstrap: str) -> AsyncIterator[RunningBilling]:
    settings = BillingSettings(
        service_name=f"billing-it-{uuid.uuid4().hex[:10]}",
        database_url=database_url("billing"),
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        relay_poll_seconds=0.1,
        scheduler_interval_seconds=3600,
    )
    service_app = bootstrap(settings, clock=FixedClock(FEBRUARY))
    http_app = service_app.http_app()
    async with http_app.router.lifespan_context(http_app):
        transport = httpx.ASGITransport(app=http_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://billing", headers=bearer()) as api:
            yield RunningBilling(service_app, api, kafka_bootstrap)


async def test_a_bill_is_sent_and_paid_over_rest_and_an_illegal_step_is_a_409(
    billing: RunningBilling,
) -> None:
    contract_id, bill = await billing.january_billed()
    bill_id = bill["bill_id"]
    assert (bill["total"], bill["status"], bill["is_main"]) == (
        {"amount": "632.50", "currency": "USD"},
        "issued",
        True,
    )

    refused = await billing.api.post(f"/bills/{bill_id}/pay")
    assert refused.status_code == 409
    assert "cannot become paid" in refused.json()["detail"]

    assert (await billing.api.post(f"/bills/{bill_id}/send")).json()["status"] == "sent"
    assert (await billing.api.post(f"/bills/{bill_id}/pay")).json()["status"] == "paid"
    void = await billing.api.post(f"/bills/{bill_id}/void")
    assert void.status_code == 409 and "paid" in void.json()["detail"]
    assert [
        event["data"]["bill"]["status"] for event in await billing.events(contract_id, "status_changed")
    ] == [
        "sent",
        "paid",
    ]


async def test_a_new_version_is_marked_main_over_rest_and_lines_say_their_units(
    billing: RunningBilling,
) -> None:
    contract_id, first = await billing.january_billed()
    made = await billing.api.post(f"/contracts/{contract_id}/bills", json={"period": "01"})
    assert made.status_code == 201, made.text
    second = made.json()
    assert (second["bill_number"], second["is_main"], second["period"]) == (
        first["bill_number"].replace("-v1", "-v2"),
        False,
        "1",
    )
    overage = next(line for line in second["lines"] if line["kind"] == "overage")
    assert (
        overage["quantity_unit"],
        overage["price_per"],
        overage["category"],
        overage["quantity_display"],
    ) == (
        "minutes",
        "hour",
        "all",
        "1:15",
    )

    marked = await billing.api.post(f"/bills/{second['bill_id']}/mark-main")
    assert marked.status_code == 200 and marked.json()["is_main"]
    again = await billing.api.post(f"/bills/{second['bill_id']}/mark-main")
    assert again.status_code == 409 and "already the main" in again.json()["detail"]
    mains = (
        await billing.api.get("/bills", params={"contract_id": str(contract_id), "main_only": True})
    ).json()
    assert [bill["bill_id"] for bill in mains["items"]] == [second["bill_id"]]
    assert first["bill_id"] != second["bill_id"]


async def test_editing_a_bill_changes_only_what_is_not_a_figure(billing: RunningBilling) -> None:
    _, bill = await billing.january_billed()
    edited = await billing.api.patch(
        f"/bills/{bill['bill_id']}",
        json={"due_date": "2026-03-31", "notes": "PO 4711", "billing_email": None},
    )
    assert edited.status_code == 200, edited.text
    assert (edited.json()["due_date"], edited.json()["notes"], edited.json()["billing_email"]) == (
        "2026-03-31",
        "PO 4711",
        None,
    )
    assert (await billing.api.patch(f"/bills/{bill['bill_id']}", json={"total": "0"})).status_code == 422
    early = await billing.api.patch(f"/bills/{bill['bill_id']}", json={"due_date": "2026-01-01"})
    assert early.status_code == 422 and "before the bill date" in early.json()["detail"]


async def test_cycles_usage_by_category_and_a_printable_bill(billing: RunningBilling) -> None:
    contract_id, bill = await billing.january_billed()

    cycles = (await billing.api.get(f"/contracts/{contract_id}/cycles")).json()
    assert cycles[0] == {"index": 1, "start_date": "2026-01-01", "end_date": "2026-01-31", "bill_period": "1"}
    assert len(cycles) == 12

    usage = (await billing.api.get(f"/contracts/{contract_id}/usage", params={"cycle": 1})).json()
    assert (usage["used"], usage["overage"]) == (675, 75)
    assert (
        sum(usage["minutes_by_category"].values()) == 675 and usage["minutes_by_category"]["operational"] > 0
    )

    html = await billing.api.get(f"/bills/{bill['bill_id']}/printable")
    assert html.headers["content-type"].startswith("text/html") and "USD 632.50" in html.text
    pdf = await billing.api.get(f"/bills/{bill['bill_id']}/printable", params={"format": "pdf"})
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert (await billing.api.get(f"/bills/{uuid.uuid4()}")).status_code == 404


async def test_bill_commands_on_kafka_are_answered_and_an_illegal_one_is_rejected(
    billing: RunningBilling,
) -> None:
    contract_id, bill = await billing.january_billed()
    bill_id = uuid.UUID(bill["bill_id"])
    key = str(contract_id)
    topic = registry.BILLING_COMMANDS.name

    pay_first = await produce_event(
        billing.kafka, topic, PayBill(contract_id=contract_id, bill_id=bill_id), key
    )
    sent = await produce_event(billing.kafka, topic, SendBill(contract_id=contract_id, bill_id=bill_id), key)
    foreign = await produce_event(
        billing.kafka, topic, MarkBillMain(contract_id=uuid.uuid4(), bill_id=bill_id), key
    )

    commands = {str(pay_first.id), str(sent.id), str(foreign.id)}

    async def answers() -> list[dict[str, Any]]:
        return [event for event in await billing.events(None, "") if event["causationid"] in commands]

    await eventually(lambda: _at_least(answers, 3), timeout=30)
    by_cause = {event["causationid"]: event for event in await answers()}
    assert by_cause[str(pay_first.id)]["data"]["error"] == "BillStatusConflict"
    assert by_cause[str(foreign.id)]["data"]["error"] == "BillNotFound"
    assert by_cause[str(foreign.id)]["data"]["contract_id"] != str(contract_id)  # answered under its own key
    assert by_cause[str(sent.id)]["type"] == "billing.bill.status_changed"
    assert (
        by_cause[str(sent.id)]["data"]["bill"]["status"] == "sent"
        and by_cause[str(sent.id)]["actor"] == "test"
    )


async def _at_least(found: Callable[[], Any], count: int) -> bool:
    return len(await found()) >= count
