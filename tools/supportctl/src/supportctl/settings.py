"""Where supportctl finds things: the broker, each service's REST API, the token, the checkout."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from servicekit.auth import ALL_ACCOUNTS
from servicekit.dev_token import issue_token
from servicekit.kafka_security import from_environment
from supportctl.broker import Kafka

SERVICES = ("contracts", "billing", "timetracking")
DEFAULT_PORTS = {"contracts": 8001, "billing": 8002, "timetracking": 8003}
ROOT = Path(__file__).resolve().parents[4]
"""The checkout supportctl is installed from (an editable workspace member): scripts/ and var/ live here."""


def service_port(name: str) -> int:
    """The port a service listens on: its own `<SERVICE>_HTTP_PORT`, as the service reads it."""
    return int(os.environ.get(f"{name.upper()}_HTTP_PORT", DEFAULT_PORTS[name]))


def service_url(name: str) -> str:
    return os.environ.get(f"SUPPORTCTL_{name.upper()}_URL", f"http://127.0.0.1:{service_port(name)}")


def dev_keys() -> Path:
    """Where the dev stack keeps its token signing key (`supportctl stack up` makes it)."""
    return Path(os.environ.get("SUPPORTCTL_DEV_KEYS", str(ROOT / "var" / "dev-keys")))


def dev_token() -> str | None:
    """On a machine that runs the dev stack: an admin token for all accounts, signed with the stack's own
    key, as scripts/demo.py makes one. None where there is no such key (anywhere but a dev machine)."""
    private = dev_keys() / "private.jwk.json"
    if not private.is_file():
        return None
    key = json.loads(private.read_text())
    return issue_token(key, subject="supportctl", roles=["admin"], accounts=ALL_ACCOUNTS)


@dataclass
class Settings:
    bootstrap: str = field(
        default_factory=lambda: os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    )
    token: str | None = field(default_factory=lambda: os.environ.get("SUPPORTCTL_TOKEN") or None)
    urls: dict[str, str] = field(default_factory=lambda: {name: service_url(name) for name in SERVICES})

    @property
    def kafka(self) -> Kafka:
        """The broker's security from the same KAFKA_* variables the services read."""
        return Kafka(self.bootstrap, from_environment())

    def headers(self) -> dict[str, str]:
        """Sent with every REST call: the bearer token given, else the dev stack's when there is one."""
        token = self.token or dev_token()
        return {"Authorization": f"Bearer {token}"} if token else {}
