"""Idempotency-Key on REST writes, on a real database: replay, refusal, and an abandoned reservation."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import MetaData, insert

from servicekit.auth import AuthSettings, TokenVerifier
from servicekit.db import Database
from servicekit.dev_token import AUDIENCE, ISSUER
from servicekit.http import AuthenticationMiddleware
from servicekit.idempotency import IdempotencyMiddleware
from servicekit.tables import MessagingTables
from tests.support.auth import JWKS_FILE, bearer


@pytest.fixture
async def api(
    database_url: Callable[[str], str],
) -> AsyncIterator[tuple[httpx.AsyncClient, Database, list[int]]]:
    metadata = MetaData()
    tables = MessagingTables(metadata)
    db = Database(database_url("idempotency"))
    async with db.engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    calls: list[int] = []
    app = FastAPI()

    @app.post("/charges", status_code=201)
    async def charge(body: dict[str, int]) -> dict[str, int]:
        calls.append(body["amount"])
        return {"charge": len(calls)}

    app.add_middleware(IdempotencyMiddleware, db=db, table=tables.idempotency)
    verifier = TokenVerifier(AuthSettings(ISSUER, AUDIENCE, 30, jwks_file=JWKS_FILE))
    app.add_middleware(AuthenticationMiddleware, verifier=verifier, open_paths=())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers=bearer(subject="ann")
    ) as client:
        yield client, db, calls
    await db.dispose()


async def test_a_retry_with_the_same_key_gets_the_first_answer_without_a_second_effect(api) -> None:  # type: ignore[no-untyped-def]
    client, _, calls = api
    first = await client.post("/charges", json={"amount": 5}, headers={"Idempotency-Key": "k1"})
    again = await client.post("/charges", json={"amount": 5}, headers={"Idempotency-Key": "k1"})
    other = await client.post("/charges", json={"amount": 6}, headers={"Idempotency-Key": "k1"})
    assert (first.status_code, again.status_code, other.status_code) == (201, 201, 422)
    assert again.json() == first.json() and calls == [5]


async def test_a_key_whose_request_died_half_way_can_be_retried_later(api) -> None:  # type: ignore[no-untyped-def]
    client, db, calls = api
    tables = MessagingTables(MetaData())
    # The fingerprint of the request is taken from a real one, then two crashed reservations are staged.
    assert (
        await client.post("/charges", json={"amount": 7}, headers={"Idempotency-Key": "probe"})
    ).status_code == 201
    async with db.transaction() as session:
        rows = (await session.execute(tables.idempotency.select())).mappings().all()
        fingerprint = next(row["request_fingerprint"] for row in rows if row["key"] == "probe")
    stale = {"owner": "ann", "request_fingerprint": fingerprint, "status_code": 0, "response_body": b""}
    async with db.transaction() as session:
        for key, age in (("died", timedelta(minutes=5)), ("running", timedelta(seconds=5))):
            await session.execute(
                insert(tables.idempotency).values(key=key, created_at=datetime.now(UTC) - age, **stale)
            )
    died = await client.post("/charges", json={"amount": 7}, headers={"Idempotency-Key": "died"})
    running = await client.post("/charges", json={"amount": 7}, headers={"Idempotency-Key": "running"})
    assert died.status_code == 201
    assert running.status_code == 409
    assert calls == [7, 7]


async def test_a_key_belongs_to_its_caller_another_caller_using_it_gets_an_answer_of_their_own(api) -> None:  # type: ignore[no-untyped-def]
    client, _, calls = api
    ann = await client.post("/charges", json={"amount": 5}, headers={"Idempotency-Key": "shared"})
    bob = await client.post(
        "/charges", json={"amount": 5}, headers={"Idempotency-Key": "shared", **bearer(subject="bob")}
    )
    assert (ann.status_code, bob.status_code) == (201, 201)
    assert "idempotent-replayed" not in bob.headers
    assert (ann.json(), bob.json(), calls) == ({"charge": 1}, {"charge": 2}, [5, 5])
