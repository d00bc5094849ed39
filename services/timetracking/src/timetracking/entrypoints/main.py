"""`timetracking-service`: runs the HTTP API, the Kafka consumers and the outbox relay in one process."""

from __future__ import annotations

from servicekit.app import run
from timetracking.bootstrap import bootstrap


def main() -> None:
    run(bootstrap)


if __name__ == "__main__":
    main()
