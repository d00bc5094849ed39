"""Bearer tokens: only a token signed by a key of the key set, for our issuer and audience and not
expired, names a caller; every other is refused with 401 before any route runs."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from servicekit.auth import AuthSettings, Role, TokenVerifier
from servicekit.dev_token import AUDIENCE, ISSUER, issue_token, new_signing_key, public_key_set
from servicekit.errors import Unauthenticated
from servicekit.http import CALLER, AuthenticationMiddleware

KEY = new_signing_key()


@pytest.fixture
def verifier(tmp_path: Path) -> TokenVerifier:
    key_set = tmp_path / "jwks.json"
    key_set.write_text(json.dumps(public_key_set(KEY)))
    return TokenVerifier(AuthSettings(issuer=ISSUER, audience=AUDIENCE, leeway_seconds=30, jwks_file=key_set))


def signed(key: dict[str, Any] = KEY, **overrides: Any) -> str:
    claims: dict[str, Any] = {
        "subject": "ann",
        "roles": ("billing",),
        "accounts": ["acme"],
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "ttl": timedelta(minutes=5),
        "now": datetime.now(UTC),
    }
    return issue_token(key, **(claims | overrides))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(header: dict[str, Any], secret: bytes | None) -> str:
    """A token made by hand: unsigned (`alg: none`) or signed with HMAC over a secret it names."""
    claims = {"sub": "mallory", "roles": ["admin"], "accounts": "*", "iss": ISSUER, "aud": AUDIENCE}
    claims["exp"] = int((datetime.now(UTC) + timedelta(minutes=5)).timestamp())
    body = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = b"" if secret is None else hmac.new(secret, body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(signature)}"


async def test_a_token_of_the_key_set_names_the_caller_its_roles_and_accounts(
    verifier: TokenVerifier,
) -> None:
    caller = await verifier.verify(signed())

    assert (caller.subject, caller.roles, caller.accounts) == ("ann", {Role.BILLING}, {"acme"})
    assert caller.origin.actor == "ann"


public_key = json.dumps(public_key_set(KEY)["keys"][0]).encode()

BAD_TOKENS: dict[str, Callable[[], str]] = {
    "expired": lambda: signed(now=datetime.now(UTC) - timedelta(hours=1)),
    "signed by another key": lambda: signed(new_signing_key() | {"kid": KEY["kid"]}),
    "for another audience": lambda: signed(audience="someone-else"),
    "from another issuer": lambda: signed(issuer="https://evil.example"),
    "unsigned (alg none)": lambda: forged({"alg": "none", "typ": "JWT"}, None),
    "HMAC over the public key": lambda: forged({"alg": "HS256", "kid": KEY["kid"]}, public_key),
    "of an unknown key id": lambda: signed(new_signing_key()),
    "not a token": lambda: "not.a.token",
}


@pytest.mark.parametrize("made", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
async def test_a_bad_token_names_no_caller(verifier: TokenVerifier, made: Callable[[], str]) -> None:
    with pytest.raises(Unauthenticated, match="not valid"):
        await verifier.verify(made())


async def test_a_token_just_past_its_expiry_is_taken_within_the_clock_skew_allowed(
    verifier: TokenVerifier,
) -> None:
    # expired ten seconds ago; the skew allowed is 30
    token = signed(now=datetime.now(UTC) - timedelta(minutes=5, seconds=10))

    assert (await verifier.verify(token)).subject == "ann"


def app(verifier: TokenVerifier) -> httpx.AsyncClient:
    async def who(request: Request) -> JSONResponse:
        caller = getattr(request.state, CALLER, None)
        return JSONResponse({"caller": caller.subject if caller else None})

    routes = [Route("/health", who), Route("/contracts", who)]
    asgi = AuthenticationMiddleware(Starlette(routes=routes), verifier, open_paths={"/health"})
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://service")


@pytest.mark.parametrize(
    "authorization",
    [None, "Basic YW5uOnB3", "Bearer ", *(f"Bearer {made()}" for made in BAD_TOKENS.values())],
)
async def test_a_request_without_a_valid_token_is_refused_before_any_route_runs(
    verifier: TokenVerifier, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    async with app(verifier) as client:
        response = await client.get("/contracts", headers=headers)

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["title"] == "Unauthenticated" and "caller" not in response.json()


async def test_open_paths_need_no_token_and_a_valid_token_reaches_the_route(verifier: TokenVerifier) -> None:
    async with app(verifier) as client:
        health = await client.get("/health")
        contracts = await client.get("/contracts", headers={"Authorization": f"Bearer {signed()}"})

    assert (health.status_code, health.json()) == (200, {"caller": None})
    assert (contracts.status_code, contracts.json()) == (200, {"caller": "ann"})


async def test_a_token_verified_once_is_not_verified_again_until_the_key_set_changes(
    verifier: TokenVerifier, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = signed()
    first = await verifier.verify(token)
    checks: list[str] = []
    real_decode = jwt.decode

    def counted(*args: Any, **kwargs: Any) -> Any:
        checks.append("decode")
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counted)

    assert await verifier.verify(token) == first
    assert checks == []

    # The key set rotated: a token of the old key no longer verifies, though it was verified before.
    key_set = tmp_path / "jwks.json"
    key_set.write_text(json.dumps(public_key_set(new_signing_key())))
    stat = key_set.stat()
    os.utime(key_set, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    with pytest.raises(Unauthenticated):
        await verifier.verify(token)


async def test_an_expired_token_is_refused_though_it_was_verified_before(verifier: TokenVerifier) -> None:
    token = signed(ttl=timedelta(seconds=1), now=datetime.now(UTC) - timedelta(seconds=29.2))
    await verifier.verify(token)  # within the 30 s of leeway

    await asyncio.sleep(2.0)

    with pytest.raises(Unauthenticated):
        await verifier.verify(token)
