"""A service process: database, broker, outbox relay, consumers, background loops and the HTTP app."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import MetaData, text
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException

from contracts_schema.registry import DLQ_SUFFIX
from servicekit import api, migrations, operations, problems, tracing
from servicekit.consumers import Consumers
from servicekit.db import Database
from servicekit.errors import DomainError
from servicekit.faults import is_transient
from servicekit.kafka import KafkaSender, ensure_topics, make_broker, missing_topics
from servicekit.outbox import OutboxRelay
from servicekit.settings import ServiceSettings
from servicekit.tables import MessagingTables

log = logging.getLogger(__name__)

BackgroundLoop = Callable[[], Awaitable[None]]


class Service:
    """Everything one service process runs, started and stopped in order."""

    def __init__(
        self,
        settings: ServiceSettings,
        metadata: MetaData,
        tables: MessagingTables,
        migrations_dir: Path,
    ) -> None:
        self.settings = settings
        self.metadata = metadata
        self.tables = tables
        self.migrations_dir = migrations_dir
        _ensure_sqlite_folder(settings.database_url)
        self.db = Database(settings.database_url)
        self.broker = make_broker(
            settings.kafka_bootstrap_servers, settings.service_name, settings.kafka_security
        )
        self.sender = KafkaSender(
            settings.kafka_bootstrap_servers, settings.service_name, settings.kafka_security
        )
        self.relay = OutboxRelay(
            self.db,
            tables,
            self.sender,
            batch_size=settings.relay_batch_size,
            poll_seconds=settings.relay_poll_seconds,
        )
        self.consumers = Consumers(
            self.broker, settings.service_name, max_records=settings.consumer_batch_size
        )
        self._loops: list[BackgroundLoop] = [self.relay.run, partial(operations.watch_outbox, self.relay)]
        self._tasks: list[asyncio.Task[None]] = []
        self.started = False

    def add_background_loop(self, loop: BackgroundLoop) -> None:
        self._loops.append(loop)

    async def start(self) -> None:
        if self.settings.run_migrations:
            await asyncio.to_thread(migrations.upgrade, self.settings.database_url, self.migrations_dir)
        await self._topics_ready()
        await self.broker.start()
        await self.sender.start()
        self._tasks = [asyncio.create_task(_supervised(loop)) for loop in self._loops]
        self.started = True
        settle_heap()
        log.info("%s started", self.settings.service_name)

    async def _topics_ready(self) -> None:
        """Create the topics, or, for a user that may not (KAFKA_CREATE_TOPICS=false), check that those it
        reads and dead-letters to are there: a consumer of a missing topic would wait without a word."""
        bootstrap, security = self.settings.kafka_bootstrap_servers, self.settings.kafka_security
        if self.settings.kafka_create_topics:
            await ensure_topics(bootstrap, security=security)
            return
        needed = [name for topic in self.consumers.topics for name in (topic, topic + DLQ_SUFFIX)]
        missing = await missing_topics(bootstrap, needed, security)
        if missing:
            user = security.username or "this client"
            raise RuntimeError(
                f"topics missing or not readable by {user}: {', '.join(missing)}; "
                "an administrator creates them (python -m servicekit.admin create-topics) and grants the "
                "ACLs (python -m servicekit.admin acls apply)"
            )

    async def stop(self) -> None:
        self.started = False
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.sender.stop()
        await self.broker.stop()
        await self.db.dispose()

    async def is_ready(self) -> dict[str, bool]:
        checks = {"started": self.started, "database": False, "kafka": False}
        with contextlib.suppress(Exception):
            async with self.db.read() as session:
                await session.execute(text("SELECT 1"))
            checks["database"] = True
        with contextlib.suppress(Exception):
            checks["kafka"] = bool(await self.broker.ping(timeout=2.0))
        return checks

    def http_app(self, *, title: str, description: str, routers: Sequence[APIRouter]) -> FastAPI:
        @asynccontextmanager
        async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
            await self.start()
            try:
                yield
            finally:
                await self.stop()

        docs = self.settings.docs_enabled
        app = FastAPI(
            title=title,
            description=description,
            version="1.0.0",
            lifespan=lifespan,
            docs_url="/docs" if docs else None,
            redoc_url="/redoc" if docs else None,
            openapi_url="/openapi.json" if docs else None,
            telemetry=tracing.fastapi_telemetry(),
        )
        app.state.service = self
        handlers: list[tuple[type[Exception], Any]] = [
            (DomainError, problems.domain_error),
            (RequestValidationError, problems.validation_error),
            (HTTPException, problems.http_error),
            (IntegrityError, _lost_a_race),
            (Exception, _unexpected),
        ]
        for error_type, handler in handlers:
            app.add_exception_handler(error_type, handler)

        @app.get("/health", tags=["operations"], summary="The process is up")
        async def health() -> dict[str, str]:
            return {"status": "ok", "service": self.settings.service_name}

        @app.get("/ready", tags=["operations"], summary="Database and Kafka answer")
        async def ready() -> JSONResponse:
            checks = await self.is_ready()
            return JSONResponse(status_code=200 if all(checks.values()) else 503, content=checks)

        name = self.settings.service_name
        every_router = [
            operations.operations_router(name, self.relay, lambda: self.consumers.topics),
            *routers,
        ]
        for router in every_router:
            app.include_router(router)
        api.document_roles(app, every_router)
        return app

    def serve(self, app: FastAPI) -> None:
        uvicorn.run(
            app,
            host=self.settings.http_host,
            port=self.settings.http_port,
            log_level="info",
            access_log=False,
            log_config=None,  # our handlers (servicekit.logs), not uvicorn's own
            server_header=False,
        )


COLLECTOR_THRESHOLDS = (50_000, 10, 10)
"""Python's default (700, 10, 10) collects young objects every 700 allocations. A consumer's batch
keeps a few thousand models alive until it commits, so at the default each batch ran dozens of young
collections and several older ones over them: a fifth of billing's CPU per entry and a tenth of
timetracking's (bench/handler_cpu.py). The older generations keep their default ratios, so cyclic
garbage waits at most ten times longer than it did; reference counting still frees the rest at once."""


def settle_heap() -> None:
    """Once started: what is alive now (modules, models, schemas, compiled statements) lives as long as
    the process. Collected once, then frozen out of the collector's sight, its full collections scan
    only what the work makes; without this each one walked a few hundred thousand objects."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*COLLECTOR_THRESHOLDS)


async def _lost_a_race(request: Request, error: IntegrityError) -> JSONResponse:
    # Two writers raced for the same key (one number, one id): the loser may simply retry.
    log.info("write lost a race: %s", error.orig)
    return problems.problem_response(
        request, 409, "ConcurrentChange", "conflicts with a concurrent change; retry the request"
    )


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    """A dependency out of reach is a 503 to retry; anything else is our bug, a 500 that says nothing more."""
    if is_transient(error):
        log.warning("%s %s: a dependency is out of reach: %r", request.method, request.url.path, error)
        return problems.problem_response(
            request,
            503,
            "ServiceUnavailable",
            "a dependency of the service is out of reach; retry shortly",
            headers={"Retry-After": "5"},
        )
    log.exception("%s %s failed", request.method, request.url.path)
    return problems.problem_response(
        request, 500, "InternalError", "the service failed to answer this request"
    )


async def _supervised(loop: BackgroundLoop) -> None:
    """Run a background loop forever; a crash is logged and the loop restarted, never silently lost."""
    while True:
        try:
            await loop()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background loop %s crashed; restarting", getattr(loop, "__qualname__", loop))
            await asyncio.sleep(1.0)


def _ensure_sqlite_folder(database_url: str) -> None:
    prefix = "sqlite+aiosqlite:///"
    if database_url.startswith(prefix):
        path = database_url[len(prefix) :].split("?", 1)[0]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
