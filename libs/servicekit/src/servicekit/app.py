"""The skeleton every service's bootstrap fills in: its process, units of work, clock and HTTP app."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar

from fastapi import APIRouter, FastAPI
from pydantic import ValidationError
from sqlalchemy import MetaData

from servicekit import idempotency, logs, problems, tracing
from servicekit.api import UnitsOfWork
from servicekit.auth import TokenVerifier
from servicekit.clock import Clock, utc_now
from servicekit.http import AuthenticationMiddleware, BodyLimitMiddleware, SecurityHeadersMiddleware
from servicekit.idempotency import IdempotencyMiddleware
from servicekit.operations import RequestTelemetry
from servicekit.purge import purge_expired
from servicekit.scheduler import every
from servicekit.service import Service
from servicekit.settings import ServiceSettings
from servicekit.tables import MessagingTables
from servicekit.uow import UnitOfWork

U = TypeVar("U", bound=UnitOfWork)

OPEN_PATHS = (
    "/health",
    "/ready",
    "/metrics",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
    "/openapi.json",
    "/asyncapi.json",
)
"""What answers without a bearer token: probes, metrics and the API's own documents."""
PURGE_INTERVAL_SECONDS = 3600.0


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
        self.verifier = TokenVerifier(settings.auth)
        self.service.add_background_loop(every(PURGE_INTERVAL_SECONDS, self._purge, job="purge"))

    async def _purge(self) -> int:
        return await purge_expired(
            self.service.db,
            self.tables,
            now=utc_now(),  # the rows' stamps are the wall clock's, whatever clock the business runs on
            keys_kept_for=idempotency.KEPT_FOR,
            inbox_kept_for=timedelta(days=self.settings.inbox_kept_days),
            outbox_kept_for=timedelta(days=self.settings.outbox_kept_days),
        )

    def uow(self) -> U:
        """A unit of work that writes and publishes."""
        return self.units.write()

    def read(self) -> U:
        """A unit of work for queries only."""
        return self.units.read()

    def http_app(self) -> FastAPI:
        app = self.service.http_app(title=self.title, description=self.description, routers=self.routers)
        _document_problems(app)
        # Added innermost first: the caller is known before Idempotency-Key looks up its keys.
        app.add_middleware(IdempotencyMiddleware, db=self.service.db, table=self.tables.idempotency)
        app.add_middleware(AuthenticationMiddleware, verifier=self.verifier, open_paths=OPEN_PATHS)
        app.add_middleware(BodyLimitMiddleware, max_bytes=self.settings.max_body_bytes)
        app.add_middleware(SecurityHeadersMiddleware)
        # Outermost: refusals (401, 413) and writes answered from the idempotency table count too.
        app.add_middleware(RequestTelemetry)
        app.state.units = self.units
        app.state.clock = self.clock
        return app


def _document_problems(app: FastAPI) -> None:
    """Every operation's OpenAPI answers name the problem statuses it can give (`problems`)."""
    plain = app.openapi

    def with_problems() -> dict[str, Any]:
        if getattr(app.state, "problems_documented", False):
            return plain()
        schema = plain()
        problems.document_problems(schema, frozenset(OPEN_PATHS))
        app.state.problems_documented = True
        return schema

    app.openapi = with_problems  # type: ignore[method-assign]


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
