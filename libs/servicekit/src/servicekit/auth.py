"""Who is calling over REST, and what they may do: bearer tokens, roles and account scopes.

Every REST request except health, readiness and metrics carries `Authorization: Bearer <JWT>`. The
token is verified (signature by a key of the configured key set, expiry, issuer, audience, with a
small clock skew allowed) and names the caller: `sub` becomes the actor of every event the request
publishes, `roles` say what it may do, and `accounts` which customer accounts it may see (a list, or
"*" for all). A resource of an account outside the list answers 404, as if it did not exist.

Key sets come from a JWKS URL (any OIDC provider) or a local JWKS file (the dev stack writes one, see
`servicekit.dev_token`). Only asymmetric algorithms are accepted, so a token signed with `alg: none`
or with a public key used as an HMAC secret never verifies.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import jwt
from jwt import PyJWKClient, PyJWKSet

from servicekit import tracing
from servicekit.errors import Forbidden, Unauthenticated
from servicekit.origin import Origin

ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "PS256")
ALL_ACCOUNTS = "*"
VERIFIED_KEPT_FOR = 60.0
"""Seconds a verified token is taken at its word before its signature is checked again."""
VERIFIED_KEPT_MAX = 10_000

AccountScope = frozenset[str] | None
"""The accounts a query may return: None for every account."""


class Role(StrEnum):
    ADMIN = "admin"
    """Everything, including plans and calendars."""
    BILLING = "billing"
    """Bills and their statuses, usage, contracts' commercial fields."""
    SUPPORT_REP = "support_rep"
    """Time entries (their own) and coverage."""
    INTEGRATION = "integration"
    """What a connected system writes: contracts, time entries."""
    VIEWER = "viewer"
    """Reads only."""


EVERY_ROLE = frozenset(Role)


@dataclass(frozen=True)
class Caller:
    subject: str
    roles: frozenset[Role]
    accounts: AccountScope

    @property
    def origin(self) -> Origin:
        """The actor every event of the request is signed with, the accounts it may touch, and the
        request's trace context (when tracing is on)."""
        return Origin(actor=self.subject, accounts=self.accounts, trace=tracing.outbox_headers(None))

    def sees(self, account_id: str) -> bool:
        return self.accounts is None or account_id in self.accounts

    def has(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    def require(self, *roles: Role) -> None:
        if not self.has(*roles):
            raise Forbidden(f"this needs the role {' or '.join(sorted(roles))}")


@dataclass(frozen=True)
class AuthSettings:
    issuer: str
    audience: str
    leeway_seconds: int
    jwks_url: str | None = None
    jwks_file: Path | None = None


class TokenVerifier:
    """Verifies bearer tokens against a key set: a JWKS URL (fetched and cached by PyJWT) or a file
    (read again when it changes, so a rotated dev key needs no restart)."""

    def __init__(self, settings: AuthSettings) -> None:
        if (settings.jwks_url is None) == (settings.jwks_file is None):
            raise ValueError("configure exactly one key set: AUTH_JWKS_URL or AUTH_JWKS_FILE")
        self._settings = settings
        self._client = PyJWKClient(settings.jwks_url, lifespan=300) if settings.jwks_url else None
        self._file_keys: tuple[float, PyJWKSet] | None = None
        self._verified: dict[str, tuple[object, float, Caller]] = {}

    async def verify(self, token: str) -> Caller:
        """The caller the token names. A token verified in the last `VERIFIED_KEPT_FOR` seconds, still
        unexpired and verified against the same key set, is not verified again: a client sends the same
        token with every request, and checking an ES256 signature costs more than most requests."""
        now = time.time()
        keys = self._key_set_version()
        kept = self._verified.get(token)
        if kept is not None and kept[0] == keys and now < kept[1]:
            return kept[2]
        caller, expires_at = await self._verify(token)
        if len(self._verified) >= VERIFIED_KEPT_MAX:
            self._verified.clear()
        self._verified[token] = (keys, min(expires_at, now + VERIFIED_KEPT_FOR), caller)
        return caller

    def _key_set_version(self) -> object:
        """The key file's modification time: a changed file is verified against at once. Keys from a
        URL are cached by PyJWT for five minutes anyway, longer than a verified token is kept."""
        if self._settings.jwks_file is not None:
            return self._settings.jwks_file.stat().st_mtime
        return None

    async def _verify(self, token: str) -> tuple[Caller, float]:
        try:
            key = await self._signing_key(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=list(ALGORITHMS),
                audience=self._settings.audience,
                issuer=self._settings.issuer,
                leeway=self._settings.leeway_seconds,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.PyJWTError as error:
            raise Unauthenticated(f"the bearer token is not valid: {error}") from None
        return _caller(claims), float(claims["exp"]) + self._settings.leeway_seconds

    async def _signing_key(self, token: str) -> Any:
        if self._client is not None:
            # PyJWT fetches with urllib: off the event loop. Keys are cached between calls.
            return (await asyncio.to_thread(self._client.get_signing_key_from_jwt, token)).key
        kid = jwt.get_unverified_header(token).get("kid")
        keys = self._keys_from_file()
        found = [key for key in keys.keys if kid is None or key.key_id == kid]
        if not found:
            raise jwt.InvalidKeyError(f"no key {kid!r} in the key set")
        return found[0].key

    def _keys_from_file(self) -> PyJWKSet:
        path = self._settings.jwks_file
        if path is None:
            raise jwt.InvalidKeyError("no key set configured")
        changed_at = path.stat().st_mtime
        if self._file_keys is None or self._file_keys[0] != changed_at:
            self._file_keys = (changed_at, PyJWKSet.from_json(path.read_text()))
        return self._file_keys[1]


def _caller(claims: dict[str, Any]) -> Caller:
    subject = claims["sub"]
    if not isinstance(subject, str) or not subject.strip():
        raise Unauthenticated("the bearer token names no subject")
    roles = frozenset(
        Role(role) for role in _strings(claims.get("roles", [])) if role in Role._value2member_map_
    )
    accounts = claims.get("accounts", [])
    scope: AccountScope = None if accounts == ALL_ACCOUNTS else frozenset(_strings(accounts))
    return Caller(subject=subject, roles=roles, accounts=scope)


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []
