"""Benchmark: the cycle-end bill run, at several sizes, beside a raw baseline of the same run.

    uv run python bench/bill_run.py [--sizes 1000,3000,10000] [--entries-per-contract 20]
        [--database sqlite|postgresql] [--json-out FILE] [--profile] [--time-limit 900]

For each size N, billing is built in-process on a fresh database (no broker needed: nothing is
consumed, and the bills' events stay in the outbox). It is given 10 calendars and N monthly postpaid
contracts (USD 300.00 for 20 h, 40.00/h beyond) whose first cycle, last month, has ended, and 20
entries each in that cycle, accrued as billing accrues time-entry events. Then the bill run (what the
scheduler's tick does: `bill_schedule.make_due_bills`, a batch of contracts per transaction until none
is due) is timed.

Baseline: the same bills made raw over the same database: one SELECT of every entry of the cycle, the
minutes summed per contract in Python, and one executemany INSERT of a bill row (with a JSON document)
per contract into a scratch table, in one transaction.

Checks: one bill per contract, its total as recomputed here from the entries' minutes (base charge plus
40.00/h beyond 20 h, rounded half up), every contract scheduled for its next cycle. The time per bill
across the sizes shows whether the run grows linearly.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import json
import random
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    BenchKeys,
    Figure,
    bench_calendar,
    bench_contract,
    cpu_seconds,
    fresh_databases,
    peak_rss_mb,
)
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, func, insert, select  # noqa: E402

TARGET_SECONDS = 10.0
TARGET_CONTRACTS = 10_000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,3000,10000", help="contracts per run, comma-separated")
    parser.add_argument("--entries-per-contract", type=int, default=20)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--json-out", type=Path)
    parser.add_argument("--profile", action="store_true", help="cProfile of the largest run's bill run")
    parser.add_argument("--time-limit", type=float, default=900.0)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    args.sizes = [int(size) for size in args.sizes.split(",")]
    if not all(1 <= size <= 50_000 for size in args.sizes) or not 1 <= args.entries_per_contract <= 200:
        parser.error("sizes must be 1..50,000 and --entries-per-contract 1..200")
    return args


def expected_total(minutes: int) -> Decimal:
    overage = max(0, minutes - 20 * 60)
    extra = (Decimal(overage) * Decimal("40.00") / 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return Decimal("300.00") + extra


async def one_size(size: int, args: argparse.Namespace, workdir: Path, profile: bool) -> dict[str, Any]:
    from billing.adapters import tables
    from billing.adapters import wire as billing_wire
    from billing.bootstrap import bootstrap
    from billing.config import BillingSettings
    from billing.domain.usage import EntryChange, LoggedEntry, UsageEntry
    from billing.service_layer import bill_schedule, handlers
    from billing.service_layer.contract_cache import ContractCache
    from servicekit import migrations

    urls, drop = await fresh_databases(args.database, [f"billrun_{size}_{uuid.uuid4().hex[:6]}"], workdir)
    (url,) = urls.values()
    rng = random.Random(args.seed + size)
    try:
        app = bootstrap(BillingSettings(database_url=url, kafka_bootstrap_servers="127.0.0.1:1"))
        await asyncio.to_thread(migrations.upgrade, url, app.service.migrations_dir)
        today = datetime.now(UTC).date()
        this_month = today.replace(day=1)
        last_month = (this_month - timedelta(days=1)).replace(day=1)
        calendars = [bench_calendar(i, last_month + timedelta(days=2)) for i in range(10)]
        contracts = [
            bench_contract(
                account=f"run-{i}",
                number=f"R-{size}-{i}",
                start=last_month,
                expiry=last_month.replace(year=last_month.year + 1) - timedelta(days=1),
                calendar_id=calendars[i % 10].calendar_id,
            )
            for i in range(size)
        ]
        cache = ContractCache()
        seeded = time.perf_counter()
        async with app.units.write() as uow:
            await handlers.keep_calendars(uow, calendars)
        minutes: dict[str, int] = {}
        for start in range(0, size, 500):
            chunk = contracts[start : start + 500]
            async with app.units.write() as uow:
                await handlers.keep_contracts(uow, chunk)
                copies = await uow.contracts.many([c.contract_id for c in chunk])
                await bill_schedule.reschedule(uow, list(copies.values()))
            entries = []
            for state in chunk:
                total = 0
                for n in range(args.entries_per_contract):
                    day = last_month + timedelta(days=rng.randrange(27))
                    started = datetime(day.year, day.month, day.day, rng.randrange(7, 17), tzinfo=UTC)
                    entry_minutes = rng.randrange(15, 180)
                    total += entry_minutes
                    entries.append(
                        LoggedEntry(
                            UsageEntry(
                                entry_id=str(uuid.uuid4()),
                                request_id=f"REQ-{n}",
                                started_at=started,
                                minutes=entry_minutes,
                                include_non_operational=True,
                                billable=True,
                                other_charges=None,
                                traits=billing_wire.entry_traits(None, None, None, {}),
                            ),
                            state.contract_id,
                            state.account_id,
                            1,
                            EntryChange.LOGGED,
                        )
                    )
                minutes[str(state.contract_id)] = total
            async with app.units.write() as uow:
                await handlers.accrue_time_entries(uow, entries, contracts=cache, now=datetime.now(UTC))
        seed_seconds = time.perf_counter() - seeded

        # ours: the bill run, as the scheduler's tick runs it, in a billing process of its own
        await app.service.db.dispose()
        child = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--run-only", url, *(["--profile"] if profile else []),
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        output, _ = await child.communicate()
        run = json.loads(output.decode().strip().splitlines()[-1])
        made, ours, ours_cpu, profile_text = run["bills"], run["seconds"], run["cpu_seconds"], run["profile"]

        # checks
        b, c = tables.bills.c, tables.contracts.c
        async with app.service.db.read() as session:
            rows = (await session.execute(select(b.contract_id, b.total, b.period, b.is_main))).all()
            rescheduled = await session.scalar(
                select(func.count()).where(c.next_bill_due_at > datetime.now(UTC))
            )
        totals = {contract_id: Decimal(str(total)) for contract_id, total, _, _ in rows}
        wrong = [cid for cid, total in totals.items() if total != expected_total(minutes[cid])]
        complete = (
            len(rows) == size
            and len(totals) == size
            and not wrong
            and all(period == "1" and main for _, _, period, main in rows)
            and rescheduled == size
        )

        # baseline: the same bills, raw
        metadata = MetaData()
        scratch = Table(
            "scratch_bills",
            metadata,
            Column("bill_id", String(36), primary_key=True),
            Column("contract_id", String(36), nullable=False),
            Column("total", String(40), nullable=False),
            Column("minutes", Integer, nullable=False),
            Column("document", Text, nullable=False),
        )
        async with app.service.db.engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        u = tables.usage_entries.c
        started = time.perf_counter()
        async with app.service.db.transaction() as session:
            sums: dict[str, int] = {}
            for contract_id, entry_minutes in await session.execute(
                select(u.contract_id, u.counted_minutes).where(u.cycle_index == 1)
            ):
                sums[contract_id] = sums.get(contract_id, 0) + entry_minutes
            bills = []
            for contract_id, total_minutes in sums.items():
                total = expected_total(total_minutes)
                bills.append(
                    {
                        "bill_id": str(uuid.uuid4()),
                        "contract_id": contract_id,
                        "total": str(total),
                        "minutes": total_minutes,
                        "document": json.dumps(
                            {"contract_id": contract_id, "total": str(total), "minutes": total_minutes}
                        ),
                    }
                )
            await session.execute(insert(scratch), bills)
        baseline = time.perf_counter() - started
        await app.service.db.dispose()
        return {
            "size": size,
            "rss_mb": run["rss_mb"],
            "bills": made,
            "seconds": ours,
            "cpu_seconds": ours_cpu,
            "baseline_seconds": baseline,
            "seed_seconds": seed_seconds,
            "complete": complete,
            "wrong": len(wrong),
            "profile": profile_text,
        }
    finally:
        await drop()


async def run_only(url: str, profile: bool) -> dict[str, Any]:
    """The bill run alone, in this (fresh) process: what billing's scheduler does, batch after batch."""
    from billing.bootstrap import bootstrap
    from billing.config import BillingSettings
    from billing.service_layer import bill_schedule
    from servicekit.service import settle_heap

    app = bootstrap(BillingSettings(database_url=url, kafka_bootstrap_servers="127.0.0.1:1"))
    settle_heap()  # as the service does once started: its collector settings are the run's
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    cpu = cpu_seconds()
    started = time.perf_counter()
    made = 0
    while True:
        async with app.units.write() as uow:
            run = await bill_schedule.make_due_bills(uow, now=datetime.now(UTC))
        made += run.done
        if run.taken < bill_schedule.BATCH:
            break
    seconds = time.perf_counter() - started
    cpu = cpu_seconds() - cpu
    profile_text = ""
    if profiler is not None:
        import io
        import pstats

        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
        profile_text = out.getvalue()
    await app.service.db.dispose()
    return {
        "bills": made,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "rss_mb": peak_rss_mb(),
        "profile": profile_text,
    }


async def main(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="bench-billrun-"))
    keys = BenchKeys.make(workdir / "keys")
    import os

    os.environ["AUTH_JWKS_FILE"] = str(keys.jwks_file)
    try:
        results = []
        for size in args.sizes:
            result = await one_size(size, args, workdir, args.profile and size == max(args.sizes))
            results.append(result)
            print(
                f"{size:7,d} contracts: {result['bills']:7,d} bills in {result['seconds']:7.2f} s "
                f"({result['seconds'] / max(1, result['bills']) * 1000:6.3f} ms a bill, CPU "
                f"{result['cpu_seconds']:.2f} s); raw {result['baseline_seconds']:.2f} s; seeded in "
                f"{result['seed_seconds']:.1f} s -> {'complete' if result['complete'] else 'INCOMPLETE'}",
                flush=True,
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    largest = max(results, key=lambda r: r["size"])
    per_bill = [r["seconds"] / max(1, r["bills"]) for r in results]
    growth = max(per_bill) / min(per_bill)
    rss = max(r["rss_mb"] for r in results)
    rate = largest["bills"] / largest["seconds"]
    scaled = largest["seconds"] * TARGET_CONTRACTS / largest["size"]
    print(f"\n=== bill run ({args.database}, {args.entries_per_contract} entries a contract) ===")
    print(f"ours      {rate:10,.0f} bills/s  ({largest['bills']:,} bills in {largest['seconds']:.2f} s)")
    print(
        f"baseline  {largest['bills'] / largest['baseline_seconds']:10,.0f} bills/s"
        "  (one SELECT, sums, one INSERT)"
    )
    print(f"ratio     {largest['baseline_seconds'] / largest['seconds']:.3f}")
    print(f"linear    time per bill from smallest to largest size varies x{growth:.2f}")
    print(f"rss       peak {rss:.0f} MB (the billing process that ran the bill run)")
    if largest["profile"]:
        print(largest["profile"])
    complete = all(r["complete"] for r in results)
    figures = [
        Figure(
            f"bill run, {largest['size']:,} contracts x {args.entries_per_contract} entries "
            f"({args.database})",
            rate,
            largest["bills"] / largest["baseline_seconds"],
            "bills/s",
            f"{TARGET_CONTRACTS:,} in < {TARGET_SECONDS:.0f} s",
            scaled < TARGET_SECONDS,
            note=f"{largest['seconds']:.2f} s; {TARGET_CONTRACTS:,} at this rate: {scaled:.1f} s",
        ),
        Figure(
            "bill run grows linearly (time per bill, largest/smallest size)",
            growth,
            None,
            "x",
            "< 1.5",
            growth < 1.5,
            note=", ".join(f"{r['size']:,}: {r['seconds']:.2f} s" for r in results),
        ),
        Figure("billing peak RSS, bill run", rss, None, "MB", "< 250 MB", rss < 250),
    ]
    if args.json_out:
        args.json_out.write_text(
            json.dumps({"complete": complete, "figures": [f.__dict__ for f in figures]}, indent=1)
        )
    return 0 if complete else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["--run-only"]:  # the child process of one size's bill run
        print(json.dumps(asyncio.run(run_only(sys.argv[2], "--profile" in sys.argv[3:]))))
        sys.exit(0)
    arguments = parse_args()
    faulthandler.dump_traceback_later(arguments.time_limit + 30, exit=True)
    sys.exit(asyncio.run(asyncio.wait_for(main(arguments), timeout=arguments.time_limit)))
