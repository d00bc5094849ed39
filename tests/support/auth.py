"""Bearer tokens for the tests: one signing key per test process, its key set in a file the services
under test verify with (`AUTH_JWKS_FILE`, set by the root conftest for in-process apps and processes)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from servicekit.auth import ALL_ACCOUNTS
from servicekit.dev_token import AUDIENCE, ISSUER, issue_token, new_signing_key, public_key_set

SIGNING_KEY = new_signing_key()
JWKS_FILE = Path(tempfile.mkdtemp(prefix="test-keys-")) / "jwks.json"
JWKS_FILE.write_text(json.dumps(public_key_set(SIGNING_KEY)))


def token(
    *roles: str,
    accounts: Sequence[str] | str = ALL_ACCOUNTS,
    subject: str = "tester",
    ttl: timedelta = timedelta(hours=1),
    now: datetime | None = None,
    issuer: str = ISSUER,
    audience: str = AUDIENCE,
) -> str:
    return issue_token(
        SIGNING_KEY,
        subject=subject,
        roles=roles or ("admin",),
        accounts=accounts,
        issuer=issuer,
        audience=audience,
        ttl=ttl,
        now=now or datetime.now(UTC),
    )


def bearer(
    *roles: str, accounts: Sequence[str] | str = ALL_ACCOUNTS, subject: str = "tester"
) -> dict[str, str]:
    """The Authorization header of a caller with these roles (admin by default) and accounts."""
    return {"Authorization": f"Bearer {token(*roles, accounts=accounts, subject=subject)}"}
