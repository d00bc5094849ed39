"""`contracts-service`: runs the HTTP API, the Kafka consumers and the outbox relay in one process."""

from __future__ import annotations

from fastapi import FastAPI

from contracts.bootstrap import bootstrap
from servicekit.service import Service, run


def build() -> tuple[Service, FastAPI]:
    contracts = bootstrap()
    return contracts.service, contracts.http_app()


def main() -> None:
    run(build)


if __name__ == "__main__":
    main()
