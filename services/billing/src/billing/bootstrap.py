"""Wires the billing service together."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from fastapi import APIRouter

from billing.adapters.tables import messaging, metadata
from billing.config import BillingSettings
from billing.entrypoints import consumers
from billing.service_layer.unit_of_work import BillingUnitOfWork
from servicekit.app import ServiceApp

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def utc_now() -> datetime:
    return datetime.now(UTC)


class Billing(ServiceApp[BillingUnitOfWork]):
    title = "Billing service"
    description = "Usage per contract cycle, bills, bill versions and the main bill."
    unit_of_work = BillingUnitOfWork

    def __init__(self, settings: BillingSettings, clock: Callable[[], datetime] = utc_now) -> None:
        super().__init__(settings, metadata, messaging, MIGRATIONS)
        self.clock = clock
        consumers.register(self.service.consumers, self.uow, clock)

    def routers(self) -> Sequence[APIRouter]:
        from billing.entrypoints.api import router

        return [router]


def bootstrap(settings: BillingSettings | None = None) -> Billing:
    return Billing(settings or BillingSettings())
