"""A service process for the benchmarks: started as `<service>-service` would start it, but

- BENCH_SERVICE names it: contracts, billing or timetracking;
- its consumer groups get the suffix BENCH_GROUP_SUFFIX, so it neither reads a running stack's groups'
  messages nor takes their partitions; with BENCH_COMMIT_AT_END set they first start at the end of their
  topics (a second start without it resumes where the first one stopped: a backlog waits for it);
- with BENCH_REPORT set, it writes a JSON report there when it stops: its peak RSS, each batch its
  consumers handled (start, end, records) and, for billing's usage accrual, when each entry was accrued
  (the handler's unit of work has committed by then), and when each entry passed each stage (`Tracker`);
- with BENCH_INSTRUMENT set, it also times every SQL statement and the named steps of the REST write;
- with BENCH_PROFILE set too, it samples itself with pyinstrument and adds the call tree (or, set to
  `cprofile`, profiles itself with cProfile and adds the functions by CPU; BENCH_PROFILE_OUT names a
  file for the whole `pstats` data);
- with BENCH_RELAY_OFF set, the outbox relay does not run (a what-if: events stay in the outbox).
Configuration is otherwise the service's own (<SERVICE>_DATABASE_URL, <SERVICE>_HTTP_PORT,
KAFKA_BOOTSTRAP_SERVERS, AUTH_JWKS_FILE).
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import importlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from uuid import UUID

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import CallTimer, SqlTimer, commit_groups_at_end, isolated_groups, peak_rss_mb  # noqa: E402

from servicekit.kafka import ensure_topics  # noqa: E402

ACCRUAL_GROUP = "usage-accrual"


class Tracker:
    """Batches per consumer group, the instant each entry was accrued by billing, and each entry's way
    through the stages of the service (for end_to_end.py's breakdown of the latency):

    - `stages[name][entry_id]`: the Kafka timestamp of the record that carried it (when its producer
      took it), when the consumer handed its batch over (parsing begins), when the handler began, and
      when it returned (its unit of work has committed);
    - `relayed[message_id]`: the outbox relay's cycle that sent the event: when the cycle began (reads
      the outbox), when it handed the batch to the producer, and when Kafka had acknowledged all of it;
    - `relay_cycles`: each relay cycle (began, sent, acknowledged, ended, rows);
    - `commits[group]`: the consumer's offset commits (began, ended).
    """

    def __init__(self) -> None:
        self.batches: dict[str, list[tuple[float, float, int]]] = {}
        # Entries are keyed by their id's integer while the service runs, and by its text in the report:
        # `str(UUID)` per entry and stage was a few % of timetracking's event loop, in the measured path.
        self.accrued: dict[int, float] = {}
        self.event_of: dict[int, UUID] = {}
        """For billing: the id of the event that brought each entry (the outbox row's message id)."""
        self.stages: dict[str, dict[int, tuple[float, float, float, float]]] = {}
        self.relayed: dict[str, tuple[float, float, float]] = {}
        self.relay_cycles: list[tuple[float, float, float, float, int]] = []
        self.commits: dict[str, list[tuple[float, float]]] = {}
        self._handed: contextvars.ContextVar[tuple[float, dict[tuple[int, int], float]]] = (
            contextvars.ContextVar("handed")
        )
        self._cycle: contextvars.ContextVar[float] = contextvars.ContextVar("cycle")
        self._sent: contextvars.ContextVar[tuple[float, float]] = contextvars.ContextVar("sent")

    def wrap(self, name: str, handler: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        batches = self.batches.setdefault(name, [])
        accrued = self.accrued if name == ACCRUAL_GROUP else None
        stages = self.stages.setdefault(name, {})

        async def tracked(deliveries: Any) -> None:
            started = time.time()
            await handler(deliveries)  # its unit of work has committed when it returns
            ended = time.time()
            batches.append((started, ended, len(deliveries)))
            handed, stamps = self._handed.get((started, {}))
            for delivery in deliveries:
                stamp = stamps.get((delivery.partition, delivery.offset), float("nan"))
                for entry_id in _entry_ids(delivery.body):
                    stages[entry_id] = (stamp, handed, started, ended)
                    if accrued is not None:
                        accrued[entry_id] = ended
                        self.event_of[entry_id] = delivery.event.id

        return tracked

    def patch(self) -> None:
        """Note the times the handler wrapper cannot see: batches handed over, relay cycles, commits."""
        from aiokafka import AIOKafkaConsumer

        from servicekit.consumers import Consumers
        from servicekit.kafka import KafkaSender
        from servicekit.outbox import OutboxRelay

        process, relay_once, send_all, commit = (
            Consumers._process,
            OutboxRelay.relay_once,
            KafkaSender.send_all,
            AIOKafkaConsumer.commit,
        )

        async def handed_over(consumers: Any, topic: Any, group: str, handler: Any, records: Any) -> Any:
            stamps = {(r.partition, r.offset): r.timestamp / 1000 for r in records}
            self._handed.set((time.time(), stamps))
            return await process(consumers, topic, group, handler, records)

        async def cycle(relay: OutboxRelay) -> int:
            began = time.time()
            self._cycle.set(began)
            self._sent.set((float("nan"), float("nan")))
            rows = await relay_once(relay)
            sent, acked = self._sent.get()
            self.relay_cycles.append((began, sent, acked, time.time(), rows))
            return rows

        async def send(sender: KafkaSender, messages: Any) -> Any:
            began = time.time()
            outcomes = await send_all(sender, messages)
            acked = time.time()
            self._sent.set((began, acked))
            cycle_began = self._cycle.get(float("nan"))
            for message in messages:
                self.relayed[message.message_id] = (cycle_began, began, acked)
            return outcomes

        async def timed_commit(consumer: AIOKafkaConsumer, *args: Any, **kwargs: Any) -> Any:
            began = time.time()
            try:
                return await commit(consumer, *args, **kwargs)
            finally:
                # "<service>.<name>.<suffix>": by the subscriber's name, as `batches` is
                group = str(consumer._group_id).split(".")[1]  # noqa: SLF001
                self.commits.setdefault(group, []).append((began, time.time()))

        for owner, name, replacement in (
            (Consumers, "_process", handed_over),
            (OutboxRelay, "relay_once", cycle),
            (KafkaSender, "send_all", send),
            (AIOKafkaConsumer, "commit", timed_commit),
        ):
            setattr(owner, name, replacement)


def _entry_ids(body: Any) -> list[int]:
    """The time entries a message is about (their ids' integers): a log command's, a batch of them, or
    an event's entry. Read from the models' `__dict__`: `hasattr` on a pydantic model that lacks the
    field raises inside (~2 µs a message, in the service's own loop, which the benchmark measures)."""
    fields = body.__dict__
    if "entries" in fields:
        return [entry.entry_id.int for entry in fields["entries"]]
    entry_id = fields.get("entry", body).__dict__.get("entry_id")
    return [] if entry_id is None else [entry_id.int]


def _by_text(by_int: dict[int, Any]) -> dict[str, Any]:
    return {str(UUID(int=key)): value for key, value in by_int.items()}


def instrument_rest_write() -> CallTimer:
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
    timer.patch(outbox.OutboxRelay, "relay_once", "OutboxRelay.relay_once (read, send, mark)")
    timer.patch(outbox.OutboxRelay, "_mark_published", "OutboxRelay._mark_published")
    return timer


class GcTimer:
    """Collections per generation, and the time they took."""

    def __init__(self) -> None:
        self.collections = {generation: [0, 0.0] for generation in range(3)}
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        kept = self.collections[info["generation"]]
        kept[0] += 1
        kept[1] += time.perf_counter() - self._started

    def report(self) -> str:
        return "garbage collector: " + ", ".join(
            f"generation {generation} {count}x {seconds:.2f} s"
            for generation, (count, seconds) in self.collections.items()
        )


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    service = os.environ["BENCH_SERVICE"]
    if os.environ.get("BENCH_RELAY_OFF"):  # what-if: no relay competing with requests (events stay queued)
        from servicekit.outbox import OutboxRelay

        async def idle(self: OutboxRelay) -> None:
            await asyncio.Event().wait()

        OutboxRelay.run = idle  # type: ignore[method-assign]
    bootstrap = importlib.import_module(f"{service}.bootstrap").bootstrap
    tracker = Tracker()
    tracker.patch()
    with isolated_groups(os.environ["BENCH_GROUP_SUFFIX"], tracker.wrap) as groups:
        service_app = bootstrap()
    bootstrap_servers = service_app.settings.kafka_bootstrap_servers

    async def prepare() -> None:
        await ensure_topics(bootstrap_servers, security=service_app.settings.kafka_security)
        if os.environ.get("BENCH_COMMIT_AT_END"):
            await commit_groups_at_end(bootstrap_servers, groups)

    asyncio.run(prepare())
    report = os.environ.get("BENCH_REPORT")
    gc_timer = GcTimer()
    if report:
        gc.callbacks.append(gc_timer)
    timer = SqlTimer()
    calls: CallTimer | None = None
    profiler = None
    if os.environ.get("BENCH_INSTRUMENT"):
        timer.attach(service_app.service.db.engine, service_app.service.db.read_engine)
        timer.enabled = True
        if service == "timetracking":
            calls = instrument_rest_write()
            calls.enabled = True
    cprofile = None
    if os.environ.get("BENCH_PROFILE") == "cprofile":  # CPU by function, whatever the neighbours do
        import cProfile

        cprofile = cProfile.Profile(time.thread_time)  # the event loop's thread, not the wall clock
        cprofile.enable()
    elif os.environ.get("BENCH_PROFILE"):
        from pyinstrument import Profiler

        profiler = Profiler(async_mode="disabled", interval=0.001)
        profiler.start()
    # uvicorn re-raises the SIGTERM it handled once it has shut down: exit through `finally` instead.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    started = time.perf_counter()
    try:
        service_app.service.serve(service_app.http_app())
    finally:
        if report:
            lines: list[str] = [gc_timer.report()]
            if timer.enabled:
                lines += timer.report(time.perf_counter() - started, top=12)
            if calls is not None:
                lines += calls.report(None)
            if profiler is not None:
                profiler.stop()
                lines.append(profiler.output_text(unicode=False, color=False))
            if cprofile is not None:
                import io
                import pstats

                cprofile.disable()
                out = io.StringIO()
                pstats.Stats(cprofile, stream=out).sort_stats("tottime").print_stats(45)
                lines.append(out.getvalue())
                if os.environ.get("BENCH_PROFILE_OUT"):
                    cprofile.dump_stats(os.environ["BENCH_PROFILE_OUT"])
            document = {
                "service": service,
                "rss_peak_mb": peak_rss_mb(),
                "batches": tracker.batches,
                "accrued": _by_text(tracker.accrued),
                "stages": {name: _by_text(stages) for name, stages in tracker.stages.items()},
                "event_of": {key: str(value) for key, value in _by_text(tracker.event_of).items()},
                "relayed": tracker.relayed,
                "relay_cycles": tracker.relay_cycles,
                "commits": tracker.commits,
                "text": "\n".join(lines),
            }
            Path(report).write_text(json.dumps(document))


if __name__ == "__main__":
    main()
