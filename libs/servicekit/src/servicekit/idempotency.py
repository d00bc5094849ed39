"""Idempotency-Key on REST writes: a retried request gets the first response back, not a second effect.

Keys belong to the caller (the token's subject): two callers using the same key never see each other's
responses. The key is reserved before the request runs (so two concurrent requests with one key cannot
both run) and the response is stored when it is final. Same key and same request: the stored response,
replayed. Same key, different request (method, path, query or body): 422. Still running: 409. A server
error releases the key, so the client may retry it. Keys are kept for `KEPT_FOR` and then purged.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Table, delete, select, update
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.auth import Caller
from servicekit.db import Database
from servicekit.http import CALLER, send_problem
from servicekit.sql import as_utc, insert_on_conflict

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_IN_PROGRESS = 0
# A reservation this old belongs to a request whose process died: a retry may take the key over.
ABANDONED_AFTER = timedelta(minutes=2)
KEPT_FOR = timedelta(hours=24)
"""How long a response is replayed for its key; older keys are purged and may be used again."""


_KEY_DESCRIPTION = "makes a retry of this write safe: the same key and body replay the first response"


def idempotent_write() -> dict[str, Any]:
    """`openapi_extra=` of a write route: its OpenAPI shows the header `IdempotencyMiddleware` honours.
    Not a dependency: FastAPI would solve it on every request, for a header the middleware has already
    dealt with (it refuses a bad key with 422 before the route is reached). A new dict for each route:
    FastAPI puts its lists into the document as they are, and routes must not share them."""
    return {
        "parameters": [
            {
                "name": HEADER,
                "in": "header",
                "required": False,
                "description": _KEY_DESCRIPTION,
                "schema": {
                    "anyOf": [{"type": "string", "maxLength": MAX_KEY_LENGTH}, {"type": "null"}],
                    "title": HEADER,
                    "description": _KEY_DESCRIPTION,
                },
            }
        ]
    }


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: bytes
    content_type: str


class IdempotencyMiddleware:
    """ASGI middleware over the service's `idempotency_keys` table."""

    def __init__(self, app: ASGIApp, db: Database, table: Table) -> None:
        self._app = app
        self._db = db
        self._table = table

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITE_METHODS:
            await self._app(scope, receive, send)
            return
        key = _header(scope, HEADER.lower().encode())
        caller = scope.get("state", {}).get(CALLER)
        if key is None or not isinstance(caller, Caller):
            await self._app(scope, receive, send)  # no key, or no caller: the route answers 401
            return
        if not key or len(key) > MAX_KEY_LENGTH:
            await send_problem(
                send,
                scope,
                422,
                "InvalidIdempotencyKey",
                f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters",
            )
            return
        owner = caller.subject
        body = await _read_body(receive)
        fingerprint = _fingerprint(scope, body)
        stored = await self._reserve(owner, key, fingerprint)
        if isinstance(stored, StoredResponse):
            await _send_raw(send, stored.status_code, stored.body, stored.content_type, replayed=True)
        elif stored == "reserved":
            await self._run(scope, receive, body, send, owner, key)
        elif stored == "in progress":
            await send_problem(
                send,
                scope,
                409,
                "IdempotencyKeyInUse",
                f"a request with this {HEADER} is still being processed",
            )
        else:
            await send_problem(
                send,
                scope,
                422,
                "IdempotencyKeyReused",
                f"this {HEADER} was already used with a different request",
            )

    async def _reserve(
        self, owner: str, key: str, fingerprint: str
    ) -> StoredResponse | Literal["reserved", "in progress", "mismatch"]:
        t = self._table.c
        now = datetime.now(UTC)
        async with self._db.transaction() as session:
            insert = insert_on_conflict(session)
            inserted = await session.execute(
                insert(self._table)
                .values(
                    owner=owner,
                    key=key,
                    request_fingerprint=fingerprint,
                    status_code=_IN_PROGRESS,
                    response_body=b"",
                    content_type="",
                    created_at=now,
                )
                .on_conflict_do_nothing()
                .returning(t.key)
            )
            if inserted.first() is not None:
                return "reserved"
            row = (
                await session.execute(
                    select(
                        t.request_fingerprint, t.status_code, t.response_body, t.content_type, t.created_at
                    ).where(t.owner == owner, t.key == key)
                )
            ).one()
            if row.request_fingerprint != fingerprint:
                return "mismatch"
            if row.status_code == _IN_PROGRESS:
                if as_utc(row.created_at) > now - ABANDONED_AFTER:
                    return "in progress"
                # The process that reserved the key died before answering: this retry takes it over.
                taken = await session.execute(
                    update(self._table)
                    .where(
                        t.owner == owner,
                        t.key == key,
                        t.status_code == _IN_PROGRESS,
                        t.created_at == row.created_at,
                    )
                    .values(created_at=now)
                    .returning(t.key)
                )
                return "reserved" if taken.first() is not None else "in progress"
        return StoredResponse(row.status_code, bytes(row.response_body), row.content_type)

    async def _run(
        self, scope: Scope, receive: Receive, body: bytes, send: Send, owner: str, key: str
    ) -> None:
        status_code = 500
        content_type = ""
        chunks: list[bytes] = []
        body_sent = False

        async def replay_body() -> Message:
            nonlocal body_sent
            if body_sent:
                return await receive()  # after the body, only a disconnect can come
            body_sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def capture(message: Message) -> None:
            nonlocal status_code, content_type
            if message["type"] == "http.response.start":
                status_code = message["status"]
                content_type = next(
                    (
                        bytes(v).decode("latin-1")
                        for n, v in message.get("headers", [])
                        if n == b"content-type"
                    ),
                    "",
                )
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self._app(scope, replay_body, capture)
        except BaseException:
            await self._release(owner, key)
            raise
        if status_code >= 500:
            await self._release(owner, key)
        else:
            await self._store(owner, key, StoredResponse(status_code, b"".join(chunks), content_type))

    async def _store(self, owner: str, key: str, response: StoredResponse) -> None:
        t = self._table.c
        async with self._db.transaction() as session:
            await session.execute(
                update(self._table)
                .where(t.owner == owner, t.key == key)
                .values(
                    status_code=response.status_code,
                    response_body=response.body,
                    content_type=response.content_type,
                )
            )

    async def _release(self, owner: str, key: str) -> None:
        t = self._table.c
        async with self._db.transaction() as session:
            await session.execute(delete(self._table).where(t.owner == owner, t.key == key))


def _header(scope: Scope, name: bytes) -> str | None:
    for header, value in scope["headers"]:
        if header == name:
            return bytes(value).decode("latin-1").strip()
    return None


def _fingerprint(scope: Scope, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (scope["method"], scope["path"], scope.get("query_string", b"").decode("latin-1")):
        digest.update(part.encode() + b"\0")
    digest.update(_canonical(body))
    return digest.hexdigest()


def _canonical(body: bytes) -> bytes:
    """The same JSON with other whitespace or key order is the same request."""
    try:
        return json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (UnicodeDecodeError, ValueError):
        return body


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _send_raw(send: Send, status_code: int, body: bytes, content_type: str, *, replayed: bool) -> None:
    headers = [(b"content-length", str(len(body)).encode())]
    if body:
        headers.append((b"content-type", (content_type or "application/json").encode("latin-1")))
    if replayed:
        headers.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})
