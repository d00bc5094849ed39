"""Billing on a real database (SQLite, or PostgreSQL with TEST_DATABASE=postgresql), no broker:
contract copies fed straight to the service layer, and a clock the test sets."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime
from decimal import Decimal

import pytest

from billing.adapters.tables import messaging
from billing.bootstrap import MIGRATIONS
from billing.service_layer import bill_schedule, handlers
from billing.service_layer.unit_of_work import BillingUnitOfWork
from contracts_schema import contracts as wire
from contracts_schema.primitives import MoneyAmount
from servicekit import migrations
from servicekit.db import Database

CALENDAR = wire.BusinessCalendar(
    calendar_id=uuid.uuid4(),
    name="Office",
    time_zone="Europe/Berlin",
    working_days=[1, 2, 3, 4, 5],
    working_hours=[wire.WorkingHours(start="09:00", end="17:00")],
)


def usd(amount: str) -> MoneyAmount:
    return MoneyAmount(amount=Decimal(amount), currency="USD")


def contract(
    mode: str = "postpaid", termination: date | None = None, version: int = 1, carry_forward: bool = False
) -> wire.ContractState:
    return wire.ContractState(
        contract_id=CONTRACT_ID,
        contract_number="C-SCHED",
        account_id="acme",
        name="Acme",
        plan_id=uuid.uuid4(),
        status=wire.ContractStatus.ACTIVE,
        start_date=date(2026, 1, 1),
        expiry_date=date(2026, 12, 31),
        termination_date=termination,
        time_zone="Europe/Berlin",
        scope=wire.ContractScope(),
        payment_terms_days=14,
        discount_percent=Decimal(0),
        tax_percent=Decimal(10),
        version=version,
        terms=wire.PlanTerms(
            plan_type=wire.PlanType.PER_HOUR,
            billing_mode=wire.BillingMode(mode),
            bill_cycle=wire.BillCycle.MONTHLY,
            currency="USD",
            base_charge=usd("500.00"),
            allowance=10,
            when_exhausted=wire.WhenExhausted.CHARGE_EXTRA,
            overage_rate_kind=wire.OverageRateKind.FIXED,
            overage_rate=usd("60.00"),
            calendar_id=CALENDAR.calendar_id,
            carry_forward=carry_forward,
        ),
    )


CONTRACT_ID = uuid.uuid4()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def db(database_url: Callable[[str], str]) -> AsyncIterator[Database]:
    url = database_url("billing")
    await asyncio.to_thread(migrations.upgrade, url, MIGRATIONS)
    database = Database(url)
    yield database
    await database.dispose()


def uow(db: Database) -> BillingUnitOfWork:
    return BillingUnitOfWork(db, messaging, None, source="billing-tests")


async def sign(db: Database, state: wire.ContractState) -> None:
    async with uow(db) as unit:
        await handlers.keep_calendars(unit, [CALENDAR])
        await handlers.keep_contracts(unit, [state])
        await bill_schedule.reschedule(unit, [state])
