"""Benchmark: POST /time-entries on timetracking at N concurrent clients, beside GET /health on it.

    uv run python bench/rest_throughput.py [--clients 20] [--seconds 10] [--database sqlite|postgresql]
        [--own-broker] [--json-out FILE] [--profile pyinstrument|cprofile] [--profile-out FILE]
        [--health-seconds S] [--instrument]

Starts timetracking as its own process (bench/_service_server.py) on a fresh database, seeds one
covering contract through Kafka and warms up until new entries are covered. Then, from N keep-alive
connections of a minimal HTTP/1.1 client (so that the client's own cost stays small beside the
server's), each sending its next request as soon as the last one is answered:
  GET  /health          for --seconds: the baseline, the same server doing no work
  POST /time-entries    for --seconds: one entry each, covered by the contract, with a bearer token
Prints requests/s and p50/p95/p99 of each; checks that every 201 left exactly one stored entry and
that nothing but 201 was answered; reports the server's peak RSS. To profile the POSTs, cut the
baseline short (`--profile cprofile --health-seconds 0.5`), else the profile is mostly `/health`;
`--profile-out` keeps the cProfile data for `python -m pstats`.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import json
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402
from _common import (  # noqa: E402
    BenchKeys,
    Figure,
    OwnBroker,
    ServiceProcess,
    bench_contract,
    bootstrap_servers,
    ensure_broker,
    event_bytes,
    fresh_databases,
    kafka_security,
    percentile,
    produce_all,
)

from contracts_schema import contracts as cwire  # noqa: E402
from contracts_schema import registry  # noqa: E402
from servicekit.kafka import ensure_topics  # noqa: E402

TARGET_RATE = 1500
TARGET_P99_MS = 50


def entry_body(account: str, n: int) -> bytes:
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2, minutes=n % 60)
    return json.dumps(
        {
            "request_id": f"REQ-{n % 50}",
            "account_id": account,
            "rep_id": "rep-1",
            "started_at": started.isoformat(),
            "duration_minutes": 15 + n % 45,
            "description": "bench",
        }
    ).encode()


def rest_contract() -> tuple[str, cwire.ContractState]:
    """A fresh account and the contract its entries are logged against: started a month ago."""
    account = f"bench-rest-{uuid.uuid4().hex[:8]}"
    today = datetime.now(UTC).date()
    contract = bench_contract(
        account=account,
        number=f"REST-{account}",
        start=today - timedelta(days=30),
        expiry=today + timedelta(days=335),
        calendar_id=uuid.uuid4(),
    )
    return account, contract


class Load:
    """Requests answered, their latencies and statuses, from N connections."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}


async def hammer(port: int, clients: int, seconds: float, request: object, load: Load, token: str) -> float:
    """Each client sends a request, reads the whole answer, and sends the next, for `seconds`."""
    deadline = time.monotonic() + seconds
    counter = iter(range(10**9))

    async def client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.monotonic() < deadline:
                n = next(counter)
                if callable(request):
                    body: bytes = request(n)
                    head = (
                        f"POST /time-entries HTTP/1.1\r\nHost: bench\r\nAuthorization: {token}\r\n"
                        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                    ).encode()
                    payload = head + body
                else:
                    payload = b"GET /health HTTP/1.1\r\nHost: bench\r\n\r\n"
                started = time.perf_counter()
                writer.write(payload)
                status_line = await reader.readline()
                length = 0
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b""):
                        break
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                load.latencies.append(time.perf_counter() - started)
                status = int(status_line.split()[1])
                load.statuses[status] = load.statuses.get(status, 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return time.perf_counter() - started


async def main(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="bench-rest-"))
    broker = OwnBroker(workdir / "kafka") if args.own_broker else None
    service: ServiceProcess | None = None
    drop = None
    try:
        if broker is not None:
            bootstrap = broker.start()
        else:
            bootstrap = bootstrap_servers()
            ensure_broker(bootstrap)
        await ensure_topics(bootstrap, security=kafka_security())
        urls, drop = await fresh_databases(args.database, ["timetracking"], workdir)
        keys = BenchKeys.make(workdir / "keys")
        service = ServiceProcess(
            "timetracking", urls["timetracking"], bootstrap, keys, workdir, f"bench-{uuid.uuid4().hex[:8]}"
        )
        extra = {}
        if args.profile:
            extra["BENCH_PROFILE"] = args.profile
        if args.profile_out:
            extra["BENCH_PROFILE_OUT"] = str(args.profile_out.resolve())
        if args.instrument or args.profile:
            extra["BENCH_INSTRUMENT"] = "1"
        service.start(commit_at_end=True, **extra)
        service.wait_ready()
        token = keys.bearer("integration")
        account, contract = rest_contract()
        await produce_all(
            bootstrap,
            [
                (
                    registry.CONTRACTS.name,
                    str(contract.contract_id),
                    event_bytes(cwire.ContractCreated(contract=contract), "c"),
                )
            ],
        )
        headers = {"Authorization": token, "Content-Type": "application/json"}
        async with httpx.AsyncClient(base_url=service.base_url, timeout=10.0, headers=headers) as http:
            deadline = time.monotonic() + 30
            n = 0
            while True:  # until the contract copy has arrived and covers new entries
                response = await http.post("/time-entries", content=entry_body(account, n))
                n += 1
                response.raise_for_status()
                if response.json()["contract_id"] == str(contract.contract_id) and n >= 50:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError("the seeded contract never covered an entry")
            warm = n
            await hammer(service.port, args.clients, 1.0, None, Load(), token)
            await hammer(service.port, args.clients, 1.0, lambda i: entry_body(account, i), Load(), token)
            before = (await http.get("/time-entries", params={"account_id": account, "limit": 1})).json()
            health, posts = Load(), Load()
            cpu = service.cpu_seconds()
            health_seconds = await hammer(
                service.port, args.clients, args.health_seconds or args.seconds, None, health, token
            )
            cpu_health, cpu = service.cpu_seconds() - cpu, service.cpu_seconds()
            post_seconds = await hammer(
                service.port, args.clients, args.seconds, lambda i: entry_body(account, i), posts, token
            )
            cpu_post = service.cpu_seconds() - cpu
            after = (await http.get("/time-entries", params={"account_id": account, "limit": 1})).json()
        rss_live = service.rss_mb()
        report = service.stop()
        service = None
        stored = after["total"] - before["total"]
        created = posts.statuses.get(201, 0)
        complete = stored == created and set(posts.statuses) == {201}
        rates = {
            "health": len(health.latencies) / health_seconds,
            "post": len(posts.latencies) / post_seconds,
        }
        p = {
            name: [1000 * percentile(load.latencies, q) for q in (50, 95, 99)]
            for name, load in (("health", health), ("post", posts))
        }
        rss = max(report.get("rss_peak_mb", 0.0), rss_live)
        print(
            f"\n=== REST, {args.clients} concurrent clients, {args.seconds:.0f} s each ({args.database}) ==="
        )
        for name, label in (("health", "GET /health (baseline)"), ("post", "POST /time-entries")):
            p50, p95, p99 = p[name]
            print(
                f"{label:26s} {rates[name]:8,.0f} req/s   "
                f"p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  p99 {p99:6.1f} ms"
            )
        print(f"ratio      POST/health {rates['post'] / rates['health']:.3f}")
        cpu_ms = {
            "health": 1000 * cpu_health / len(health.latencies),
            "post": 1000 * cpu_post / len(posts.latencies),
        }
        print(
            f"cpu        server CPU per request: GET /health {cpu_ms['health']:.2f} ms, "
            f"POST {cpu_ms['post']:.2f} ms (what the server could do alone on one core: "
            f"{1000 / cpu_ms['post']:,.0f} POST/s)"
        )
        print(f"rss        timetracking peak {rss:.0f} MB")
        print(
            f"check      statuses {posts.statuses}, {created} created, {stored} stored "
            f"({warm} during warm-up) -> {'complete' if complete else 'INCOMPLETE'}"
        )
        if report.get("text"):
            print(f"\n=== timetracking ===\n{report['text']}")
        figures = [
            Figure(
                f"REST POST /time-entries, {args.clients} clients ({args.database})",
                rates["post"],
                rates["health"],
                "req/s",
                f">= {TARGET_RATE:,}/s",
                rates["post"] >= TARGET_RATE,
                note=f"baseline: GET /health, same server and clients; p50 {p['post'][0]:.1f} ms",
            ),
            Figure(
                f"REST POST /time-entries p99, {args.clients} clients ({args.database})",
                p["post"][2],
                p["health"][2],
                "ms",
                f"< {TARGET_P99_MS} ms",
                p["post"][2] < TARGET_P99_MS,
                note="baseline: GET /health p99",
            ),
            Figure("timetracking peak RSS, REST", rss, None, "MB", "< 250 MB", rss < 250),
        ]
        if args.json_out:
            args.json_out.write_text(
                json.dumps({"complete": complete, "figures": [f.__dict__ for f in figures]}, indent=1)
            )
        return 0 if complete else 1
    finally:
        if service is not None:
            service.stop()
        if drop is not None:
            await drop()
        if broker is not None:
            broker.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--own-broker", action="store_true", help="a private broker on free ports")
    parser.add_argument("--json-out", type=Path)
    parser.add_argument(
        "--profile",
        choices=("pyinstrument", "cprofile"),
        help="profile the server: pyinstrument (wall, call tree) or cprofile (CPU by function)",
    )
    parser.add_argument("--profile-out", type=Path, help="with --profile cprofile: write its data here")
    parser.add_argument(
        "--health-seconds", type=float, help="how long the GET /health baseline runs (default: --seconds)"
    )
    parser.add_argument("--instrument", action="store_true", help="time the server's SQL and steps")
    parser.add_argument("--time-limit", type=float, default=300.0)
    arguments = parser.parse_args()
    if not 1 <= arguments.clients <= 200 or not 0.5 <= arguments.seconds <= 120:
        parser.error("--clients must be 1..200 and --seconds 0.5..120")
    faulthandler.dump_traceback_later(arguments.time_limit + 30, exit=True)
    sys.exit(asyncio.run(asyncio.wait_for(main(arguments), timeout=arguments.time_limit)))
