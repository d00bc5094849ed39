"""Where supportctl finds things: the broker, each service's REST API, the token, the checkout."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

SERVICES = ("contracts", "billing", "timetracking")
DEFAULT_PORTS = {"contracts": 8001, "billing": 8002, "timetracking": 8003}
ROOT = Path(__file__).resolve().parents[4]
"""The checkout supportctl is installed from (an editable workspace member): scripts/ and var/ live here."""


def service_port(name: str) -> int:
    """The port a service listens on: its own `<SERVICE>_HTTP_PORT`, as the service reads it."""
    return int(os.environ.get(f"{name.upper()}_HTTP_PORT", DEFAULT_PORTS[name]))


def service_url(name: str) -> str:
    return os.environ.get(f"SUPPORTCTL_{name.upper()}_URL", f"http://127.0.0.1:{service_port(name)}")


@dataclass
class Settings:
    bootstrap: str = field(
        default_factory=lambda: os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    )
    token: str | None = field(default_factory=lambda: os.environ.get("SUPPORTCTL_TOKEN") or None)
    urls: dict[str, str] = field(default_factory=lambda: {name: service_url(name) for name in SERVICES})

    def headers(self) -> dict[str, str]:
        """Sent with every REST call: the bearer token when one is given, and who is acting."""
        headers = {"X-Actor": os.environ.get("SUPPORTCTL_ACTOR", "supportctl")}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers
