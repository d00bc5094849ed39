"""Wires the contracts service together: the one place that knows every dependency."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI

from contracts.adapters.tables import messaging, metadata
from contracts.config import ContractsSettings
from contracts.service_layer.unit_of_work import ContractsUnitOfWork
from servicekit.service import Service

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def utc_now() -> datetime:
    return datetime.now(UTC)


class Contracts:
    """The running service: its process-wide parts and factories for units of work."""

    def __init__(self, settings: ContractsSettings, clock: Callable[[], datetime] = utc_now) -> None:
        self.settings = settings
        self.clock = clock
        self.service = Service(settings, metadata, messaging, MIGRATIONS)

    def uow(self) -> ContractsUnitOfWork:
        return ContractsUnitOfWork(
            self.service.db, messaging, self.service.relay, source=self.settings.service_name
        )

    def read(self) -> ContractsUnitOfWork:
        return ContractsUnitOfWork(
            self.service.db, messaging, None, source=self.settings.service_name, read_only=True
        )

    def http_app(self) -> FastAPI:
        from contracts.entrypoints.api import router

        app = self.service.http_app(
            title="Contracts service",
            description="Support plans, top-up plans, business-hours calendars and contracts.",
            routers=[router],
        )
        app.state.contracts = self
        return app


def bootstrap(settings: ContractsSettings | None = None) -> Contracts:
    return Contracts(settings or ContractsSettings())
