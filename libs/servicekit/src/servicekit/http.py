"""ASGI middleware every service's HTTP app runs: response hygiene, a body size limit, and the caller.

Outermost first: security headers on every response; a request body larger than the service takes is
refused with 413 before anything reads it all; the bearer token is verified once, a request without a
valid one is refused with 401 before it reaches any route (so a route that forgets to ask for the
caller still serves no one anonymous), and the caller is kept in the request's state, where the
Idempotency-Key middleware (which scopes keys to the caller) and the routes' `authenticated`
dependency find it.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.auth import Caller, TokenVerifier
from servicekit.errors import Unauthenticated
from servicekit.problems import CHALLENGE, PROBLEM_JSON, Problem, problem_type

CALLER = "caller"
"""Key of the verified `Caller` in the request's state."""


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


def _replay(first: Message, receive: Receive) -> Receive:
    """`first`, then what the server sends next (a disconnect)."""
    pending: list[Message] = [first]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


class BodyLimitMiddleware:
    """Refuse request bodies over `max_bytes` with 413: by their Content-Length at once; a body sent
    without one (chunked) is read here, up to the limit, and handed on whole. Refused while the app
    reads it, it would be a 400: FastAPI takes any error in reading a body for a malformed one."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self._app = app
        self._max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.isdigit() or int(declared) > self._max_bytes:
                await send_problem(send, scope, 413, "RequestTooLarge", self._too_large())
                return
            await self._app(scope, receive, send)  # the server holds the body to its Content-Length
            return
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: the app is told so
                await self._app(scope, _replay(message, receive), send)
                return
            chunks.append(message.get("body", b""))
            received += len(chunks[-1])
            if received > self._max_bytes:
                await send_problem(send, scope, 413, "RequestTooLarge", self._too_large())
                return
            if not message.get("more_body", False):
                break
        whole: Message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self._app(scope, _replay(whole, receive), send)

    def _too_large(self) -> str:
        return f"the request body is larger than {self._max_bytes} bytes"


class AuthenticationMiddleware:
    """Verify the bearer token of every request but those to `open_paths` (health, readiness, metrics,
    the API's own documents): refuse the request with 401 when there is none or it does not verify,
    else keep the caller in the request's state."""

    def __init__(self, app: ASGIApp, verifier: TokenVerifier, open_paths: Collection[str]) -> None:
        self._app = app
        self._verifier = verifier
        self._open_paths = frozenset(open_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in self._open_paths:
            try:
                caller = await self._caller(_header(scope, b"authorization"))
            except Unauthenticated as error:
                await send_problem(
                    send, scope, 401, "Unauthenticated", str(error), [(b"www-authenticate", CHALLENGE)]
                )
                return
            scope.setdefault("state", {})[CALLER] = caller
        await self._app(scope, receive, send)

    async def _caller(self, authorization: str | None) -> Caller:
        if authorization is None:
            raise Unauthenticated("this needs a bearer token (Authorization: Bearer ...)")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
        return await self._verifier.verify(token.strip())


def _header(scope: Scope, name: bytes) -> str | None:
    for header, value in scope.get("headers", []):
        if header == name:
            return bytes(value).decode("latin-1")
    return None


async def send_problem(
    send: Send,
    scope: Scope,
    status: int,
    name: str,
    detail: str,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
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
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
