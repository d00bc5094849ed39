"""Wires the billing service together."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from fastapi import APIRouter

from billing.adapters.tables import messaging, metadata
from billing.config import BillingSettings
from billing.entrypoints import consumers
from billing.service_layer import bill_schedule
from billing.service_layer.unit_of_work import BillingUnitOfWork
from servicekit.app import ServiceApp

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def utc_now() -> datetime:
    return datetime.now(UTC)


class Billing(ServiceApp[BillingUnitOfWork]):
    title = "Billing service"
    description = "Usage per contract cycle, bills, bill versions and the main bill."
    unit_of_work = BillingUnitOfWork
    BILLING_BATCH = 200

    def __init__(self, settings: BillingSettings, clock: Callable[[], datetime] = utc_now) -> None:
        super().__init__(settings, metadata, messaging, MIGRATIONS)
        self.clock = clock
        consumers.register(self.service.consumers, self.uow, clock)
        self.service.add_background_loop(self.make_due_bills_forever)

    async def make_due_bills_forever(self) -> None:
        """The bill scheduler: every tick, every bill that has fallen due, in batches."""
        while True:
            while True:
                async with self.uow() as uow:
                    made = await bill_schedule.make_due_bills(uow, clock=self.clock, limit=self.BILLING_BATCH)
                if len(made) < self.BILLING_BATCH:
                    break
            await asyncio.sleep(self.settings.scheduler_interval_seconds)

    def routers(self) -> Sequence[APIRouter]:
        from billing.entrypoints.api import router

        return [router]


def bootstrap(settings: BillingSettings | None = None) -> Billing:
    return Billing(settings or BillingSettings())
