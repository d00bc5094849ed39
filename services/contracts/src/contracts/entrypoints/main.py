"""`contracts-service`: runs the HTTP API, the Kafka consumers and the outbox relay in one process."""

from __future__ import annotations

from contracts.bootstrap import bootstrap
from servicekit.app import run


def main() -> None:
    run(bootstrap)


if __name__ == "__main__":
    main()
