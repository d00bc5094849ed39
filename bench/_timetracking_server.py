"""`timetracking-service` for bench/rest_time_entry_latency.py, as `servicekit.app.run` would start it, but:

- its consumer groups get the suffix BENCH_GROUP_SUFFIX and start at the end of their topics, so it
  neither reads old messages nor takes partitions (and commands) from a running stack's timetracking;
- with BENCH_REPORT set, it times every SQL statement and writes the table there when it stops;
- with BENCH_RELAY_OFF set, the outbox relay does not run (a what-if: events stay in the outbox);
- with BENCH_PROFILE set too, it samples itself with pyinstrument and adds the call tree.
Configuration is the service's own: TIMETRACKING_DATABASE_URL, TIMETRACKING_HTTP_PORT and
KAFKA_BOOTSTRAP_SERVERS.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import CallTimer, SqlTimer, commit_groups_at_end, isolated_groups  # noqa: E402

from servicekit.kafka import ensure_topics  # noqa: E402
from timetracking.bootstrap import bootstrap  # noqa: E402


def instrument() -> CallTimer:
    """Wall time of the steps of POST /time-entries, by the names the code calls them through."""
    import servicekit.idempotency as idempotency
    import servicekit.outbox as outbox
    import servicekit.uow as uow
    import timetracking.adapters.repositories as repositories
    import timetracking.service_layer.handlers as handlers

    timer = CallTimer()
    timer.patch(uow.UnitOfWork, "__aenter__", "UnitOfWork.__aenter__ (write lock + BEGIN IMMEDIATE)")
    timer.patch(uow.UnitOfWork, "__aexit__", "UnitOfWork.__aexit__ (outbox INSERT + COMMIT)")
    timer.patch(handlers, "log_time_entries", "handlers.log_time_entries (inside the unit of work)")
    timer.patch(repositories.TimeEntryRepository, "get_many", "TimeEntryRepository.get_many")
    timer.patch(
        repositories.CoveringContractRepository, "of_accounts", "CoveringContractRepository.of_accounts"
    )
    timer.patch(repositories.TimeEntryRepository, "add_all", "TimeEntryRepository.add_all (INSERT)")
    timer.patch(idempotency.IdempotencyMiddleware, "_reserve", "IdempotencyMiddleware._reserve (write txn)")
    timer.patch(idempotency.IdempotencyMiddleware, "_store", "IdempotencyMiddleware._store (write txn)")
    timer.patch(
        outbox.OutboxRelay, "_relay_sqlite", "OutboxRelay._relay_sqlite (read, send, mark: write txn)"
    )
    timer.patch(outbox.OutboxRelay, "_mark_published", "OutboxRelay._mark_published")
    return timer


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if os.environ.get("BENCH_RELAY_OFF"):  # what-if: no relay competing with requests (events stay queued)
        from servicekit.outbox import OutboxRelay

        async def idle(self: OutboxRelay) -> None:
            await asyncio.Event().wait()

        OutboxRelay.run = idle  # type: ignore[method-assign]
    with isolated_groups(os.environ["BENCH_GROUP_SUFFIX"]) as groups:
        service_app = bootstrap()
    bootstrap_servers = service_app.settings.kafka_bootstrap_servers

    async def prepare() -> None:
        await ensure_topics(bootstrap_servers, security=service_app.settings.kafka_security)
        await commit_groups_at_end(bootstrap_servers, groups)

    asyncio.run(prepare())
    report = os.environ.get("BENCH_REPORT")
    timer = SqlTimer()
    profiler = None
    calls = instrument() if report else None
    if report:
        timer.attach(service_app.service.db.engine, service_app.service.db.read_engine)
        timer.enabled = True
        if calls is not None:
            calls.enabled = True
        if os.environ.get("BENCH_PROFILE"):
            from pyinstrument import Profiler

            profiler = Profiler(async_mode="disabled", interval=0.0005)
            profiler.start()
    # uvicorn re-raises the SIGTERM it handled once it has shut down: exit through `finally` instead.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    started = time.perf_counter()
    try:
        service_app.service.serve(service_app.http_app())
    finally:
        if report:
            lines = timer.report(time.perf_counter() - started, top=12)
            if calls is not None:
                lines += calls.report(None)
            if profiler is not None:
                profiler.stop()
                lines.append(profiler.output_text(unicode=False, color=False))
            Path(report).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
