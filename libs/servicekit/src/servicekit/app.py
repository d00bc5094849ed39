"""The skeleton every service's bootstrap fills in: its Service, units of work and HTTP app."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Generic, TypeVar

from fastapi import APIRouter, FastAPI
from pydantic import ValidationError
from sqlalchemy import MetaData

from servicekit.idempotency import IdempotencyMiddleware
from servicekit.service import Service
from servicekit.settings import ServiceSettings
from servicekit.tables import MessagingTables
from servicekit.uow import UnitOfWork

U = TypeVar("U", bound=UnitOfWork)


class ServiceApp(Generic[U]):
    """A service's process-wide parts. Subclasses set the class attributes and add their consumers."""

    title: str
    description: str
    unit_of_work: type[U]

    def __init__(
        self,
        settings: ServiceSettings,
        metadata: MetaData,
        tables: MessagingTables,
        migrations_dir: Path,
    ) -> None:
        self.settings = settings
        self.tables = tables
        self.service = Service(settings, metadata, tables, migrations_dir)

    def uow(self) -> U:
        """A unit of work that writes and publishes."""
        return self.unit_of_work(
            self.service.db, self.tables, self.service.relay, source=self.settings.service_name
        )

    def read(self) -> U:
        """A unit of work for queries only."""
        return self.unit_of_work(
            self.service.db, self.tables, None, source=self.settings.service_name, read_only=True
        )

    def routers(self) -> Sequence[APIRouter]:
        raise NotImplementedError

    def http_app(self) -> FastAPI:
        app = self.service.http_app(title=self.title, description=self.description, routers=self.routers())
        app.add_middleware(IdempotencyMiddleware, db=self.service.db, table=self.tables.idempotency)
        app.state.service_app = self
        return app


def run(bootstrap: Callable[[], ServiceApp[U]]) -> None:
    """Entry point body of every service: configure logging, build, serve; bad config exits 2."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        service_app = bootstrap()
    except ValidationError as error:
        print(f"configuration error:\n{error}", file=sys.stderr)
        raise SystemExit(2) from None
    service_app.service.serve(service_app.http_app())
