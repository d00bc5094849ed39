"""The timetracking service running for real: migrations, its Kafka consumers, the outbox relay, REST.

The database (SQLite, or PostgreSQL with TEST_DATABASE=postgresql) and the broker come from the root
conftest; the topics are the real ones. Each test module runs its own service under a name of its own
(`timetracking-it-<hex>`), so its consumer groups read every message themselves and never take
partitions from another run; each test works on an account of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import select

from contracts_schema import CloudEvent, Topic, WireModel, registry
from contracts_schema.billing import BillIssued, BillStatus, BillStatusChanged
from contracts_schema.contracts import ContractCreated, ContractState
from servicekit.app import ServiceApp
from servicekit.origin import Origin
from tests.support.auth import bearer
from tests.support.kafka import Record, eventually, find_record, produce_event
from timetracking.adapters import wire
from timetracking.adapters.tables import messaging
from timetracking.bootstrap import bootstrap
from timetracking.config import TimeTrackingSettings
from timetracking.service_layer import views
from timetracking.service_layer.unit_of_work import TimeTrackingUnitOfWork

from ..conftest import bill

OPERATOR = "ops"
"""The actor of every message the tests produce."""


@dataclass
class RunningTimeTracking:
    """The service under test, and how tests talk to it: REST, its Kafka topics, its database."""

    app: ServiceApp[TimeTrackingUnitOfWork]
    api: httpx.AsyncClient
    kafka: str

    @property
    def name(self) -> str:
        return self.app.settings.service_name

    async def send(self, topic: Topic, body: WireModel, key: str) -> CloudEvent:
        return await produce_event(self.kafka, topic.name, body, key, actor=OPERATOR)

    async def sign(self, contract: ContractState) -> CloudEvent:
        """Announce a contract as the contracts service does, and wait until timetracking keeps it."""
        created = await self.send(
            registry.CONTRACTS, ContractCreated(contract=contract), str(contract.contract_id)
        )
        await eventually(lambda: self.keeps(contract))
        return created

    async def know_quietly(self, contract: ContractState) -> None:
        """Put a contract straight into timetracking's read model, unannounced. A contract whose calendar
        is on the shared calendars topic is one any billing service reading the topics would bill, other
        test modules' included: tests that announce a calendar keep its contracts off the topic."""
        async with self.app.uow() as uow:
            await views.keep_contracts(
                uow, [wire.announced_contract(contract)], origin=Origin("tests"), now=datetime.now(UTC)
            )

    async def keeps(self, contract: ContractState) -> bool:
        """Whether timetracking's read model holds this version of the contract."""
        async with self.app.read() as uow:
            kept = await uow.contracts.of_accounts([contract.account_id])
        return any(
            (c.contract_id, c.version) == (contract.contract_id, contract.version)
            for c in kept[contract.account_id]
        )

    async def forgot(self, contract: ContractState) -> bool:
        """Whether timetracking's read model no longer holds the contract, in any version."""
        async with self.app.read() as uow:
            kept = await uow.contracts.of_accounts([contract.account_id])
        return all(c.contract_id != contract.contract_id for c in kept[contract.account_id])

    async def log(self, body: WireModel, **headers: str) -> dict[str, Any]:
        """Log an entry over REST; it must be accepted."""
        response = await self.api.post("/time-entries", json=body.model_dump(mode="json"), headers=headers)
        assert response.status_code == 201, response.text
        entry: dict[str, Any] = response.json()
        return entry

    async def entry(self, entry_id: UUID) -> dict[str, Any] | None:
        """The entry as REST shows it, or None while it is not logged."""
        response = await self.api.get(f"/time-entries/{entry_id}")
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.text
        entry: dict[str, Any] = response.json()
        return entry

    async def reply(self, entry_id: UUID, event_type: str) -> CloudEvent:
        """The first `event_type` event this service published about the entry, read from its topic."""

        def about_entry(record: Record) -> bool:
            event = record.json()
            data = event["data"]
            return (
                event["source"] == self.name
                and event["type"] == event_type
                and str(entry_id) in (data.get("entry_id"), data.get("entry", {}).get("entry_id"))
            )

        record = await find_record(self.kafka, registry.TIME_ENTRIES.name, about_entry)
        return CloudEvent.model_validate_json(record.value)

    async def answers(self, cause: CloudEvent, account_id: str, count: int = 1) -> list[CloudEvent]:
        """The events published about the account's entries in answer to `cause`, once there are `count`."""

        async def found() -> list[CloudEvent] | None:
            events = [e for e in await self.published(account_id) if e.causationid == str(cause.id)]
            return events if len(events) >= count else None

        answered: list[CloudEvent] = await eventually(found)
        return answered

    async def bill(self, account_id: str, entry_ids: list[UUID]) -> None:
        """Issue a main bill with the entries, as billing would; wait until timetracking has them billed."""
        issued = bill(account_id=account_id, time_entry_ids=entry_ids)
        await self.send(registry.BILLS, BillIssued(bill=issued), str(issued.contract_id))

        async def all_billed() -> bool:
            entries = [await self.entry(entry_id) for entry_id in entry_ids]
            return all(entry is not None and entry["billed"] for entry in entries)

        await eventually(all_billed)

    async def pay(self, account_id: str, entry_ids: list[UUID]) -> None:
        """A main bill with the entries issued, sent and paid, as billing would announce it; wait until
        timetracking holds the entries final."""
        await self.bill(account_id, entry_ids)
        paid = bill(account_id=account_id, time_entry_ids=entry_ids, status=BillStatus.PAID)
        change = BillStatusChanged(bill=paid, previous_status=BillStatus.SENT)
        await self.send(registry.BILLS, change, str(paid.contract_id))

        async def all_settled() -> bool:
            entries = [await self.entry(entry_id) for entry_id in entry_ids]
            return all(entry is not None and entry["settled"] for entry in entries)

        await eventually(all_settled)

    async def close_period(self, contract: ContractState, starts_at: datetime, ends_at: datetime) -> None:
        """Announce that the contract's main bill carrying [starts_at, ends_at) was paid, as billing does;
        wait until timetracking holds that span closed."""
        paid = bill(
            contract_id=contract.contract_id,
            account_id=contract.account_id,
            bill_number=f"{contract.contract_number}-03-v1",
            status=BillStatus.PAID,
            usage_starts_at=starts_at,
            usage_ends_at=ends_at,
        )
        change = BillStatusChanged(bill=paid, previous_status=BillStatus.SENT)
        await self.send(registry.BILLS, change, str(contract.contract_id))

        async def closed() -> bool:
            async with self.app.read() as uow:
                found = await uow.closed_periods.of_contracts([contract.contract_id], [starts_at])
            return bool(found)

        await eventually(closed)

    async def published(self, account_id: str) -> list[CloudEvent]:
        """Every event the service has written to its outbox about the account's entries, oldest first."""
        outbox = messaging.outbox
        async with self.app.service.db.read() as session:
            rows = await session.scalars(
                select(outbox.c.payload).where(outbox.c.key == account_id).order_by(outbox.c.id)
            )
            return [CloudEvent.model_validate_json(payload) for payload in rows]


@pytest.fixture(scope="module")
async def timetracking(
    database_url: Callable[[str], str], kafka_bootstrap: str
) -> AsyncIterator[RunningTimeTracking]:
    """The service as `bootstrap` builds it, started by its HTTP app's lifespan, on a fresh database."""
    settings = TimeTrackingSettings(
        service_name=f"timetracking-it-{uuid.uuid4().hex[:10]}",
        database_url=database_url("timetracking"),
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        relay_poll_seconds=0.1,
    )
    service_app = bootstrap(settings)
    http_app = service_app.http_app()
    async with http_app.router.lifespan_context(http_app):
        transport = httpx.ASGITransport(app=http_app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://timetracking", headers=bearer()
        ) as api:
            yield RunningTimeTracking(service_app, api, kafka_bootstrap)


@pytest.fixture
def account() -> str:
    """Each test logs time for an account of its own, so tests never see one another's entries."""
    return f"acct-{uuid.uuid4().hex[:10]}"
