"""Chaos at full size: time-entry commands sent while timetracking and billing are killed and the broker
restarts, with duplicates, conflicts and poison mixed in; then exact counts. Exits 1 on any loss,
double count, poison not dead-lettered or valid command dead-lettered, 2 on a wedge.

    uv run python bench/chaos.py [--entries 100000] [--contracts N] [--database postgresql|sqlite]
        [--postgres-url-prefix URL] [--kafka-port 31192] [--time-limit 1800]

The same run as tests/e2e/test_chaos.py (tests/support/chaos.py), bigger, with the services' default
batch sizes. Everything is the run's own, on loopback, and cleaned up afterwards: a broker on
--kafka-port (it is stopped and started again mid-run), the three services as processes on free ports,
and their databases. PostgreSQL is a private cluster with the server's default durability (fsync on),
unless --postgres-url-prefix names a server (its fsync setting is printed).
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import shutil
import signal
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import asyncpg  # noqa: E402
from _common import OwnPostgres  # noqa: E402 - puts the checkout on sys.path for tests.support

from tests.e2e.stack import SERVICES, make_stack  # noqa: E402
from tests.support.auth import JWKS_FILE  # noqa: E402
from tests.support.broker import LocalBroker  # noqa: E402
from tests.support.chaos import (  # noqa: E402
    ChaosFigures,
    ChaosRun,
    ChaosSize,
    ChaosWedged,
    build_workload,
    chaos_accounts,
    chaos_client,
    sign_chaos_contracts,
)

ENTRIES_PER_CONTRACT = 500


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--contracts", type=int, help=f"default: one per {ENTRIES_PER_CONTRACT} entries")
    parser.add_argument("--poison", type=int, default=400)
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument(
        "--postgres-url-prefix",
        help="an existing server (postgresql+asyncpg://user:pw@host:port/, allowed to create databases) "
        "instead of a private cluster",
    )
    parser.add_argument("--kafka-port", type=int, default=31192, help="the run's own broker (and port + 1)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--stall-seconds", type=float, default=180.0, help="no progress this long: a wedge")
    parser.add_argument("--time-limit", type=float, default=1800.0, help="for the whole run, s")
    args = parser.parse_args()
    if not 100 <= args.entries <= 1_000_000:
        parser.error("--entries must be 100..1,000,000")
    return args


class Databases:
    """A new database per service: SQLite files, or on a PostgreSQL server (a private one by default)."""

    def __init__(self, kind: str, workdir: Path, prefix: str | None) -> None:
        self.kind = kind
        self.workdir = workdir
        self.cluster = OwnPostgres() if kind == "postgresql" and not prefix else None
        self.prefix = prefix or ""
        self.names = {name: f"chaos_{name}_{uuid.uuid4().hex[:8]}" for name in SERVICES}
        self.durability = "SQLite files (WAL)"

    async def create(self) -> dict[str, str]:
        if self.kind == "sqlite":
            return {name: f"sqlite+aiosqlite:///{self.workdir / name}.db" for name in SERVICES}
        if self.cluster is not None:
            self.prefix = await asyncio.to_thread(self.cluster.start)
        admin = await asyncpg.connect(self._dsn("postgres"))
        try:
            settings = [
                f"{name}={await admin.fetchval(f'SHOW {name}')}"
                for name in ("fsync", "synchronous_commit", "full_page_writes")
            ]
            self.durability = f"PostgreSQL {await admin.fetchval('SHOW server_version')}, " + ", ".join(
                settings
            )
            for database in self.names.values():
                await admin.execute(f'CREATE DATABASE "{database}"')
        finally:
            await admin.close()
        return {name: self.prefix + database for name, database in self.names.items()}

    def _dsn(self, database: str) -> str:
        return self.prefix.replace("postgresql+asyncpg://", "postgresql://") + database

    async def drop(self) -> None:
        if self.kind == "sqlite":
            return
        if self.cluster is not None:
            await asyncio.to_thread(self.cluster.stop)
            return
        admin = await asyncpg.connect(self._dsn("postgres"))
        try:
            for database in self.names.values():
                await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        finally:
            await admin.close()


async def main(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="bench-chaos-"))
    broker = LocalBroker(args.kafka_port, workdir / "kafka")
    databases = Databases(args.database, workdir, args.postgres_url_prefix)
    size = ChaosSize(
        entries=args.entries,
        contracts=args.contracts or max(4, args.entries // ENTRIES_PER_CONTRACT),
        poison=args.poison,
        seed=args.seed,
    )
    failed = True
    try:
        print(
            f"broker on {broker.bootstrap}: up in {await asyncio.to_thread(broker.start):.1f} s", flush=True
        )
        urls = await databases.create()
        print(f"database: {databases.durability}", flush=True)
        (workdir / "logs").mkdir()
        stack = make_stack(broker.bootstrap, urls, workdir / "logs", {"AUTH_JWKS_FILE": str(JWKS_FILE)})
        with stack.running() as seconds:
            print(f"stack ready in {seconds:.1f} s (logs in {workdir / 'logs'})", flush=True)
            async with chaos_client() as client:
                started = time.monotonic()
                accounts = chaos_accounts(uuid.uuid4().hex[:8], size.contracts)
                contracts = await sign_chaos_contracts(client, stack, accounts)
                print(f"{len(contracts)} contracts signed in {time.monotonic() - started:.1f} s", flush=True)
                workload = build_workload(contracts, size, datetime.now(UTC))
                run = ChaosRun(
                    stack,
                    broker,
                    client,
                    workload,
                    stall_seconds=args.stall_seconds,
                    say=lambda line: print(line, flush=True),
                )
                try:
                    figures = await run.run()
                except ChaosWedged as wedge:
                    print(f"WEDGED: {wedge}")
                    print("\n".join(run.figures.lines()))
                    return 2
        report(figures, databases.durability)
        failed = bool(figures.problems or figures.lost or figures.double_counted)
        return 1 if failed else 0
    finally:
        await asyncio.to_thread(broker.stop)
        await databases.drop()
        if failed:
            print(f"the services' logs are kept in {workdir / 'logs'}")
            shutil.rmtree(workdir / "kafka", ignore_errors=True)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def report(figures: ChaosFigures, durability: str) -> None:
    print(f"\n{durability}")
    print("\n".join(figures.lines()))
    for problem in figures.problems[:20]:
        print(f"PROBLEM: {problem}")
    print("OK: nothing lost, nothing counted twice" if not figures.problems else "FAILED")


if __name__ == "__main__":
    arguments = parse_args()

    def out_of_time(signum: int, frame: object) -> None:
        raise TimeoutError(f"gave up after the time limit of {arguments.time_limit:.0f} s")

    signal.signal(signal.SIGALRM, out_of_time)  # raised in main(): its clean-up still runs
    signal.alarm(int(arguments.time_limit))
    faulthandler.dump_traceback_later(arguments.time_limit + 120, exit=True)  # the backstop
    sys.exit(asyncio.run(main(arguments)))
