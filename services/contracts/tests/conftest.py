"""Fixtures of the contracts service's tests: a fake clock and the running service.

The database (SQLite, or PostgreSQL with TEST_DATABASE=postgresql) and the broker come from the root
conftest. The service is started for real: migrations, Kafka, consumers, outbox relay and scheduler.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from contracts.bootstrap import bootstrap
from contracts.config import ContractsSettings
from contracts.service_layer.unit_of_work import ContractsUnitOfWork
from servicekit.app import ServiceApp
from tests.support.auth import bearer

START_OF_TESTS = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


class FakeClock:
    """The time the service believes it is; tests move it."""

    def __init__(self, now: datetime = START_OF_TESTS) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, now: datetime) -> None:
        self.now = now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(scope="session")
def session_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def clock(session_clock: FakeClock) -> Iterator[FakeClock]:
    session_clock.set(START_OF_TESTS)
    yield session_clock
    session_clock.set(START_OF_TESTS)


@pytest.fixture(scope="session")
async def contracts_service(
    database_url: Callable[[str], str], kafka_bootstrap: str, session_clock: FakeClock
) -> AsyncIterator[ServiceApp[ContractsUnitOfWork]]:
    """The service started for real on a fresh database (the root conftest's `database_url`)."""
    settings = ContractsSettings(
        database_url=database_url("contracts"),
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        # Its own consumer group, so a contracts service running on the same broker keeps its own.
        service_name="contracts-tests",
        scheduler_interval_seconds=3600,
        relay_poll_seconds=0.2,
    )
    contracts = bootstrap(settings, clock=session_clock)
    await contracts.service.start()
    try:
        yield contracts
    finally:
        await contracts.service.stop()


@pytest.fixture(scope="session")
async def http(contracts_service: ServiceApp[ContractsUnitOfWork]) -> AsyncIterator[httpx.AsyncClient]:
    app = contracts_service.http_app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://contracts", headers=bearer()
    ) as client:
        yield client


@pytest.fixture
async def api(http: httpx.AsyncClient, clock: FakeClock) -> httpx.AsyncClient:
    """The REST API with the clock at START_OF_TESTS."""
    return http


@pytest.fixture
def account_id() -> str:
    """Each test signs contracts for an account of its own, so tests never overlap one another."""
    return f"acct-{uuid.uuid4().hex[:10]}"
