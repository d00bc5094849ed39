"""The skeleton every service's bootstrap fills in: its process, units of work, clock and HTTP app."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Generic, TypeVar

from fastapi import APIRouter, FastAPI
from pydantic import ValidationError
from sqlalchemy import MetaData

from servicekit import logs, tracing
from servicekit.api import UnitsOfWork
from servicekit.clock import Clock
from servicekit.idempotency import IdempotencyMiddleware
from servicekit.operations import RequestTelemetry
from servicekit.service import Service
from servicekit.settings import ServiceSettings
from servicekit.tables import MessagingTables
from servicekit.uow import UnitOfWork

U = TypeVar("U", bound=UnitOfWork)


class ServiceApp(Generic[U]):
    """A service's process-wide parts; its bootstrap adds consumers and background loops."""

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        title: str,
        description: str,
        metadata: MetaData,
        tables: MessagingTables,
        migrations_dir: Path,
        unit_of_work: type[U],
        routers: Sequence[APIRouter],
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.title = title
        self.description = description
        self.tables = tables
        self.clock = clock
        self.routers = routers
        self.service = Service(settings, metadata, tables, migrations_dir)
        self.units = UnitsOfWork(
            unit_of_work, self.service.db, tables, self.service.relay, source=settings.service_name
        )

    def uow(self) -> U:
        """A unit of work that writes and publishes."""
        return self.units.write()

    def read(self) -> U:
        """A unit of work for queries only."""
        return self.units.read()

    def http_app(self) -> FastAPI:
        app = self.service.http_app(title=self.title, description=self.description, routers=self.routers)
        app.add_middleware(IdempotencyMiddleware, db=self.service.db, table=self.tables.idempotency)
        # Added last, so outermost: a retried write answered from the idempotency table counts too.
        app.add_middleware(RequestTelemetry)
        app.state.units = self.units
        app.state.clock = self.clock
        return app


def run(bootstrap: Callable[[], ServiceApp[U]]) -> None:
    """Entry point body of every service: build, configure logs and traces, serve; bad config exits 2."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        service_app = bootstrap()
        settings = service_app.settings
        logs.configure(settings.service_name, format_=settings.log_format, level=settings.log_level)
        tracing.configure(settings.service_name)
    except (ValidationError, ValueError) as error:
        print(f"configuration error:\n{error}", file=sys.stderr)
        raise SystemExit(2) from None
    service_app.service.serve(service_app.http_app())
