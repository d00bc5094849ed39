"""What a service shows the people who run it: request metrics and spans, `/metrics`, the outbox
backlog (`/ops/outbox`) and its part of the AsyncAPI document (`/asyncapi.json`)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts_schema import TOPICS
from contracts_schema.cli import build_asyncapi, owning_service
from servicekit import logs
from servicekit.api import allow
from servicekit.auth import Role
from servicekit.metrics import (
    HTTP_LATENCY,
    HTTP_REQUESTS,
    OUTBOX_OLDEST_PENDING,
    OUTBOX_PARKED_NOW,
    OUTBOX_PENDING,
)
from servicekit.outbox import OutboxRelay
from servicekit.problems import responses

log = logging.getLogger(__name__)

OUTBOX_GAUGE_SECONDS = 5.0


class RequestTelemetry:
    """ASGI middleware: counts and times each request by route template (not by path, which would
    make one series per bill id) and binds its context to log lines. The request's span is FastAPI's
    own native OpenTelemetry span, made when tracing is on (`servicekit.tracing`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        started = time.perf_counter()
        headers = scope.get("headers") or []
        actor = next((value.decode("latin-1") for name, value in headers if name == b"x-actor"), None)
        with logs.bound(http_method=method, http_path=scope["path"], actor=actor):
            try:
                await self.app(scope, receive, send_and_note)
            finally:
                route = _route_of(scope)
                HTTP_REQUESTS.labels(method, route, str(status)).inc()
                HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - started)


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class OutboxOut(BaseModel):
    service: str
    pending: int = Field(description="rows not yet sent to Kafka")
    oldest_pending_at: datetime | None = Field(description="when the oldest unsent row was written")
    oldest_pending_seconds: float = Field(description="its age; 0 when nothing is pending")
    parked: int = Field(
        description="rows Kafka would not take (or waiting behind one of their key): see the logs for why, "
        "fix the cause, then release them"
    )


class ReleaseIn(BaseModel):
    message_ids: list[str] | None = Field(
        default=None, max_length=1000, description="the parked events to release; all when left out"
    )


class ReleasedOut(BaseModel):
    released: int


def operations_router(
    service: str, relay: OutboxRelay, consumed_topics: Callable[[], Collection[str]]
) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @router.get(
        "/ops/outbox",
        summary="Outbox rows not yet sent to Kafka",
        dependencies=[allow(Role.ADMIN)],
        responses=responses(401, 403),
    )
    async def outbox() -> OutboxOut:
        backlog = await relay.backlog()
        return OutboxOut(
            service=service,
            pending=backlog.pending,
            oldest_pending_at=backlog.oldest_at,
            oldest_pending_seconds=backlog.age_seconds(datetime.now(UTC)),
            parked=backlog.parked,
        )

    @router.post(
        "/ops/outbox/release",
        summary="Send parked outbox rows again, once their cause is fixed",
        dependencies=[allow(Role.ADMIN)],
        responses=responses(401, 403, 422),
    )
    async def release(body: ReleaseIn) -> ReleasedOut:
        """Parked rows go back in line and are sent in their order; a row that still cannot be sent
        is parked again."""
        return ReleasedOut(released=await relay.release_parked(body.message_ids))

    @router.get("/asyncapi.json", summary="AsyncAPI 3.0 document of the topics this service uses")
    async def asyncapi() -> dict[str, Any]:
        return service_asyncapi(service, consumed_topics())

    return router


def service_asyncapi(service: str, consumed: Collection[str]) -> dict[str, Any]:
    """The channels this service publishes (its own topics) or consumes, from contracts-schema."""
    topics = [topic for topic in TOPICS if owning_service(topic) == service or topic.name in consumed]
    document = build_asyncapi(topics)
    document["info"]["title"] = f"{service}: messages it publishes and consumes"
    return document


async def watch_outbox(relay: OutboxRelay) -> None:
    """Keep the outbox gauges current; a query every few seconds, whatever the scrape rate."""
    while True:
        try:
            backlog = await relay.backlog()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning("outbox backlog not measured: %r", error)
        else:
            OUTBOX_PENDING.set(backlog.pending)
            OUTBOX_OLDEST_PENDING.set(backlog.age_seconds(datetime.now(UTC)))
            OUTBOX_PARKED_NOW.set(backlog.parked)
        await asyncio.sleep(OUTBOX_GAUGE_SECONDS)
