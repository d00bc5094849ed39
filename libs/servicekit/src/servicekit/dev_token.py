"""Tokens for the dev stack and tests, signed by a local key: no identity provider needed.

    python -m servicekit.dev_token init [--dir var/dev-keys]
        write a signing key (private.jwk.json, readable by its owner only) and the key set the services
        verify with (jwks.json), unless they exist
    python -m servicekit.dev_token [--role admin] [--accounts acme,globex | '*'] [--sub NAME]
        print a bearer token for that caller

In production the services verify tokens of a real identity provider (AUTH_JWKS_URL); this key is for
a machine of one's own.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from servicekit.auth import ALL_ACCOUNTS, Role

DEFAULT_DIR = Path("var/dev-keys")
ISSUER = "support-billing-dev"
AUDIENCE = "support-billing"
_PRIVATE = "private.jwk.json"
_PUBLIC = "jwks.json"


def new_signing_key() -> dict[str, Any]:
    """An ES256 key as a private JWK, with a key id."""
    jwk: dict[str, Any] = json.loads(ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1())))
    return jwk | {"kid": uuid.uuid4().hex[:16], "alg": "ES256", "use": "sig"}


def public_key_set(private_jwk: dict[str, Any]) -> dict[str, Any]:
    """The JWKS that publishes a private JWK's public half."""
    return {"keys": [{name: value for name, value in private_jwk.items() if name != "d"}]}


def issue_token(
    private_jwk: dict[str, Any],
    *,
    subject: str,
    roles: Sequence[str],
    accounts: Sequence[str] | str,
    issuer: str = ISSUER,
    audience: str = AUDIENCE,
    ttl: timedelta = timedelta(hours=8),
    now: datetime | None = None,
) -> str:
    issued = now or datetime.now(UTC)
    claims = {
        "sub": subject,
        "roles": list(roles),
        "accounts": accounts if isinstance(accounts, str) else list(accounts),
        "iss": issuer,
        "aud": audience,
        "iat": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
    }
    key = jwt.PyJWK(private_jwk)
    return jwt.encode(claims, key.key, algorithm="ES256", headers={"kid": private_jwk["kid"]})


def init(folder: Path) -> Path:
    """Write the dev signing key and its key set once; returns the key set's path."""
    folder.mkdir(parents=True, exist_ok=True)
    private, public = folder / _PRIVATE, folder / _PUBLIC
    if not private.exists():
        descriptor = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            json.dump(new_signing_key(), out)
    if not public.exists():
        public.write_text(json.dumps(public_key_set(json.loads(private.read_text()))))
    return public


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m servicekit.dev_token", description=__doc__.split("\n")[0]
    )
    parser.add_argument("command", nargs="?", choices=["init", "token"], default="token")
    parser.add_argument(
        "--dir", type=Path, default=DEFAULT_DIR, help="where the dev key lives (var/dev-keys)"
    )
    parser.add_argument("--role", action="append", choices=[role.value for role in Role], help="repeatable")
    parser.add_argument(
        "--accounts", default=ALL_ACCOUNTS, help="comma-separated account ids, or '*' for all"
    )
    parser.add_argument("--sub", default=None, help="the caller's name (default: dev-<role>)")
    parser.add_argument("--ttl-minutes", type=int, default=480)
    parser.add_argument("--issuer", default=os.environ.get("AUTH_ISSUER", ISSUER))
    parser.add_argument("--audience", default=os.environ.get("AUTH_AUDIENCE", AUDIENCE))
    args = parser.parse_args(argv)
    if args.command == "init":
        print(init(args.dir))
        return 0
    private = args.dir / _PRIVATE
    if not private.is_file():
        print(f"no dev key in {args.dir}: run `python -m servicekit.dev_token init` first", file=sys.stderr)
        return 2
    if args.ttl_minutes <= 0:
        print("--ttl-minutes must be positive", file=sys.stderr)
        return 2
    roles = args.role or [Role.ADMIN.value]
    accounts = args.accounts if args.accounts == ALL_ACCOUNTS else [a for a in args.accounts.split(",") if a]
    print(
        issue_token(
            json.loads(private.read_text()),
            subject=args.sub or f"dev-{roles[0]}",
            roles=roles,
            accounts=accounts,
            issuer=args.issuer,
            audience=args.audience,
            ttl=timedelta(minutes=args.ttl_minutes),
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
