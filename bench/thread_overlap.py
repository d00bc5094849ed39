"""Micro-benchmark: can the event loop's Python run while SQLite writes in its thread?

    uv run python bench/thread_overlap.py [--batch 2000] [--batches 10] [--rounds 3] [--slice 100]
        [--statement-rows 1] [--switch-interval 0.005]

A service's lane is its event loop plus SQLite's thread (`servicekit.sqlite_driver`). This measures
whether the two can work at once, with the work they do: the loop parses `--batch` time-entry
commands (`servicekit.consumers.parse_record`, the services' parser) while the thread inserts
`--batch` rows into a table shaped like timetracking's `time_entries` (its columns and indexes, from
the service's metadata), in one transaction:

- **in turns**: parse the batch, then write it (what the services do);
- **overlapped**: start the write in the thread, parse meanwhile, `--slice` commands between yields
  to the loop (so that the write's end is noticed), then wait for the write.

The write is the driver's `executemany` (`--statement-rows 1`, what the services use), or INSERTs of
that many rows each (multi-row VALUES, the rest by `executemany`). `--switch-interval` sets Python's
(`sys.setswitchinterval`, 0.005 s by default).

Each round makes a fresh database and runs both ways on it in alternation, batch after batch, so that
the table grows alike for both. Printed: wall and CPU (both threads) per entry. The baseline is the
first way: overlapping pays only if its wall per entry is lower. The best it could do is printed too:
the longer of the two steps, timed apart in turns.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from end_to_end import FIRST_DAY, contract, log_command  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402

from contracts_schema import registry  # noqa: E402
from servicekit.consumers import parse_record  # noqa: E402
from timetracking.adapters import tables  # noqa: E402


def fresh_table(path: Path) -> tuple[sqlite3.Connection, str]:
    """The service's `time_entries` (columns and indexes) in a new database, with the service's pragmas."""
    engine = create_engine(f"sqlite:///{path}")
    tables.time_entries.create(engine)
    engine.dispose()
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "wal_autocheckpoint=4000"):
        connection.execute(f"PRAGMA {pragma}")
    columns = [column.name for column in tables.time_entries.columns]
    insert = f"INSERT INTO time_entries ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    return connection, insert


def entry_rows(rng: random.Random, count: int) -> list[tuple[Any, ...]]:
    """Rows like a batch of logged entries: random ids, 500 accounts and contracts, a ~700-byte document."""
    document = '{"description": "' + "x" * 650 + '"}'
    rows = []
    for _ in range(count):
        account = rng.randrange(500)
        started = FIRST_DAY + timedelta(minutes=rng.randrange(40_000))
        rows.append(
            (
                str(uuid.uuid4()),
                f"account-{account}",
                str(uuid.UUID(int=account + 1)),
                f"REQ-{rng.randrange(10**6)}",
                f"rep-{rng.randrange(50)}",
                datetime.combine(started, datetime.min.time(), UTC).isoformat(),
                rng.randrange(1, 300),
                1,
                0,
                None,
                None,
                1,
                0,
                document,
            )
        )
    return rows


class Lane:
    """One database, its writer thread, and the commands the loop parses."""

    def __init__(self, path: Path, commands: list[bytes], args: argparse.Namespace) -> None:
        self.connection, self.insert = fresh_table(path)
        self.thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite")
        self.commands = commands
        self.args = args
        self.rng = random.Random(5)
        self.parsing = self.writing = 0.0
        """Seconds of the two steps in turns: the best overlap could do is the longer of them."""

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        self.connection.execute("BEGIN IMMEDIATE")
        each = self.args.statement_rows
        # One statement steps all its rows with the GIL released; executemany takes it back per row.
        whole = len(rows) - len(rows) % each if each > 1 else 0
        if whole:
            group = self.insert[self.insert.index(" VALUES ") + 8 :]
            several = self.insert + ", " + ", ".join([group] * (each - 1))
            for start in range(0, whole, each):
                chunk = rows[start : start + each]
                self.connection.execute(several, [value for row in chunk for value in row])
        self.connection.executemany(self.insert, rows[whole:])
        self.connection.execute("COMMIT")

    def parse(self, start: int, count: int) -> None:
        for value in self.commands[start : start + count]:
            parse_record(registry.TIME_ENTRY_COMMANDS, value)

    async def in_turns(self, rows: list[tuple[Any, ...]]) -> None:
        started = time.perf_counter()
        self.parse(0, len(rows))
        parsed = time.perf_counter()
        await asyncio.get_running_loop().run_in_executor(self.thread, self.write, rows)
        self.parsing += parsed - started
        self.writing += time.perf_counter() - parsed

    async def overlapped(self, rows: list[tuple[Any, ...]]) -> None:
        writing = asyncio.get_running_loop().run_in_executor(self.thread, self.write, rows)
        for start in range(0, len(rows), self.args.slice):
            self.parse(start, self.args.slice)
            await asyncio.sleep(0)
        await writing


Figures = dict[str, list[tuple[float, float]]]
"""Per way: each round's wall and CPU per entry, µs."""


async def measure(args: argparse.Namespace, workdir: Path) -> tuple[Figures, float]:
    rng = random.Random(11)
    contracts = [contract("overlap", i, uuid.uuid4()) for i in range(50)]
    commands = [log_command(rng, contracts[rng.randrange(50)], n)[1] for n in range(args.batch)]
    figures: Figures = {"in turns": [], "overlapped": []}
    parsing = writing = 0.0
    for round_ in range(args.rounds):
        lane = Lane(workdir / f"round-{round_}.db", commands, args)
        ways = {"in turns": lane.in_turns, "overlapped": lane.overlapped}
        spent = {name: [0.0, 0.0] for name in ways}
        for batch in range(2 * args.batches):
            name = list(ways)[(batch + round_) % 2]
            rows = entry_rows(lane.rng, args.batch)
            wall, cpu = time.perf_counter(), time.process_time()
            await ways[name](rows)
            spent[name][0] += time.perf_counter() - wall
            spent[name][1] += time.process_time() - cpu
        entries = args.batches * args.batch
        for name, (wall_s, cpu_s) in spent.items():
            figures[name].append((1e6 * wall_s / entries, 1e6 * cpu_s / entries))
        parsing, writing = parsing + lane.parsing, writing + lane.writing
        lane.thread.shutdown()
        lane.connection.close()
    return figures, max(parsing, writing) / (parsing + writing)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=2000, help="entries a batch (default 2000)")
    parser.add_argument("--batches", type=int, default=10, help="batches each way a round (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="fresh databases (default 3)")
    parser.add_argument("--slice", type=int, default=100, help="commands parsed between yields (default 100)")
    parser.add_argument(
        "--statement-rows", type=int, default=1, help="rows an INSERT statement (default 1: executemany)"
    )
    parser.add_argument(
        "--switch-interval", type=float, default=0.005, help="sys.setswitchinterval, seconds (default 0.005)"
    )
    args = parser.parse_args()
    if min(args.batch, args.batches, args.rounds, args.slice, args.statement_rows) < 1:
        parser.error("--batch, --batches, --rounds, --slice and --statement-rows must be at least 1")
    columns = len(tables.time_entries.columns)
    if args.statement_rows * columns > 32766:  # SQLite's limit on a statement's parameters
        parser.error(f"--statement-rows at most {32766 // columns} ({columns} columns a row)")
    if not 0 < args.switch_interval <= 1:
        parser.error("--switch-interval must be above 0 and at most 1 second")
    sys.setswitchinterval(args.switch_interval)
    workdir = Path(tempfile.mkdtemp(prefix="bench-overlap-"))
    try:
        figures, best = asyncio.run(measure(args, workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    write = "executemany" if args.statement_rows == 1 else f"INSERTs of {args.statement_rows} rows"
    print(
        f"\n=== parse on the event loop beside {write} in SQLite's thread, batch {args.batch}, "
        f"switch interval {args.switch_interval * 1000:g} ms ==="
    )
    for name, rounds in figures.items():
        walls = ", ".join(f"{wall:.1f}" for wall, _ in rounds)
        cpus = ", ".join(f"{cpu:.1f}" for _, cpu in rounds)
        print(f"  {name:11} wall per entry {walls} µs   CPU per entry {cpus} µs")
    turns = sum(wall for wall, _ in figures["in turns"])
    overlapped = sum(wall for wall, _ in figures["overlapped"])
    print(f"ratio     overlapped / in turns (wall): {overlapped / turns:.2f} (below 1: overlapping pays)")
    print(f"best      {best:.2f}: parsing and writing fully overlapped (the longer of the two, in turns)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
