"""Billing on a real database (SQLite, or PostgreSQL with TEST_DATABASE=postgresql), no broker:
contract copies fed straight to the service layer, at instants the test chooses."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, date, datetime

import pytest

from billing.adapters import wire
from billing.adapters.tables import messaging
from billing.bootstrap import MIGRATIONS
from billing.service_layer import bill_schedule, handlers
from billing.service_layer.contract_cache import ContractCache
from billing.service_layer.unit_of_work import BillingUnitOfWork
from contracts_schema import contracts as contracts_wire
from contracts_schema.timetracking import TimeEntryState
from servicekit import migrations
from servicekit.db import Database
from servicekit.money import Money

from ..builders import wire_calendar, wire_contract

CALENDAR = wire_calendar("Europe/Berlin")
CONTRACT_ID = uuid.uuid4()


def usd(amount: str) -> Money:
    return Money.of(amount, "USD")


def contract(
    mode: str = "postpaid", termination: date | None = None, version: int = 1, carry_forward: bool = False
) -> contracts_wire.ContractState:
    """Worked example 1's terms for all of 2026 in Berlin: USD 500 a month, 10 h, 60.00/h, 10 % tax."""
    return wire_contract(
        CALENDAR,
        contract_id=CONTRACT_ID,
        mode=mode,
        termination=termination,
        version=version,
        carry_forward=carry_forward,
    )


@pytest.fixture
async def db(database_url: Callable[[str], str]) -> AsyncIterator[Database]:
    url = database_url("billing")
    await asyncio.to_thread(migrations.upgrade, url, MIGRATIONS)
    database = Database(url)
    yield database
    await database.dispose()


def uow(db: Database) -> BillingUnitOfWork:
    return BillingUnitOfWork(db, messaging, None, source="billing-tests")


async def sign(db: Database, state: contracts_wire.ContractState) -> None:
    async with uow(db) as unit:
        await handlers.keep_calendars(unit, [CALENDAR])
        await handlers.keep_contracts(unit, [state])
        await bill_schedule.reschedule(unit, [wire.billing_contract(state)])


def time_entry(
    day: date, minutes: int, *, billable: bool = True, everything: bool = True, version: int = 1
) -> TimeEntryState:
    """Time logged on the contract from 09:00 UTC (10:00 in Berlin in winter) on a day."""
    return TimeEntryState(
        entry_id=uuid.uuid4(),
        account_id="acme",
        contract_id=CONTRACT_ID,
        request_id="R",
        rep_id="ann",
        started_at=datetime(day.year, day.month, day.day, 9, tzinfo=UTC),
        minutes=minutes,
        billable=billable,
        include_non_operational=everything,
        version=version,
    )


async def accrue(db: Database, entries: Sequence[TimeEntryState], now: datetime) -> None:
    async with uow(db) as unit:
        await handlers.accrue_time_entries(
            unit, [wire.logged_entry(entry) for entry in entries], contracts=ContractCache(), now=now
        )
