"""Wires the contracts service together: the one place that knows every dependency."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from fastapi import APIRouter

from contracts.adapters.tables import messaging, metadata
from contracts.config import ContractsSettings
from contracts.entrypoints import consumers
from contracts.entrypoints.scheduler import lifecycle_loop
from contracts.service_layer.unit_of_work import ContractsUnitOfWork
from servicekit.app import ServiceApp

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def utc_now() -> datetime:
    return datetime.now(UTC)


class Contracts(ServiceApp[ContractsUnitOfWork]):
    title = "Contracts service"
    description = "Support plans, top-up plans, business-hours calendars and contracts."
    unit_of_work = ContractsUnitOfWork

    def __init__(self, settings: ContractsSettings, clock: Callable[[], datetime] = utc_now) -> None:
        super().__init__(settings, metadata, messaging, MIGRATIONS)
        self.clock = clock
        consumers.register(self.service.consumers, self.uow, self.now, service_name=settings.service_name)
        self.service.add_background_loop(
            lifecycle_loop(self.uow, self.now, settings.scheduler_interval_seconds)
        )

    def now(self) -> datetime:
        """The service's clock; tests swap `clock` for a fake one after start-up too."""
        return self.clock()

    def routers(self) -> Sequence[APIRouter]:
        from contracts.entrypoints.api import router

        return [router]


def bootstrap(settings: ContractsSettings | None = None) -> Contracts:
    return Contracts(settings or ContractsSettings())
