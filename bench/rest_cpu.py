"""Benchmark: CPU per `POST /time-entries` in one process, without sockets or Kafka, step by step.

    uv run python bench/rest_cpu.py [--requests 9000] [--group 9] [--database sqlite|postgresql]
        [--profile http|write|relay]

`rest_throughput.py` gives the figure that counts (server CPU per POST under load), but it moves with
the neighbours' load; this one barely does, so it is the one to compare a change by. It builds
timetracking in this process on a fresh database, seeds one covering contract through its consumer's
handler, and calls the service's ASGI app directly (no HTTP server, no lifespan), with the CPU time of:
1. `GET /health`, one at a time: the framework's floor;
2. `POST /time-entries` through the whole app (middlewares, dependencies, body, response) with the
   group commit replaced by one that answers at once: the request's own cost;
3. the group commit's write: `--group` requests at a time through the real `GroupCommit`, as the
   route hands them over (its unit of work, the use case, the commit);
4. the relay's cycle (read, mark published) after each group, with a sender that takes everything
   at once (the Kafka client's own work is not counted).
The process's CPU includes the database driver's thread; each step also says how much of it was the
event loop's thread. `--profile STEP`: cProfile of that step, by the loop thread's CPU (sorted by
BENCH_SORT, default tottime; BENCH_LINES lines). Checks: every entry stored once, every event sent.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BenchKeys, event_bytes, fresh_databases  # noqa: E402
from handler_cpu import Handlers, TakesAll, deliveries  # noqa: E402
from rest_throughput import entry_body, rest_contract  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from contracts_schema import contracts as cwire  # noqa: E402
from contracts_schema import registry  # noqa: E402
from servicekit import migrations  # noqa: E402
from servicekit.group_commit import GroupCommit  # noqa: E402
from servicekit.service import settle_heap  # noqa: E402
from timetracking.adapters import tables as timetracking_tables  # noqa: E402
from timetracking.config import TimeTrackingSettings  # noqa: E402


class Exchange:
    """One request through the ASGI app: its scope, its body, and what the app answered."""

    def __init__(self, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "server": ("127.0.0.1", 8000),
            "client": ("127.0.0.1", 50000),
            "scheme": "http",
            "method": method,
            "root_path": "",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": [*headers, (b"content-length", str(len(body)).encode())] if body else headers,
            "state": {},
        }
        self.body = body
        self.sent = False
        self.status = 0
        self.response = b""

    async def receive(self) -> dict[str, Any]:
        if self.sent:
            await asyncio.Event().wait()
        self.sent = True
        return {"type": "http.request", "body": self.body, "more_body": False}

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body":
            self.response += message.get("body", b"")


async def run(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="bench-rest-cpu-"))
    urls, drop = await fresh_databases(args.database, ["timetracking"], workdir)
    try:
        keys = BenchKeys.make(workdir / "keys")
        os.environ["AUTH_JWKS_FILE"] = str(keys.jwks_file)
        return await measure(args, urls["timetracking"], keys)
    finally:
        await drop()
        shutil.rmtree(workdir, ignore_errors=True)


async def measure(args: argparse.Namespace, url: str, keys: BenchKeys) -> int:
    from timetracking.bootstrap import MIGRATIONS
    from timetracking.bootstrap import bootstrap as tt_bootstrap
    from timetracking.entrypoints import consumers as tt_consumers
    from timetracking.entrypoints.api import entry_logger

    await asyncio.to_thread(migrations.upgrade, url, MIGRATIONS)
    tt_app = tt_bootstrap(TimeTrackingSettings(database_url=url))
    sender = TakesAll()
    relay = tt_app.service.relay
    relay._sender = sender
    handlers = Handlers()
    tt_consumers.register(handlers, tt_app.units, tt_app.clock)  # type: ignore[arg-type]
    account, contract = rest_contract()
    created = event_bytes(cwire.ContractCreated(contract=contract), "c")
    await handlers.by_name["contract-view"](deliveries(registry.CONTRACTS, [created], "con"))
    app = tt_app.http_app()
    headers = [
        (b"authorization", keys.bearer("integration").encode()),
        (b"content-type", b"application/json"),
    ]

    # The route's real logger, made by its own dependency, and one that answers at once.
    class AppRequest:
        def __init__(self) -> None:
            self.app = app

    real: GroupCommit[Any, Any] = await entry_logger(AppRequest())  # type: ignore[arg-type]
    logged: list[Any] = []

    class AtOnce:
        async def submit(self, request: Any) -> Any:
            outcomes = await real._apply([request]) if not logged else [logged[0]]
            if not logged:
                logged.append(outcomes[0])
            return outcomes[0]

    settle_heap()  # as a service does once started
    profile = cProfile.Profile(time.thread_time) if args.profile else None  # CPU of the loop's thread
    cpu: dict[str, float] = {}
    loop_cpu: dict[str, float] = {}
    count: dict[str, int] = {}

    async def step(name: str, work: Any, n: int) -> None:
        if profile is not None and args.profile == name.split(":")[0]:
            profile.enable()
        started, started_loop = time.process_time(), time.thread_time()
        await work
        cpu[name] = cpu.get(name, 0.0) + time.process_time() - started
        loop_cpu[name] = loop_cpu.get(name, 0.0) + time.thread_time() - started_loop
        count[name] = count.get(name, 0) + n
        if profile is not None:
            profile.disable()

    async def health() -> None:
        exchange = Exchange("GET", "/health", [], b"")
        await app(exchange.scope, exchange.receive, exchange.send)
        assert exchange.status == 200, exchange.response

    async def post(n: int) -> None:
        exchange = Exchange("POST", "/time-entries", headers, entry_body(account, n))
        await app(exchange.scope, exchange.receive, exchange.send)
        assert exchange.status == 201, exchange.response

    async def posts() -> None:
        for n in range(args.requests):
            await post(n)

    async def healths() -> None:
        for _ in range(args.requests):
            await health()

    await post(0)  # warm: the first answer is the one AtOnce repeats
    app.state.entry_logger = AtOnce()
    await post(1)
    await health()
    await step("http: GET /health", healths(), args.requests)
    await step("http: POST /time-entries (answered at once)", posts(), args.requests)

    work = [
        _log_request(tt_app, account, n, keys)
        for n in range(args.requests)  # built outside the measured steps: the route's part
    ]
    for start in range(0, len(work), args.group):
        group = work[start : start + args.group]
        await step("write: group commit", asyncio.gather(*(real.submit(r) for r in group)), len(group))
        if (start // args.group) % args.relay_every == args.relay_every - 1 or start + args.group >= len(
            work
        ):
            await step("relay: read, send, mark", _relay_all(relay), len(group) * args.relay_every)
        else:
            count["relay: read, send, mark"] = count.get("relay: read, send, mark", 0)

    async with tt_app.service.db.read() as session:
        stored = await session.scalar(
            select(func.count()).where(timetracking_tables.time_entries.c.account_id == account)
        )
    complete = stored == args.requests + 2 and len(sender.sent) == args.requests + 2
    print(f"\n=== CPU per request, {args.requests} requests, groups of {args.group}, {args.database} ===")
    for name, seconds in cpu.items():
        loop_share = loop_cpu[name] / seconds if seconds else 0.0
        print(
            f"  {1e6 * seconds / count[name]:7.1f} µs  {name} ({loop_share:.0%} in the event loop's thread)"
        )
    per_post = sum(seconds / count[name] for name, seconds in cpu.items() if not name.startswith("http: GET"))
    print(f"  {1e6 * per_post:7.1f} µs  POST in all (its request, its share of the group and the relay)")
    print(f"check     stored {stored}, sent {len(sender.sent)} -> {'complete' if complete else 'INCOMPLETE'}")
    if profile is not None:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats(os.environ.get("BENCH_SORT", "tottime")).print_stats(
            int(os.environ.get("BENCH_LINES", "45"))
        )
        print(out.getvalue())
    await tt_app.service.db.dispose()
    return 0 if complete else 1


def _log_request(tt_app: Any, account: str, n: int, keys: BenchKeys) -> Any:
    from servicekit.origin import Origin
    from timetracking.adapters import wire
    from timetracking.entrypoints.api import TimeEntryIn
    from timetracking.service_layer import handlers

    body = TimeEntryIn.model_validate_json(entry_body(account, n + 2))
    # As the route makes the request of a body without an entry id.
    return handlers.LogRequest.for_a_new_entry(wire.work_log(body), Origin("bench"))


async def _relay_all(relay: Any) -> None:
    await relay.relay_once()  # as the relay does when a commit wakes it: one cycle, then it waits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=9000)
    parser.add_argument("--group", type=int, default=9)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--relay-every", type=int, default=2, help="groups per relay cycle (at 20 clients, about two)"
    )
    parser.add_argument("--profile", choices=("http", "write", "relay"), help="cProfile of one step")
    sys.exit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
