"""Helpers of the REST and Kafka tests: set-up through the API, events read back from the outbox."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import select

from contracts.adapters.tables import messaging
from contracts.service_layer.unit_of_work import ContractsUnitOfWork
from contracts_schema import CloudEvent
from servicekit.app import ServiceApp
from services.contracts.tests import builders

T = TypeVar("T")


async def _eventually(probe: Callable[[], Awaitable[T | None]], timeout: float = 60.0) -> T:
    """Poll until `probe` returns something truthy: consumers need a moment to join and apply."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await probe()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"nothing after {timeout}s")
        await asyncio.sleep(0.2)


async def _published(
    contracts: ServiceApp[ContractsUnitOfWork], subject_id: str, event_type: str | None = None
) -> list[CloudEvent]:
    """Events written to the outbox about one aggregate, oldest first."""
    outbox = messaging.outbox
    async with contracts.service.db.read() as session:
        rows = await session.scalars(
            select(outbox.c.payload).where(outbox.c.key == subject_id).order_by(outbox.c.id)
        )
        events = [CloudEvent.model_validate_json(payload) for payload in rows]
    return [event for event in events if event_type is None or event.type == event_type]


async def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


class Setup:
    """Calendars, plans, top-up plans and contracts made through the REST API, and what to check with."""

    def __init__(self, api: httpx.AsyncClient, contracts: ServiceApp[ContractsUnitOfWork]) -> None:
        self.api = api
        self.contracts = contracts

    ok = staticmethod(_ok)
    eventually = staticmethod(_eventually)

    async def published(self, subject_id: str, event_type: str | None = None) -> list[CloudEvent]:
        return await _published(self.contracts, subject_id, event_type)

    async def calendar(self, time_zone: str = "Europe/Berlin") -> str:
        response = await self.api.post("/calendars", json=builders.calendar_body(time_zone))
        return (await _ok(response, 201))["calendar_id"]

    async def top_up_plan(self, hours: int = 5, price: str = "250.00", currency: str = "USD") -> str:
        response = await self.api.post(
            "/top-up-plans", json=builders.top_up_plan_body(hours, price, currency)
        )
        return (await _ok(response, 201))["top_up_plan_id"]

    async def plan(self, top_up_plan_ids: list[str] | None = None, **term_changes: Any) -> str:
        calendar_id = await self.calendar()
        body = {
            "name": f"Plan {uuid.uuid4().hex[:6]}",
            "terms": builders.terms_body(calendar_id, **term_changes),
            "top_up_plan_ids": top_up_plan_ids or [],
        }
        return (await _ok(await self.api.post("/plans", json=body), 201))["plan_id"]

    async def contract(self, account_id: str, plan_id: str, **changes: Any) -> dict[str, Any]:
        body = builders.contract_body(account_id, plan_id, **changes)
        return await _ok(await self.api.post("/contracts", json=body), 201)  # type: ignore[no-any-return]


@pytest.fixture
def setup(api: httpx.AsyncClient, contracts_service: ServiceApp[ContractsUnitOfWork]) -> Setup:
    return Setup(api, contracts_service)
