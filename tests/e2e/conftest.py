"""The stack fixture: started once for the end-to-end tests, stopped after them."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.e2e.stack import SERVICES, Stack, make_stack
from tests.support.traces import TraceCollector


@pytest.fixture(scope="session")
def trace_collector() -> Iterator[TraceCollector]:
    collector = TraceCollector()
    collector.start()
    try:
        yield collector
    finally:
        collector.stop()


@pytest.fixture(scope="session")
def stack(
    kafka_bootstrap: str,
    database_url: Callable[[str], str],
    tmp_path_factory: pytest.TempPathFactory,
    trace_collector: TraceCollector,
) -> Iterator[Stack]:
    """The three services, tracing on (spans exported to the test's collector) and logging JSON."""
    tracing = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": trace_collector.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "LOG_FORMAT": "json",
    }
    processes = make_stack(
        kafka_bootstrap,
        {name: database_url(name) for name in SERVICES},
        tmp_path_factory.mktemp("logs"),
        tracing,
    )
    with processes.running() as seconds:
        print(f"\nstack ready in {seconds:.1f} s")
        yield processes
