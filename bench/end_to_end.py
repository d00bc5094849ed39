"""Benchmark: time entries from command to accrued usage, through both services, beside a raw pipeline.

    uv run python bench/end_to_end.py [--entries 50000] [--contracts 500] [--rate 2000]
        [--latency-seconds 10] [--database sqlite|postgresql] [--own-broker] [--warm-up SECONDS]
        [--time-limit 600] [--json-out FILE] [--profile]

Timetracking and billing run as their own processes (bench/_service_server.py) on fresh databases,
with per-run consumer groups. The path measured is the product's: `timetracking.time_entry.log`
commands -> timetracking (checked, attached to their contract, stored with their audit record and
outbox row) -> relay -> `timetracking.time-entries.v1` -> billing (placed in its cycle, usage
accrued, thresholds announced).

0. With `--own-broker` (or `--warm-up`), warms the broker first: a JVM started moments ago compiles
   Kafka's request handling while it serves, and spends a core on it (bench/_common.warm_broker).
1. Seeds 10 calendars and C contracts (monthly, per hour, postpaid, from the first of this month) and
   waits until both services hold them; then stops both.
2. Sustained: produces N log commands while the services are stopped, starts them again and takes
   N / (last entry accrued by billing - first batch of commands handed to timetracking).
3. Latency: offers `--rate` commands a second for `--latency-seconds` to the running services and
   takes, per entry, the time from its send to the commit of the billing batch that accrued it.
4. Checks: every entry stored once in each service, attached to its contract, each minute accrued
   once (cycle usage adds up to the entries' minutes), no rejection. A failed check exits 1.
5. Baseline: the same N command records through a raw two-hop pipeline, two processes like ours
   (bench/_raw_hop.py): consume + json + executemany + produce (acks=all) + commit, then consume +
   json + executemany + commit.
Both services' peak RSS is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import faulthandler
import itertools
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    BenchKeys,
    Figure,
    OwnBroker,
    ServiceProcess,
    bench_calendar,
    bench_contract,
    bootstrap_servers,
    end_offsets,
    ensure_broker,
    event_bytes,
    fresh_databases,
    kafka_security,
    percentile,
    produce_all,
    stack_ports_answering,
    warm_broker,
)
from aiokafka import AIOKafkaProducer  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

from billing.adapters import tables as billing_tables  # noqa: E402
from contracts_schema import contracts as cwire  # noqa: E402
from contracts_schema import registry  # noqa: E402
from contracts_schema.timetracking import LogTimeEntry  # noqa: E402
from servicekit.db import Database  # noqa: E402
from servicekit.kafka import ensure_topics  # noqa: E402
from timetracking.adapters import tables as timetracking_tables  # noqa: E402

CALENDARS = 10
TODAY = datetime.now(UTC).date()
FIRST_DAY = TODAY.replace(day=1)
COMMAND_GROUP = "log-commands"
OWN_BROKER_WARM_UP = 120.0
"""Seconds a broker started for the run is warmed: on this 2-core machine the end-to-end p99 came down
over about two minutes of traffic and then held (bench/README.md)."""
ACCRUAL_GROUP = "usage-accrual"
TARGET_SUSTAINED = 10_000
TARGET_P99_MS = 500


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=50_000, help="commands in the sustained phase")
    parser.add_argument("--contracts", type=int, default=500)
    parser.add_argument("--rate", type=int, default=2000, help="commands a second in the latency phase")
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--own-broker", action="store_true", help="a private broker on free ports")
    parser.add_argument(
        "--warm-up",
        type=float,
        help="seconds of traffic to warm the broker's JIT before measuring (bench/_common.warm_broker); "
        f"default {OWN_BROKER_WARM_UP:.0f} with --own-broker, else 0 (bench/run_all.py warms its broker)",
    )
    parser.add_argument("--time-limit", type=float, default=600.0)
    parser.add_argument("--json-out", type=Path, help="write the summary figures there (bench/run_all.py)")
    parser.add_argument(
        "--profile",
        choices=("pyinstrument", "cprofile"),
        help="profile both services: pyinstrument (wall, call tree) or cprofile (CPU by function)",
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the raw pipeline")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    if not 1 <= args.entries <= 1_000_000 or not 1 <= args.contracts <= 100_000:
        parser.error("--entries must be 1..1,000,000 and --contracts 1..100,000")
    if not 0 <= args.rate <= 20_000 or not 0 <= args.latency_seconds <= 120:
        parser.error("--rate must be 0..20,000 and --latency-seconds 0..120")
    if args.warm_up is None:
        args.warm_up = OWN_BROKER_WARM_UP if args.own_broker else 0.0
    if not 0 <= args.warm_up <= 600:
        parser.error("--warm-up must be 0..600 seconds")
    return args


def contract(run: str, index: int, calendar_id: uuid.UUID) -> cwire.ContractState:
    return bench_contract(
        account=f"e2e-{run}-{index}",
        number=f"E-{run}-{index}",
        start=FIRST_DAY,
        expiry=FIRST_DAY.replace(year=FIRST_DAY.year + 1) - timedelta(days=1),
        calendar_id=calendar_id,
    )


def log_command(rng: random.Random, state: cwire.ContractState, n: int) -> tuple[LogTimeEntry, bytes]:
    day = FIRST_DAY + timedelta(days=rng.randrange(TODAY.day))
    started = datetime(day.year, day.month, day.day, rng.randrange(7, 17), rng.randrange(60), tzinfo=UTC)
    command = LogTimeEntry(
        entry_id=uuid.uuid4(),
        request_id=f"REQ-{n % 997}",
        account_id=state.account_id,
        rep_id=f"rep-{n % 23}",
        started_at=started,
        duration_minutes=rng.randrange(5, 120),
        description="bench",
    )
    return command, event_bytes(command, f"time-entry/{command.entry_id}")


async def scalar(db: Database, statement: Any) -> int:
    async with db.read() as session:
        return int(await session.scalar(statement) or 0)


async def wait_for(db: Database, statement: Any, wanted: int, timeout: float, what: str) -> float:
    """Poll until the count reaches `wanted`; returns the instant it did."""
    deadline = time.monotonic() + timeout
    while True:
        found = await scalar(db, statement)
        if found >= wanted:
            return time.time()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: {found} of {wanted} after {timeout:.0f} s")
        await asyncio.sleep(0.25)


async def offer(bootstrap: str, commands: list[tuple[LogTimeEntry, bytes]], rate: int) -> dict[str, float]:
    """Send the commands at `rate` a second, in 5 ms steps; returns each entry's send instant."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=1)
    await producer.start()
    sent: dict[str, float] = {}
    pending = []
    try:
        step = 0.005
        per_step = max(1, round(rate * step))
        started = time.monotonic()
        for index in range(0, len(commands), per_step):
            due = started + (index // per_step) * step
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            for command, value in commands[index : index + per_step]:
                sent[str(command.entry_id)] = time.time()
                pending.append(
                    await producer.send(
                        registry.TIME_ENTRY_COMMANDS.name, value, key=command.account_id.encode()
                    )
                )
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sent


def stage_breakdown(reports: dict[str, dict[str, Any]], sent: dict[str, float]) -> list[str]:
    """Where an entry's time from send to accrued went, stage by stage (the services' reports say when
    each entry passed each stage; see bench/_service_server.py's Tracker): p50, p99 and mean per stage,
    over the entries sent in the latency phase."""
    tt = reports["timetracking"].get("stages", {}).get(COMMAND_GROUP, {})
    bl = reports["billing"].get("stages", {}).get(ACCRUAL_GROUP, {})
    event_of = reports["billing"].get("event_of", {})
    relayed = reports["timetracking"].get("relayed", {})
    names = [
        "producer took the command (record timestamp)",
        "timetracking: waiting to be handed over (Kafka, fetch, batches before)",
        "timetracking: parsing the batch",
        "timetracking: handler + commit",
        "relay: waiting for a cycle after the commit",
        "relay: reading the outbox",
        "relay: producer until Kafka acknowledged",
        "billing: waiting to be handed over (fetch, batches before)",
        "billing: parsing the batch",
        "billing: handler + commit",
    ]
    spans: list[list[float]] = [[] for _ in names]
    for entry_id, at in sent.items():
        if entry_id not in tt or entry_id not in bl or event_of.get(entry_id) not in relayed:
            continue
        cycle, handed_to_producer, acked = relayed[event_of[entry_id]]
        instants = [at, *tt[entry_id], cycle, handed_to_producer, acked, *bl[entry_id][1:]]
        for n, (earlier, later) in enumerate(itertools.pairwise(instants)):
            spans[n].append(1000 * (later - earlier))
    lines = [f"stages    where the time went, {len(spans[0])} entries of the latency phase (ms):"]
    for name, values in zip(names, spans, strict=True):
        if values:
            lines.append(
                f"          {name:<72} p50 {percentile(values, 50):7.1f}  p99 {percentile(values, 99):7.1f}"
                f"  mean {sum(values) / len(values):7.1f}"
            )
    if sent:
        first, last = min(sent.values()), max(sent.values())
        took = max(last - first, 1e-9)
        lines.append(f"offered   {len(sent)} commands in {took:.2f} s: {len(sent) / took:,.0f}/s")
        by_second: dict[int, list[float]] = {}
        for entry_id, at in sent.items():
            done = reports["billing"].get("accrued", {}).get(entry_id)
            if done is not None:
                by_second.setdefault(int(at - first), []).append(1000 * (done - at))
        lines.append(
            "by second p50/p99 ms: "
            + " ".join(
                f"{percentile(values, 50):.0f}/{percentile(values, 99):.0f}"
                for _, values in sorted(by_second.items())
            )
        )

        def in_phase(items: list[Any]) -> list[Any]:
            """The batches, commits or relay cycles (each begun at its first value) of the phase."""
            return [item for item in items if first <= item[0] <= last + 60]

        for name, group in (("timetracking", COMMAND_GROUP), ("billing", ACCRUAL_GROUP)):
            calls = in_phase(reports[name].get("batches", {}).get(group, []))
            if calls:
                lines.append(
                    f"batches   {name} {group} in the latency phase: {len(calls)} calls, mean "
                    f"{sum(n for *_, n in calls) / len(calls):,.0f} records, mean "
                    f"{1000 * sum(e - s for s, e, _ in calls) / len(calls):.0f} ms each"
                )
            commits = in_phase(reports[name].get("commits", {}).get(group, []))
            if commits:
                lines.append(
                    f"commits   {name} {group}: {len(commits)} offset commits, mean "
                    f"{1000 * sum(e - s for s, e in commits) / len(commits):.1f} ms"
                )
        cycles = in_phase(reports["timetracking"].get("relay_cycles", []))
        busy = [c for c in cycles if c[4]]
        if busy:

            def mean_ms(start: int, end: int) -> float:
                return float(1000 * sum(c[end] - c[start] for c in busy) / len(busy))

            lines.append(
                f"relay     timetracking, latency phase: {len(cycles)} cycles, {len(busy)} with rows, mean "
                f"{sum(c[4] for c in busy) / len(busy):,.0f} rows and {mean_ms(0, 3):.0f} ms each (read "
                f"{mean_ms(0, 1):.0f}, send {mean_ms(1, 2):.0f}, mark {mean_ms(2, 3):.0f})"
            )
    return lines


async def raw_baseline(
    bootstrap: str,
    database: str,
    workdir: Path,
    starts: dict[Any, int],
    ends: dict[Any, int],
    time_limit: float,
) -> float | None:
    """Records per second of the raw two-hop pipeline over the same command records."""
    run = uuid.uuid4().hex[:8]
    forward = f"bench.raw-e2e.{run}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(forward, registry.TIME_ENTRIES.partitions, 1)])
        urls, drop = await fresh_databases(database, [f"raw_a_{run}", f"raw_b_{run}"], workdir)
        count = sum(ends[p] - starts[p] for p in starts)
        hops = [
            {
                "database_url": urls[f"raw_a_{run}"],
                "bootstrap": bootstrap,
                "topic": registry.TIME_ENTRY_COMMANDS.name,
                "starts": {str(p.partition): o for p, o in starts.items()},
                "ends": {str(p.partition): o for p, o in ends.items()},
                "forward_to": forward,
            },
            {"database_url": urls[f"raw_b_{run}"], "bootstrap": bootstrap, "topic": forward, "count": count},
        ]
        processes = []
        outs = []
        try:
            for n, hop in enumerate(hops):
                path = workdir / f"raw-hop-{n}.json"
                hop["ready"] = str(workdir / f"raw-hop-{n}.ready")
                hop["time_limit"] = time_limit
                path.write_text(json.dumps(hop))
                outs.append(Path(str(path) + ".out"))
                processes.append(
                    subprocess.Popen([sys.executable, str(Path(__file__).parent / "_raw_hop.py"), str(path)])
                )
                # The second hop is up and reading before the first sends it anything.
                deadline = time.monotonic() + 60
                while not Path(hop["ready"]).exists() and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
            for process in processes:
                await asyncio.to_thread(process.wait, time_limit + 30)
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
            await drop()
        first, second = (json.loads(out.read_text()) for out in outs)
        if second["records"] < count:
            print(f"baseline: the raw pipeline moved {second['records']} of {count}")
            return None
        return float(count / (second["last"] - first["first"]))
    finally:
        with contextlib.suppress(Exception):
            await admin.delete_topics([forward])
        await admin.close()


async def main(args: argparse.Namespace) -> int:
    run = uuid.uuid4().hex[:8]
    workdir = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    broker = OwnBroker(workdir / "kafka") if args.own_broker else None
    try:
        return await measure(args, run, workdir, broker)
    finally:
        if broker is not None:
            broker.stop()
        shutil.rmtree(workdir, ignore_errors=True)


async def measure(args: argparse.Namespace, run: str, workdir: Path, broker: OwnBroker | None) -> int:
    if broker is not None:
        bootstrap = broker.start()
    else:
        bootstrap = bootstrap_servers()
        ensure_broker(bootstrap)
        if stack_ports_answering():
            print("warning: a stack answers on 8001-8003; use --own-broker for a quiet run", flush=True)
    await warm_broker(bootstrap, args.warm_up)
    await ensure_topics(bootstrap, security=kafka_security())
    urls, drop = await fresh_databases(args.database, ["timetracking", "billing"], workdir)
    keys = BenchKeys.make(workdir / "keys")
    suffix = f"bench-{run}"
    services = [
        ServiceProcess(name, urls[name], bootstrap, keys, workdir, suffix)
        for name in ("timetracking", "billing")
    ]
    timetracking, billing = services
    tt_db, billing_db = Database(urls["timetracking"]), Database(urls["billing"])
    extra = {"BENCH_PROFILE": args.profile} if args.profile else {}
    rng = random.Random(args.seed)
    print(
        f"end-to-end bench {run}: {args.entries} commands over {args.contracts} contracts, then "
        f"{args.rate}/s for {args.latency_seconds:.0f} s; {args.database}; broker {bootstrap}",
        flush=True,
    )
    try:
        # 1: both services with their copies of calendars and contracts
        for service in services:
            service.start(commit_at_end=True)
        for service in services:
            service.wait_ready()
        calendars = [bench_calendar(i, FIRST_DAY + timedelta(days=2)) for i in range(CALENDARS)]
        contracts = [contract(run, i, calendars[i % CALENDARS].calendar_id) for i in range(args.contracts)]
        await produce_all(
            bootstrap,
            [
                (
                    registry.CALENDARS.name,
                    str(c.calendar_id),
                    event_bytes(cwire.CalendarSaved(calendar=c), "c"),
                )
                for c in calendars
            ]
            + [
                (
                    registry.CONTRACTS.name,
                    str(c.contract_id),
                    event_bytes(cwire.ContractCreated(contract=c), f"contract/{c.contract_id}"),
                )
                for c in contracts
            ],
        )
        count = select(func.count())
        await wait_for(
            tt_db, count.select_from(timetracking_tables.covering_contracts), args.contracts, 60, "contracts"
        )
        await wait_for(
            billing_db, count.select_from(billing_tables.contracts), args.contracts, 60, "contracts"
        )
        await wait_for(billing_db, count.select_from(billing_tables.calendars), CALENDARS, 60, "calendars")
        for service in services:
            service.stop()
        print(f"seeded {CALENDARS} calendars and {args.contracts} contracts", flush=True)

        # 2: sustained, from a backlog
        sustained = [
            log_command(rng, contracts[rng.randrange(args.contracts)], n) for n in range(args.entries)
        ]
        latency = [
            log_command(rng, contracts[rng.randrange(args.contracts)], n)
            for n in range(int(args.rate * args.latency_seconds))
        ]
        minutes = sum(c.duration_minutes or 0 for c, _ in sustained + latency)
        starts = await end_offsets(bootstrap, registry.TIME_ENTRY_COMMANDS.name)
        await produce_all(
            bootstrap, [(registry.TIME_ENTRY_COMMANDS.name, c.account_id, v) for c, v in sustained]
        )
        ends = await end_offsets(bootstrap, registry.TIME_ENTRY_COMMANDS.name)
        for service in services:
            service.start(commit_at_end=False, **extra)
        for service in services:
            service.wait_ready()
        cpu = {service.service: service.cpu_seconds() for service in services}
        accrued = select(func.count()).select_from(billing_tables.usage_entries)
        await wait_for(billing_db, accrued, args.entries, args.time_limit / 2, "sustained phase accrued")
        cpu = {service.service: service.cpu_seconds() - cpu[service.service] for service in services}
        print(f"sustained phase: {args.entries} accrued", flush=True)

        # 3: latency at an offered rate
        sent: dict[str, float] = {}
        if latency:
            sent = await offer(bootstrap, latency, args.rate)
            await wait_for(billing_db, accrued, args.entries + len(latency), 120, "latency phase accrued")
        rss_live = {service.service: service.rss_mb() for service in services}
        reports = {service.service: service.stop() for service in services}

        # 4: checks
        total = args.entries + len(latency)
        u, cu = billing_tables.usage_entries.c, billing_tables.cycle_usage.c
        t = timetracking_tables.time_entries.c
        found = {
            "billing entries": await scalar(billing_db, accrued),
            "billing entries on a contract": await scalar(
                billing_db, select(func.count()).where(u.contract_id.is_not(None), u.cycle_index.is_not(None))
            ),
            "billing minutes": await scalar(billing_db, select(func.sum(u.counted_minutes))),
            "billing cycle usage": await scalar(billing_db, select(func.sum(cu.used))),
            "timetracking entries": await scalar(
                tt_db, select(func.count()).select_from(timetracking_tables.time_entries)
            ),
            "timetracking entries attached": await scalar(
                tt_db, select(func.count()).where(t.contract_id.is_not(None))
            ),
            "timetracking rejections": await scalar(
                tt_db, text("SELECT count(*) FROM outbox WHERE payload LIKE '%time_entry.rejected%'")
            ),
        }
        wanted = {
            "billing entries": total,
            "billing entries on a contract": total,
            "billing minutes": minutes,
            "billing cycle usage": minutes,
            "timetracking entries": total,
            "timetracking entries attached": total,
            "timetracking rejections": 0,
        }
        complete = found == wanted

        # figures
        ends_at = reports["billing"].get("accrued", {})
        batches = reports["timetracking"].get("batches", {}).get(COMMAND_GROUP, [])
        sustained_ids = [str(c.entry_id) for c, _ in sustained]
        first_batch = min(start for start, _, _ in batches) if batches else float("nan")
        last_accrued = max(ends_at.get(i, float("nan")) for i in sustained_ids)
        ours = args.entries / (last_accrued - first_batch)
        lags = [1000 * (ends_at[i] - at) for i, at in sent.items() if i in ends_at]
        p50, p99 = percentile(lags, 50), percentile(lags, 99)
        rss = {name: max(report.get("rss_peak_mb", 0.0), rss_live[name]) for name, report in reports.items()}
        for db in (tt_db, billing_db):
            await db.dispose()
        base = None
        if not args.no_baseline:
            base = await raw_baseline(bootstrap, args.database, workdir, starts, ends, args.time_limit / 3)

        print(
            f"\n=== time entries: command -> accrued ({args.database}, {args.entries} + {len(latency)}) ==="
        )
        print(f"ours      {ours:10,.0f} entries/s sustained  ({args.entries} in {args.entries / ours:.2f} s)")
        if base:
            print(f"baseline  {base:10,.0f} entries/s  (raw two-hop pipeline: aiokafka + json + executemany)")
            print(f"ratio     {ours / base:.3f}")
        if lags:
            print(
                f"latency   at {args.rate}/s offered: send -> accrued p50 {p50:.0f} ms, p99 {p99:.0f} ms, "
                f"max {max(lags):.0f} ms ({len(lags)} entries)"
            )
        for line in stage_breakdown(reports, sent):
            print(line)
        print("rss       peak " + ", ".join(f"{name} {mb:.0f} MB" for name, mb in rss.items()))
        per_entry = {name: 1e6 * seconds / args.entries for name, seconds in cpu.items()}
        print(
            "cpu       per entry in the sustained phase: "
            + ", ".join(f"{name} {us:.0f} µs" for name, us in per_entry.items())
            + f" (with a core each, the slower would carry {1e6 / max(per_entry.values()):,.0f}/s)"
        )
        for name, group in (("timetracking", COMMAND_GROUP), ("billing", ACCRUAL_GROUP)):
            sizes = [size for _, _, size in reports[name].get("batches", {}).get(group, [])]
            if sizes:
                print(
                    f"batches   {name} {group}: {len(sizes)} handler calls, "
                    f"mean {sum(sizes) / len(sizes):,.0f} records, max {max(sizes)}"
                )
        print(
            "check     "
            + ", ".join(f"{k} {found[k]}/{wanted[k]}" for k in wanted)
            + f" -> {'complete' if complete else 'INCOMPLETE'}"
        )
        for name, report in reports.items():
            if report.get("text"):
                print(f"\n=== {name} ===\n{report['text']}")
        figures = [
            Figure(
                f"end to end, commands -> accrued ({args.database})",
                ours,
                base,
                "entries/s",
                f">= {TARGET_SUSTAINED:,}/s",
                ours >= TARGET_SUSTAINED,
            ),
        ]
        if lags:
            figures.append(
                Figure(
                    f"end to end p99 send -> accrued at {args.rate}/s ({args.database})",
                    p99,
                    None,
                    "ms",
                    f"< {TARGET_P99_MS} ms",
                    p99 < TARGET_P99_MS,
                    note=f"p50 {p50:.0f} ms"
                    + (f"; broker warmed for {args.warm_up:.0f} s first" if args.warm_up else ""),
                )
            )
        for name, mb in rss.items():
            figures.append(Figure(f"{name} peak RSS, end to end", mb, None, "MB", "< 250 MB", mb < 250))
        if args.json_out:
            args.json_out.write_text(
                json.dumps({"complete": complete, "figures": [f.__dict__ for f in figures]}, indent=1)
            )
        return 0 if complete else 1
    finally:
        for service in services:
            with contextlib.suppress(Exception):
                service.stop()
        with contextlib.suppress(Exception):
            await drop()


if __name__ == "__main__":
    arguments = parse_args()
    faulthandler.dump_traceback_later(arguments.time_limit + 60, exit=True)
    try:
        code = asyncio.run(asyncio.wait_for(main(arguments), timeout=arguments.time_limit))
    except TimeoutError as error:
        print(f"gave up: {error or 'the time limit'}", file=sys.stderr)
        code = 2
    sys.exit(code)
