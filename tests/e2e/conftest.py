"""The stack fixture: started once for the end-to-end tests, stopped after them."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.e2e.stack import SERVICES, Stack, make_stack


@pytest.fixture(scope="session")
def stack(
    kafka_bootstrap: str, database_url: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    running = make_stack(
        kafka_bootstrap, {name: database_url(name) for name in SERVICES}, tmp_path_factory.mktemp("logs")
    )
    seconds = running.start()
    print(f"\nstack ready in {seconds:.1f} s")
    try:
        yield running
    finally:
        running.stop()
