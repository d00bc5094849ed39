"""Benchmark: time entries from Kafka to accrued usage in billing, beside a raw baseline of the same run.

    uv run python bench/ingest_time_entries.py [--entries 50000] [--contracts 500]
        [--database sqlite|postgresql] [--batch-size 2000] [--time-limit 300]
        [--profile none|cprofile|pyinstrument] [--breakdown]

What it does, all on loopback and bounded in count and time:
1. Builds the billing service in-process on a fresh database (a temp SQLite file, or a new PostgreSQL
   database on the scripts/postgres.sh cluster, dropped afterwards). Its consumer groups get a per-run
   suffix and start at the end of their topics (see bench/_common.py), so nothing older is read.
2. Seeds calendars and contracts by producing contracts.calendar.saved / contracts.contract.created
   CloudEvents and waits until billing holds them; then stops billing.
3. Produces N timetracking.time_entry.logged events to timetracking.time-entries.v1, keyed by account.
4. Baseline: a plain aiokafka consumer reads the same N records, json-decodes them and bulk-inserts the
   rows (SQLAlchemy core executemany, one transaction per batch) into a scratch table of another database.
5. Ours: starts billing again; the figure is N / (last entry accrued - first batch handed to billing).
   Optionally profiles that phase; with --breakdown, times the handler's steps and the SQL statements
   (timers that slow that run down).
Speed figures are never pass/fail: compare the ratio, machines are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import faulthandler
import io
import json
import logging
import os
import pstats
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    BenchKeys,
    CallTimer,
    Figure,
    OwnBroker,
    SqlTimer,
    bench_contract,
    bootstrap_servers,
    commit_groups_at_end,
    end_offsets,
    ensure_broker,
    event_bytes,
    free_port,
    isolated_groups,
    kafka_options,
    kafka_security,
    postgres_prefix,
    produce_all,
    stack_ports_answering,
)
from aiokafka import AIOKafkaConsumer, TopicPartition  # noqa: E402
from sqlalchemy import (  # noqa: E402
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    func,
    insert,
    select,
)

from billing.adapters import tables as billing_tables  # noqa: E402
from billing.bootstrap import bootstrap as build_billing_app  # noqa: E402
from billing.config import BillingSettings  # noqa: E402
from contracts_schema import contracts as cwire  # noqa: E402
from contracts_schema import registry  # noqa: E402
from contracts_schema.timetracking import TimeEntryLogged, TimeEntryState  # noqa: E402
from servicekit.db import Database  # noqa: E402
from servicekit.kafka import ensure_topics  # noqa: E402

USAGE_GROUP = "usage-accrual"
TARGET = 25_000
TARGET_RATIO = 0.6
CALENDARS = 10
# Contracts start on the first of the current month (UTC), so no bill has fallen due yet and billing's
# bill scheduler stays idle; every entry falls in that open first cycle, on the days elapsed so far.
TODAY = datetime.now(UTC).date()
FIRST_DAY = TODAY.replace(day=1)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=50_000)
    parser.add_argument("--contracts", type=int, default=500)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--batch-size", type=int, default=2000, help="billing's CONSUMER_BATCH_SIZE")
    parser.add_argument("--time-limit", type=float, default=300.0, help="hard limit for the whole run, s")
    parser.add_argument("--profile", choices=("none", "cprofile", "pyinstrument"), default="none")
    parser.add_argument("--profile-top", type=int, default=25)
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="time the handler's steps and the SQL by statement: patched timers around every step, "
        "some called per entry, so the figure of that run is lower than without (~5-10%% here)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json-out", type=Path, help="write the summary figures there (bench/run_all.py)")
    parser.add_argument(
        "--what-if",
        choices=("executemany",),
        action="append",
        default=[],
        help="measure a suggested change without editing the service: 'executemany' writes billing's "
        "upserts and the inbox claim as one cached statement with many rows (bench/upsert_styles.py)",
    )
    parser.add_argument(
        "--own-broker",
        action="store_true",
        help="start a private broker on free ports (scripts/kafka.sh) instead of KAFKA_BOOTSTRAP_SERVERS, "
        "so a running stack neither consumes the bench's records nor competes for the CPU through them",
    )
    args = parser.parse_args()
    if not 1 <= args.entries <= 1_000_000 or not 1 <= args.contracts <= 100_000:
        parser.error("--entries must be 1..1,000,000 and --contracts 1..100,000")
    return args


# --- data --------------------------------------------------------------------------------------------


def calendar(index: int) -> cwire.BusinessCalendar:
    return cwire.BusinessCalendar(
        calendar_id=uuid.uuid4(),
        name=f"bench office {index}",
        time_zone="Europe/Berlin",
        working_days=[1, 2, 3, 4, 5],
        working_hours=[cwire.WorkingHours(start="09:00", end="17:00")],
        holidays=[FIRST_DAY + timedelta(days=2)],
    )


def contract(run: str, index: int, calendar_id: uuid.UUID) -> cwire.ContractState:
    return bench_contract(
        account=f"bench-{run}-{index}",
        number=f"B-{run}-{index}",
        start=FIRST_DAY,
        expiry=FIRST_DAY.replace(year=FIRST_DAY.year + 1) - timedelta(days=1),
        calendar_id=calendar_id,
    )


def time_entry(rng: random.Random, state: cwire.ContractState, n: int) -> TimeEntryState:
    day = FIRST_DAY + timedelta(days=rng.randrange(TODAY.day))
    started = datetime(day.year, day.month, day.day, rng.randrange(7, 17), rng.randrange(60), tzinfo=UTC)
    return TimeEntryState(
        entry_id=uuid.uuid4(),
        account_id=state.account_id,
        contract_id=state.contract_id,
        request_id=f"REQ-{n % 997}",
        rep_id=f"rep-{n % 23}",
        started_at=started,
        minutes=rng.randrange(5, 120),
        billable=True,
        include_non_operational=True,
        description="bench",
        version=1,
    )


# --- databases ---------------------------------------------------------------------------------------


@dataclass
class Databases:
    billing_url: str
    scratch_url: str
    cleanup: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


async def make_databases(kind: str, run: str, workdir: Path) -> Databases:
    if kind == "sqlite":
        return Databases(
            f"sqlite+aiosqlite:///{workdir / 'billing.db'}", f"sqlite+aiosqlite:///{workdir / 'scratch.db'}"
        )
    import asyncpg

    prefix = postgres_prefix()
    names = [f"bench_billing_{run}", f"bench_scratch_{run}"]
    dsn = prefix.replace("postgresql+asyncpg", "postgresql") + "postgres"
    admin = await asyncpg.connect(dsn)
    try:
        for name in names:
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()

    async def drop() -> None:
        admin = await asyncpg.connect(dsn)
        try:
            for name in names:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    return Databases(prefix + names[0], prefix + names[1], [drop])


async def count_rows(db: Database, table: Table) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


# --- baseline ----------------------------------------------------------------------------------------


def scratch_table() -> tuple[MetaData, Table]:
    metadata = MetaData()
    table = Table(
        "scratch_usage",
        metadata,
        Column("entry_id", String(36), primary_key=True),
        Column("contract_id", String(36)),
        Column("account_id", String(100), nullable=False),
        Column("request_id", String(100), nullable=False),
        Column("started_at", DateTime(timezone=True), nullable=False),
        Column("minutes", Integer, nullable=False),
        Column("billable", Boolean, nullable=False),
        Column("include_non_operational", Boolean, nullable=False),
        Column("other_charges", Numeric(18, 6)),
        Column("currency", String(3)),
        Column("version", Integer, nullable=False),
    )
    return metadata, table


@dataclass
class Baseline:
    consume_seconds: float
    pipeline_seconds: float
    records: int


async def baseline(
    bootstrap: str, url: str, starts: dict[TopicPartition, int], ends: dict[TopicPartition, int], batch: int
) -> Baseline:
    """Read the records between `starts` and `ends` twice with a plain consumer (own unique group):
    once decoding JSON only, once decoding and bulk-inserting each batch in its own transaction."""
    metadata, table = scratch_table()
    db = Database(url)
    async with db.engine.begin() as connection:
        await connection.run_sync(metadata.create_all)

    async def run(insert_rows: bool) -> tuple[float, int]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=f"bench.baseline.{uuid.uuid4().hex[:8]}",
            enable_auto_commit=False,
            max_partition_fetch_bytes=8 * 1024 * 1024,
            fetch_max_bytes=64 * 1024 * 1024,
            **kafka_options(),
        )
        await consumer.start()
        try:
            consumer.assign(list(starts))
            for partition, offset in starts.items():
                consumer.seek(partition, offset)
            remaining = {p for p in starts if ends[p] > starts[p]}
            seen = 0
            started = time.perf_counter()
            while remaining:
                got = await consumer.getmany(timeout_ms=1000, max_records=batch)
                documents = []
                for partition, records in got.items():
                    for record in records:
                        if record.offset < ends[partition]:
                            documents.append(json.loads(record.value))
                    if records and records[-1].offset + 1 >= ends[partition]:
                        remaining.discard(partition)
                seen += len(documents)
                if insert_rows and documents:
                    rows = [_scratch_row(d["data"]["entry"]) for d in documents]
                    async with db.transaction() as session:
                        await session.execute(insert(table), rows)
            return time.perf_counter() - started, seen
        finally:
            await consumer.stop()

    try:
        consume_seconds, seen = await run(insert_rows=False)
        pipeline_seconds, _ = await run(insert_rows=True)
    finally:
        await db.dispose()
    return Baseline(consume_seconds, pipeline_seconds, seen)


def _scratch_row(entry: dict[str, Any]) -> dict[str, Any]:
    charges = entry.get("other_charges")
    return {
        "entry_id": entry["entry_id"],
        "contract_id": entry["contract_id"],
        "account_id": entry["account_id"],
        "request_id": entry["request_id"],
        "started_at": datetime.fromisoformat(entry["started_at"]),
        "minutes": entry["minutes"],
        "billable": entry["billable"],
        "include_non_operational": entry["include_non_operational"],
        "other_charges": Decimal(charges["amount"]) if charges else None,
        "currency": charges["currency"] if charges else None,
        "version": entry["version"],
    }


# --- ours --------------------------------------------------------------------------------------------


@dataclass
class BatchLog:
    calls: list[tuple[float, float, int]] = field(default_factory=list)  # (start, end, deliveries)
    accrued: int = 0
    target: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def wrap(self, name: str, handler: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        if name != USAGE_GROUP:
            return handler

        async def timed(deliveries: Any) -> None:
            started = time.perf_counter()
            await handler(deliveries)  # the handler's unit of work has committed when it returns
            self.calls.append((started, time.perf_counter(), len(deliveries)))
            self.accrued += len(deliveries)
            if self.target and self.accrued >= self.target:
                self.done.set()

        return timed


def instrument() -> CallTimer:
    """Time the steps of billing's time-entry path, by the names the code calls them through."""
    import billing.adapters.repositories as repositories
    import billing.adapters.wire as wire
    import billing.service_layer.bills as bills
    import billing.service_layer.handlers as handlers
    import servicekit.consumers as consumers
    import servicekit.uow as uow
    from billing.domain.contract import ContractBook
    from billing.service_layer.contract_cache import ContractCache

    timer = CallTimer()
    timer.patch(consumers, "parse_record", "servicekit.consumers.parse_record (JSON + pydantic)")
    timer.patch(wire, "time_entry_event", "wire.time_entry_event (to the domain)")
    timer.patch(uow, "add_to_outbox", "servicekit.outbox.add_to_outbox")
    timer.patch(handlers, "accrue_time_entries", "handlers.accrue_time_entries (total)")
    timer.patch(handlers, "_books", "handlers._books (copies and calendars)")
    timer.patch(handlers, "_account_for_usage", "handlers._account_for_usage")
    timer.patch(handlers, "_review_bills", "handlers._review_bills")
    timer.patch(bills, "review_periods", "bills.review_periods (billed periods only)")
    timer.patch(ContractCache, "many", "ContractCache.many (versions + stale copies)")
    timer.patch(ContractBook, "place", "ContractBook.place (cycle and counted minutes)")
    timer.patch(repositories.UsageLedger, "lock_placement", "UsageLedger.lock_placement")
    timer.patch(repositories.UsageLedger, "placements", "UsageLedger.placements (changed entries)")
    timer.patch(repositories.UsageLedger, "record", "UsageLedger.record (usage_entries upsert)")
    timer.patch(repositories.UsageLedger, "cycle_use", "UsageLedger.cycle_use (SELECT)")
    timer.patch(repositories.UsageLedger, "standings", "UsageLedger.standings (SELECT)")
    timer.patch(repositories.UsageLedger, "save_standings", "UsageLedger.save_standings (upsert)")
    timer.patch(repositories.BillBook, "billed_periods", "BillBook.billed_periods (SELECT)")
    timer.patch(repositories.ContractCopies, "versions", "ContractCopies.versions (SELECT)")
    timer.patch(repositories.ContractCopies, "many", "ContractCopies.many (SELECT + validate)")
    timer.patch(repositories.ContractCopies, "calendars", "ContractCopies.calendars (SELECT)")
    timer.patch(repositories, "upsert", "servicekit.sql.upsert (all billing upserts)")
    return timer


def apply_what_ifs(names: list[str]) -> None:
    if "executemany" in names:
        from sqlalchemy.dialects import postgresql, sqlite

        import billing.adapters.repositories as repositories
        import servicekit.uow as uow

        async def upsert(session: Any, table: Any, rows: Any, *, key: Any, newer_by: Any = None) -> None:
            if not rows:
                return
            dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
            statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
            statement = statement.on_conflict_do_update(
                index_elements=list(key),
                set_={name: statement.excluded[name] for name in rows[0] if name not in key},
                where=table.c[newer_by] < statement.excluded[newer_by] if newer_by else None,
            )
            await session.execute(statement, list(rows))

        async def claim_unprocessed(session: Any, tables: Any, consumer: str, message_ids: Any) -> set[str]:
            ids = list(dict.fromkeys(message_ids))
            if not ids:
                return set()
            now = datetime.now(UTC)
            dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
            statement = (
                (postgresql.insert if dialect == "postgresql" else sqlite.insert)(tables.inbox)
                .on_conflict_do_nothing()
                .returning(tables.inbox.c.message_id)
            )
            rows = [{"consumer": consumer, "message_id": mid, "processed_at": now} for mid in ids]
            return set((await session.execute(statement, rows)).scalars().all())

        repositories.upsert = upsert  # type: ignore[assignment]
        uow.claim_unprocessed = claim_unprocessed  # type: ignore[assignment]


def build_billing(url: str, bootstrap: str, suffix: str, batch_size: int, log: BatchLog | None = None) -> Any:
    settings = BillingSettings(
        database_url=url,
        http_port=free_port(),
        kafka_bootstrap_servers=bootstrap,
        consumer_batch_size=batch_size,
    )
    with isolated_groups(suffix, log.wrap if log else None) as groups:
        app = build_billing_app(settings)
    return app, groups


class Profiler:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._cprofile = cProfile.Profile() if kind == "cprofile" else None
        self._pyinstrument: Any = None
        if kind == "pyinstrument":
            try:
                from pyinstrument import Profiler as Pyinstrument
            except ImportError:
                raise SystemExit(
                    "pyinstrument is not installed: uv run --with pyinstrument python "
                    "bench/ingest_time_entries.py --profile pyinstrument"
                ) from None
            self._pyinstrument = Pyinstrument(async_mode="disabled", interval=0.001)

    def start(self) -> None:
        if self._cprofile:
            self._cprofile.enable()
        if self._pyinstrument:
            self._pyinstrument.start()

    def stop(self) -> None:
        if self._cprofile:
            self._cprofile.disable()
        if self._pyinstrument:
            self._pyinstrument.stop()

    def report(self, top: int) -> str:
        if self._cprofile:
            out = io.StringIO()
            stats = pstats.Stats(self._cprofile, stream=out)
            stats.sort_stats("tottime").print_stats(top)
            stats.sort_stats("cumulative").print_stats(top)
            return _trim_pstats(out.getvalue())
        if self._pyinstrument:
            return str(self._pyinstrument.output_text(unicode=False, color=False, show_all=False))
        return ""


def _trim_pstats(text: str) -> str:
    root = str(Path(__file__).resolve().parents[1]) + "/"
    return text.replace(root, "").replace(str(Path(sys.prefix)) + "/lib/python3.11/site-packages/", "")


# --- the run -----------------------------------------------------------------------------------------


async def main(args: argparse.Namespace) -> int:
    run = uuid.uuid4().hex[:8]
    suffix = f"bench-{run}"
    workdir = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    if "AUTH_JWKS_FILE" not in os.environ:  # billing's settings want a key set, though nothing calls REST
        os.environ["AUTH_JWKS_FILE"] = str(BenchKeys.make(workdir / "keys").jwks_file)
    broker = OwnBroker(workdir / "kafka") if args.own_broker else None
    try:
        return await measure(args, run, suffix, workdir, broker)
    finally:
        if broker is not None:
            broker.stop()
        shutil.rmtree(workdir, ignore_errors=True)


async def measure(
    args: argparse.Namespace, run: str, suffix: str, workdir: Path, broker: OwnBroker | None
) -> int:
    if broker is not None:
        bootstrap = broker.start()
    else:
        bootstrap = bootstrap_servers()
        ensure_broker(bootstrap)
        stack = stack_ports_answering()
        if stack:
            print(
                f"warning: something answers on {stack} (scripts/stack.sh?): a running stack on this broker "
                "consumes the bench's records too, into its own databases, and competes for the CPU. "
                "Use --own-broker (or scripts/stack.sh down) for a quiet run.",
                flush=True,
            )
    dbs = await make_databases(args.database, run, workdir)
    rng = random.Random(args.seed)
    app: Any = None
    print(
        f"ingest bench {run}: {args.entries} entries over {args.contracts} contracts, {args.database}, "
        f"consumer batch {args.batch_size}, broker {bootstrap}",
        flush=True,
    )
    try:
        await ensure_topics(bootstrap, security=kafka_security())

        # 1-2: billing with its copies of calendars and contracts
        app, groups = build_billing(dbs.billing_url, bootstrap, suffix, args.batch_size)
        await commit_groups_at_end(bootstrap, groups)
        await app.service.start()
        calendars = [calendar(i) for i in range(CALENDARS)]
        contracts = [contract(run, i, calendars[i % CALENDARS].calendar_id) for i in range(args.contracts)]
        await produce_all(
            bootstrap,
            [
                (
                    registry.CALENDARS.name,
                    str(c.calendar_id),
                    event_bytes(cwire.CalendarSaved(calendar=c), "cal"),
                )
                for c in calendars
            ],
        )
        await produce_all(
            bootstrap,
            [
                (
                    registry.CONTRACTS.name,
                    str(c.contract_id),
                    event_bytes(cwire.ContractCreated(contract=c), f"contract/{c.contract_id}"),
                )
                for c in contracts
            ],
        )
        deadline = time.monotonic() + 60
        while (
            await count_rows(app.service.db, billing_tables.contracts) < args.contracts
            or await count_rows(app.service.db, billing_tables.calendars) < CALENDARS
        ):
            if time.monotonic() > deadline:
                raise TimeoutError("billing did not take in the seeded contracts within 60 s")
            await asyncio.sleep(0.2)
        await app.service.stop()
        app = None
        print(f"seeded {CALENDARS} calendars and {args.contracts} contracts", flush=True)

        # 3: the time entries, produced while billing is stopped
        started = time.perf_counter()
        messages = []
        for n in range(args.entries):
            state = contracts[rng.randrange(args.contracts)]
            entry = time_entry(rng, state, n)
            body = TimeEntryLogged(entry=entry)
            messages.append(
                (
                    registry.TIME_ENTRIES.name,
                    entry.account_id,
                    event_bytes(body, f"time-entry/{entry.entry_id}"),
                )
            )
        build_seconds = time.perf_counter() - started
        starts = await end_offsets(bootstrap, registry.TIME_ENTRIES.name)
        produce_seconds = await produce_all(bootstrap, messages)
        ends = await end_offsets(bootstrap, registry.TIME_ENTRIES.name)
        produced = sum(ends[p] - starts[p] for p in ends)
        total_minutes = sum(json.loads(v)["data"]["entry"]["minutes"] for _, _, v in messages)
        del messages
        print(
            f"produced {produced} records in {produce_seconds:.2f} s "
            f"({args.entries / produce_seconds:,.0f}/s; building the events took {build_seconds:.2f} s)",
            flush=True,
        )
        if produced != args.entries:
            print(f"warning: {produced - args.entries} other records landed on the topic meanwhile")

        # 4: raw baseline over the same records
        base = await baseline(bootstrap, dbs.scratch_url, starts, ends, args.batch_size)
        print(f"baseline read {base.records} records", flush=True)

        # 5: ours
        apply_what_ifs(args.what_if)
        if args.what_if:
            print(f"what-if: {', '.join(args.what_if)} (patched in this process, not in the service)")
        log = BatchLog(target=args.entries)
        app, _ = build_billing(dbs.billing_url, bootstrap, suffix, args.batch_size, log)
        timer = SqlTimer()
        profiler = Profiler(args.profile)
        calls = instrument() if args.breakdown else CallTimer()
        if args.breakdown:
            timer.attach(app.service.db.engine, app.service.db.read_engine)
            calls.enabled = True
            timer.enabled = True
        profiler.start()
        t_start = time.perf_counter()
        await app.service.start()
        t_started = time.perf_counter()
        remaining = args.time_limit - (time.monotonic() - T0) - 20
        try:
            await asyncio.wait_for(log.done.wait(), timeout=max(5.0, remaining))
        except TimeoutError:
            pass
        t_done = time.perf_counter()
        profiler.stop()
        timer.enabled = False
        calls.enabled = False
        calls.restore()
        accrued = await count_rows(app.service.db, billing_tables.usage_entries)
        cycles = await count_rows(app.service.db, billing_tables.cycle_usage)
        async with app.service.db.read() as session:
            minutes = int(await session.scalar(select(func.sum(billing_tables.usage_entries.c.minutes))) or 0)
        outbox = await count_rows(app.service.db, app.tables.outbox)
        relay_deadline = time.monotonic() + 15
        while await app.service.relay.pending_count() and time.monotonic() < relay_deadline:
            await asyncio.sleep(0.2)
        pending = await app.service.relay.pending_count()

        # report
        print()
        if not log.calls:
            print("ours: billing accrued nothing before the time limit")
            return 1
        first = log.calls[0][0]
        last = max(end for _, end, _ in log.calls)
        ours_seconds = last - first
        ours = accrued / ours_seconds if ours_seconds > 0 else float("inf")
        consume_rate = base.records / base.consume_seconds
        pipeline_rate = base.records / base.pipeline_seconds
        complete = accrued == args.entries and minutes == total_minutes
        what_if = f", what-if {'+'.join(args.what_if)}" if args.what_if else ""
        print(f"=== time entries -> accrued usage ({args.database}, {args.entries} entries{what_if}) ===")
        print(
            f"ours      {ours:10,.0f} entries/s  ({accrued} accrued in {ours_seconds:.2f} s from the first"
            f" batch; start()+group join took {first - t_start:.2f} s)"
        )
        print(
            f"baseline  {pipeline_rate:10,.0f} entries/s  (plain aiokafka getmany + json.loads + executemany "
            f"INSERT per batch, {base.pipeline_seconds:.2f} s)"
        )
        print(
            f"          {consume_rate:10,.0f} entries/s  (plain aiokafka getmany + json.loads only, "
            f"{base.consume_seconds:.2f} s)"
        )
        print(
            f"ratio     ours/baseline {ours / pipeline_rate:.3f}"
            f"   ours/consume-only {ours / consume_rate:.3f}"
            f"   target {TARGET:,}/s and {TARGET_RATIO}: "
            f"{'met' if ours >= TARGET and ours / pipeline_rate >= TARGET_RATIO else 'NOT met'}"
        )
        print(
            f"check     accrued {accrued}/{args.entries}, minutes {minutes}/{total_minutes}, "
            f"cycle_usage rows {cycles}, usage events in outbox {outbox} ({pending} unsent after 15 s)"
            f" -> {'complete' if complete else 'INCOMPLETE'}"
        )
        sizes = [n for _, _, n in log.calls]
        per_entry = [(end - start) / n * 1e6 for start, end, n in log.calls]
        busy = sum(end - start for start, end, _ in log.calls)
        print(
            f"batches   {len(sizes)} handler calls, size mean {sum(sizes) / len(sizes):.0f} max {max(sizes)};"
            f" handler busy {busy:.2f} s of {ours_seconds:.2f} s"
        )
        head = ", ".join(f"{v:.0f}" for v in per_entry[:4])
        tail = ", ".join(f"{v:.0f}" for v in per_entry[-4:])
        print(f"          µs per entry in handler: first batches [{head}] ... last batches [{tail}]")
        if args.breakdown:
            for line in calls.report(busy):
                print(line)
            for line in timer.report(t_done - t_start):
                print(line)
        if args.profile != "none":
            print(f"\n=== profile ({args.profile}, main thread, from start() to done) ===")
            print(profiler.report(args.profile_top))
        del t_started
        if args.json_out:
            ratio = ours / pipeline_rate
            figure = Figure(
                f"billing accrual alone, Kafka -> accrued ({args.database})",
                ours,
                pipeline_rate,
                "entries/s",
                f">= {TARGET:,}/s, ratio >= {TARGET_RATIO}",
                ours >= TARGET and ratio >= TARGET_RATIO,
                note="baseline: aiokafka getmany + json.loads + executemany INSERT",
            )
            args.json_out.write_text(
                json.dumps({"complete": complete, "figures": [figure.__dict__]}, indent=1)
            )
        return 0 if complete else 1
    finally:
        if app is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(app.service.stop(), timeout=20)
        for step in dbs.cleanup:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(step(), timeout=30)


T0 = time.monotonic()

if __name__ == "__main__":
    arguments = parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Backstop: whatever hangs, the process ends (with stack traces) a little after the limit.
    faulthandler.dump_traceback_later(arguments.time_limit + 30, exit=True)
    try:
        code = asyncio.run(asyncio.wait_for(main(arguments), timeout=arguments.time_limit))
    except TimeoutError:
        print(f"gave up after the time limit of {arguments.time_limit:.0f} s", file=sys.stderr)
        code = 2
    sys.exit(code)
