"""A database out of reach is the world's failure, not the caller's: 503 with Retry-After, never 500
(failure 4 of issue 11: `/usage` answered 500 while PostgreSQL was down)."""

from __future__ import annotations

import uuid

import httpx

from billing.bootstrap import bootstrap
from billing.config import BillingSettings
from tests.support.auth import bearer

NOWHERE = "postgresql+asyncpg://billing_app:billing_app@127.0.0.1:9/billing"  # nothing listens there


async def test_rest_answers_503_with_retry_after_while_the_database_is_out_of_reach() -> None:
    service = bootstrap(BillingSettings(database_url=NOWHERE, KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9"))
    transport = httpx.ASGITransport(app=service.http_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://billing", headers=bearer()) as api:
        response = await api.get(f"/contracts/{uuid.uuid4()}/usage")

    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/service-unavailable")
