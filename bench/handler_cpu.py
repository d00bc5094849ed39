"""Benchmark: CPU per entry of the end-to-end path's Python, in one process, without Kafka.

    uv run python bench/handler_cpu.py [--entries 20000] [--contracts 200] [--batch 2000]
        [--database sqlite|postgresql] [--sql]
        [--profile [--profile-only timetracking|billing] [--callers REGEX]]

The end-to-end figures move with the neighbours' load; this one barely does, so it is the one to
compare a change by. It builds timetracking and billing in this process (fresh databases, no broker)
and runs, with the CPU time of each step and how much of it was SQLite's thread:
1. timetracking: N `timetracking.time_entry.log` command records parsed (`servicekit.consumers`) and
   handed, `--batch` at a time, to the log-commands handler its consumer runs;
2. timetracking's relay: every outbox row read, turned into a message and marked published, with a
   sender that takes everything at once (the Kafka client's own work is not counted);
3. billing: the relay's messages, as records, parsed and handed to the usage-accrual handler.
Checks: every entry stored and attached in timetracking, every minute accrued in billing.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BenchKeys, SqlTimer, bench_calendar, event_bytes, fresh_databases  # noqa: E402
from end_to_end import CALENDARS, FIRST_DAY, contract, log_command  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from billing.adapters import tables as billing_tables  # noqa: E402
from billing.config import BillingSettings  # noqa: E402
from contracts_schema import Topic, registry  # noqa: E402
from contracts_schema import contracts as cwire  # noqa: E402
from servicekit import migrations  # noqa: E402
from servicekit.consumers import Delivery, parse_record  # noqa: E402
from servicekit.outbox import OutgoingMessage  # noqa: E402
from servicekit.service import settle_heap  # noqa: E402
from timetracking.adapters import tables as timetracking_tables  # noqa: E402
from timetracking.config import TimeTrackingSettings  # noqa: E402

Handler = Callable[[Sequence[Delivery]], Awaitable[None]]


class Handlers:
    """Stands in for `servicekit.consumers.Consumers`: keeps each subscriber's handler by name."""

    def __init__(self) -> None:
        self.by_name: dict[str, Handler] = {}
        self.topics: set[str] = set()

    def subscribe(self, topic: Topic, handler: Handler, *, name: str) -> None:
        self.by_name[name] = handler

    def group(self, name: str) -> str:
        return name


class TakesAll:
    """An outbox sender that takes every message at once and keeps their bytes."""

    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []

    async def send_all(self, messages: Sequence[OutgoingMessage]) -> None:
        self.sent.extend(messages)


def deliveries(topic: Topic, values: Sequence[bytes], group: str) -> list[Delivery]:
    found = []
    for offset, value in enumerate(values):
        event, body = parse_record(topic, value)
        found.append(Delivery(event, body, topic.name, 0, offset, None, group))
    return found


async def run(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="bench-handler-"))
    urls, drop = await fresh_databases(args.database, ["timetracking", "billing"], workdir)
    try:
        # Settings want a key set for tokens, though no request is made here.
        os.environ["AUTH_JWKS_FILE"] = str(BenchKeys.make(workdir / "keys").jwks_file)
        return await measure(args, urls)
    finally:
        await drop()
        shutil.rmtree(workdir, ignore_errors=True)


async def measure(args: argparse.Namespace, urls: dict[str, str]) -> int:
    from billing.bootstrap import MIGRATIONS as BILLING_MIGRATIONS
    from billing.bootstrap import bootstrap as billing_bootstrap
    from billing.entrypoints import consumers as billing_consumers
    from billing.service_layer.contract_cache import ContractCache
    from timetracking.bootstrap import MIGRATIONS as TT_MIGRATIONS
    from timetracking.bootstrap import bootstrap as tt_bootstrap
    from timetracking.entrypoints import consumers as tt_consumers

    for url, folder in ((urls["timetracking"], TT_MIGRATIONS), (urls["billing"], BILLING_MIGRATIONS)):
        await asyncio.to_thread(migrations.upgrade, url, folder)
    tt_app = tt_bootstrap(TimeTrackingSettings(database_url=urls["timetracking"]))
    sender = TakesAll()
    tt_app.service.relay._sender = sender
    tt_handlers = Handlers()
    tt_consumers.register(tt_handlers, tt_app.units, tt_app.clock)  # type: ignore[arg-type]
    billing_app = billing_bootstrap(BillingSettings(database_url=urls["billing"]))
    billing_handlers = Handlers()
    billing_consumers.register(
        billing_handlers,  # type: ignore[arg-type]
        billing_app.units.write,
        billing_app.clock,
        ContractCache(),
    )

    # seed both with the calendars and contracts
    rng = random.Random(11)
    calendars = [bench_calendar(i, FIRST_DAY + timedelta(days=2)) for i in range(CALENDARS)]
    contracts = [contract("cpu", i, calendars[i % CALENDARS].calendar_id) for i in range(args.contracts)]
    calendar_events = [event_bytes(cwire.CalendarSaved(calendar=c), "c") for c in calendars]
    contract_events = [event_bytes(cwire.ContractCreated(contract=c), "c") for c in contracts]
    await tt_handlers.by_name["calendar-view"](deliveries(registry.CALENDARS, calendar_events, "cal"))
    await tt_handlers.by_name["contract-view"](deliveries(registry.CONTRACTS, contract_events, "con"))
    await billing_handlers.by_name["calendar-copy"](deliveries(registry.CALENDARS, calendar_events, "cal"))
    await billing_handlers.by_name["contract-copy"](deliveries(registry.CONTRACTS, contract_events, "con"))
    await tt_app.service.relay.relay_once()
    sender.sent.clear()

    commands = [log_command(rng, contracts[rng.randrange(args.contracts)], n)[1] for n in range(args.entries)]
    settle_heap()  # as a service does once started
    profile = cProfile.Profile() if args.profile else None
    cpu: dict[str, float] = {}
    here: dict[str, float] = {}  # of it, in this thread; the rest is in the database driver's

    def timed(step: str) -> Any:
        class Step:
            def __enter__(self) -> None:
                if profile is not None and step.startswith(args.profile_only):
                    profile.enable()
                self.started = time.process_time()
                self.started_here = time.thread_time()

            def __exit__(self, *_: object) -> None:
                cpu[step] = cpu.get(step, 0.0) + time.process_time() - self.started
                here[step] = here.get(step, 0.0) + time.thread_time() - self.started_here
                if profile is not None:
                    profile.disable()

        return Step()

    log_commands = tt_handlers.by_name["log-commands"]
    for start in range(0, len(commands), args.batch):
        with timed("timetracking: parse commands"):
            batch = deliveries(registry.TIME_ENTRY_COMMANDS, commands[start : start + args.batch], "log")
        with timed("timetracking: log-commands handler"):
            await log_commands(batch)
        with timed("timetracking: relay (no Kafka)"):
            while await tt_app.service.relay.relay_once():
                pass
    events = [message.payload for message in sender.sent]
    sql = SqlTimer()
    if args.sql:
        sql.attach(billing_app.service.db.engine)
        sql.enabled = True
    accrual = billing_handlers.by_name["usage-accrual"]
    for start in range(0, len(events), args.batch):
        with timed("billing: parse events"):
            batch = deliveries(registry.TIME_ENTRIES, events[start : start + args.batch], "usage")
        with timed("billing: usage-accrual handler"):
            await accrual(batch)

    tt_db, billing_db = tt_app.service.db, billing_app.service.db
    async with tt_db.read() as session:
        stored = await session.scalar(
            select(func.count()).where(timetracking_tables.time_entries.c.contract_id.is_not(None))
        )
    async with billing_db.read() as session:
        accrued = await session.scalar(select(func.count()).select_from(billing_tables.usage_entries))
    complete = stored == args.entries and accrued == args.entries and len(events) == args.entries
    print(
        f"\n=== CPU per entry, {args.entries} entries over {args.contracts} contracts, batch {args.batch}, "
        f"{args.database} ==="
    )
    driver = "SQLite's thread" if args.database == "sqlite" else "other threads"
    for service in ("timetracking", "billing"):
        steps = {step: seconds for step, seconds in cpu.items() if step.startswith(service)}
        for step, seconds in steps.items():
            elsewhere = 1e6 * (seconds - here[step]) / args.entries
            print(f"  {1e6 * seconds / args.entries:7.1f} µs  {step:38} ({elsewhere:5.1f} of it in {driver})")
        print(f"  {1e6 * sum(steps.values()) / args.entries:7.1f} µs  {service} in all")
    print(
        f"check     stored {stored}, accrued {accrued}, sent {len(events)} -> "
        f"{'complete' if complete else 'INCOMPLETE'}"
    )
    if args.sql:
        print(
            "\n".join(
                ["billing: " + line for line in sql.report(cpu["billing: usage-accrual handler"], top=12)]
            )
        )
    if profile is not None:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(40)
        if args.callers:
            pstats.Stats(profile, stream=out).print_callers(args.callers)
        print(out.getvalue())
    await tt_db.dispose()
    await billing_db.dispose()
    return 0 if complete else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--contracts", type=int, default=200)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--profile", action="store_true", help="cProfile of the measured steps")
    parser.add_argument("--sql", action="store_true", help="billing's SQL time by statement")
    parser.add_argument(
        "--profile-only", default="", metavar="SERVICE", help="profile only this service's steps"
    )
    parser.add_argument("--callers", default="", metavar="REGEX", help="with --profile: who calls these")
    sys.exit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
