"""ASGI middleware every service's HTTP app runs: response hygiene, a body size limit, and the caller.

Outermost first: security headers on every response; a request body larger than the service takes is
refused with 413 before anything reads it all; the bearer token, if any, is verified once and the
caller kept in the request's state, where the Idempotency-Key middleware (which scopes keys to the
caller) and the routes' `authenticated` dependency find it.
"""

from __future__ import annotations

import json
from collections.abc import Collection

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.auth import TokenVerifier
from servicekit.errors import Unauthenticated
from servicekit.problems import PROBLEM_JSON, Problem, problem_type

CALLER = "caller"
"""Key of the verified `Caller` (or the `Unauthenticated` error) in the request's state."""


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(name, value) for name, value in message.get("headers", []) if name != b"server"]
                headers.append((b"x-content-type-options", b"nosniff"))
                message = {**message, "headers": headers}
            await send(message)

        await self._app(scope, receive, with_headers)


class _TooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """Refuse request bodies over `max_bytes`: by their Content-Length at once, else while they stream."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self._app = app
        self._max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self._max_bytes):
            await send_problem(send, scope, 413, "RequestTooLarge", self._too_large())
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self._max_bytes:
                    raise _TooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, counted, watched)
        except _TooLarge:
            if not started:
                await send_problem(send, scope, 413, "RequestTooLarge", self._too_large())

    def _too_large(self) -> str:
        return f"the request body is larger than {self._max_bytes} bytes"


class AuthenticationMiddleware:
    """Verify the bearer token of every request but those to `open_paths` (health, readiness, metrics,
    the API's own documents); keep the caller, or why there is none, in the request's state."""

    def __init__(self, app: ASGIApp, verifier: TokenVerifier, open_paths: Collection[str]) -> None:
        self._app = app
        self._verifier = verifier
        self._open_paths = frozenset(open_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in self._open_paths:
            state = scope.setdefault("state", {})
            authorization = _header(scope, b"authorization")
            scheme, _, token = (authorization or "").partition(" ")
            if authorization is None:
                state[CALLER] = Unauthenticated("this needs a bearer token (Authorization: Bearer ...)")
            elif scheme.lower() != "bearer" or not token.strip():
                state[CALLER] = Unauthenticated("the Authorization header must be 'Bearer <token>'")
            else:
                try:
                    state[CALLER] = await self._verifier.verify(token.strip())
                except Unauthenticated as error:
                    state[CALLER] = error
        await self._app(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for header, value in scope.get("headers", []):
        if header == name:
            return bytes(value).decode("latin-1")
    return None


async def send_problem(send: Send, scope: Scope, status: int, name: str, detail: str) -> None:
    body = Problem(
        type=problem_type(name), title=name, status=status, detail=detail, instance=scope.get("path")
    ).model_dump(exclude_none=True)
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
