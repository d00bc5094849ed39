"""Benchmark: latency of logging one time entry over REST on timetracking, beside GET /health on it.

    uv run python bench/rest_time_entry_latency.py [--requests 200] [--database sqlite|postgresql]
        [--plain] [--own-broker] [--time-limit 180] [--profile] [--relay-off]

Starts timetracking as its own process on a fresh database and a free port (bench/_service_server.py:
the service as `timetracking-service` runs it, with per-run consumer groups; `--plain` runs
`uv run timetracking-service` itself, which joins the real groups), seeds one covering contract through
contracts.contracts.v1, then sends sequential requests from one keep-alive HTTP client, interleaved
so that all kinds see the same noise:
  GET  /health                                   the baseline: the same server, no work
  POST /time-entries                             one entry, covered by the contract
  POST /time-entries + Idempotency-Key           the same, with the key a retrying client sends
Prints p50/p95/p99 per kind and the ratio to the baseline; then the server's SQL time per statement
and, with --profile (run under `uv run --with pyinstrument`), the server's call tree.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402
from _common import (  # noqa: E402
    ROOT,
    BenchKeys,
    OwnBroker,
    bench_contract,
    bootstrap_servers,
    ensure_broker,
    free_port,
    kafka_options,
    percentile,
    postgres_prefix,
    stack_ports_answering,
    summary_ms,
)
from aiokafka import AIOKafkaProducer  # noqa: E402

from contracts_schema import CloudEvent, registry  # noqa: E402
from contracts_schema import contracts as cwire  # noqa: E402


def covering_contract(account: str) -> cwire.ContractState:
    today = datetime.now(UTC).date()
    return bench_contract(
        account=account,
        number=f"REST-{account}",
        start=today - timedelta(days=30),
        expiry=today + timedelta(days=335),
        calendar_id=uuid.uuid4(),
    )


async def produce_contract(bootstrap: str, state: cwire.ContractState) -> None:
    event = CloudEvent.wrap(cwire.ContractCreated(contract=state), source="bench", subject="c", actor="bench")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", **kafka_options())
    await producer.start()
    try:
        await producer.send_and_wait(
            registry.CONTRACTS.name, event.to_json(), key=str(state.contract_id).encode()
        )
    finally:
        await producer.stop()


def entry_body(account: str, n: int) -> dict[str, object]:
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2, minutes=n % 60)
    return {
        "request_id": f"REQ-{n % 50}",
        "account_id": account,
        "rep_id": "rep-1",
        "started_at": started.isoformat(),
        "duration_minutes": 15 + n % 45,
        "description": "bench",
    }


def main(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="bench-rest-"))
    broker = OwnBroker(workdir / "kafka") if args.own_broker else None
    process: subprocess.Popen[bytes] | None = None
    drop_database = None
    try:
        if broker is not None:
            bootstrap = broker.start()
        else:
            bootstrap = bootstrap_servers()
            ensure_broker(bootstrap)
            stack = stack_ports_answering()
            if stack:
                print(
                    f"warning: something answers on {stack} (scripts/stack.sh?): a running stack's billing "
                    "will consume the entries this bench logs; --own-broker keeps them apart.",
                    flush=True,
                )
        if args.database == "sqlite":
            url = f"sqlite+aiosqlite:///{workdir / 'timetracking.db'}"
        else:
            import asyncpg

            prefix = postgres_prefix()
            name = f"bench_rest_{uuid.uuid4().hex[:8]}"
            dsn = prefix.replace("postgresql+asyncpg", "postgresql") + "postgres"

            async def admin(sql: str) -> None:
                connection = await asyncpg.connect(dsn)
                try:
                    await connection.execute(sql)
                finally:
                    await connection.close()

            asyncio.run(admin(f'CREATE DATABASE "{name}"'))
            drop_database = lambda: asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))  # noqa: E731
            url = prefix + name
        port = free_port()
        report = workdir / "report.json"
        keys = BenchKeys.make(workdir / "keys")
        env = dict(
            os.environ,
            TIMETRACKING_DATABASE_URL=url,
            TIMETRACKING_HTTP_PORT=str(port),
            KAFKA_BOOTSTRAP_SERVERS=bootstrap,
            AUTH_JWKS_FILE=str(keys.jwks_file),
            BENCH_SERVICE="timetracking",
            BENCH_GROUP_SUFFIX=f"bench-{uuid.uuid4().hex[:8]}",
            BENCH_COMMIT_AT_END="1",
            BENCH_INSTRUMENT="1",
            BENCH_REPORT=str(report),
        )
        if args.profile:
            env["BENCH_PROFILE"] = "1"
        if args.relay_off:
            env["BENCH_RELAY_OFF"] = "1"
        command = (
            ["uv", "run", "--no-sync", "timetracking-service"]
            if args.plain
            else [sys.executable, str(Path(__file__).resolve().parent / "_service_server.py")]
        )
        log_path = workdir / "server.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        base = f"http://127.0.0.1:{port}"
        started = time.monotonic()
        headers = {"Authorization": keys.bearer("integration")}
        with httpx.Client(base_url=base, timeout=10.0, headers=headers) as client:
            while True:
                if process.poll() is not None:
                    raise RuntimeError(
                        f"timetracking exited with {process.returncode}:\n{log_path.read_text()}"
                    )
                try:
                    if client.get("/ready").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() - started > 60:
                    raise TimeoutError(f"timetracking not ready after 60 s:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.2)
            print(f"timetracking ready in {time.monotonic() - started:.1f} s on {base} ({args.database})")

            account = f"bench-rest-{uuid.uuid4().hex[:8]}"
            contract = covering_contract(account)
            asyncio.run(produce_contract(bootstrap, contract))
            deadline = time.monotonic() + 30
            n = 0
            while True:  # warm up until the contract copy has arrived and covers new entries
                response = client.post("/time-entries", json=entry_body(account, n))
                n += 1
                response.raise_for_status()
                if response.json()["contract_id"] == str(contract.contract_id) and n >= 20:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError("the seeded contract never covered an entry")
            for _ in range(20):
                client.get("/health")
                client.post(
                    "/time-entries",
                    json=entry_body(account, n),
                    headers={"Idempotency-Key": str(uuid.uuid4())},
                )
                n += 1

            kinds = ("GET /health (baseline)", "POST /time-entries", "POST /time-entries + Idempotency-Key")
            times: dict[str, list[float]] = {kind: [] for kind in kinds}
            bench_started = time.perf_counter()
            for _ in range(args.requests):
                t0 = time.perf_counter()
                client.get("/health").raise_for_status()
                t1 = time.perf_counter()
                client.post("/time-entries", json=entry_body(account, n)).raise_for_status()
                t2 = time.perf_counter()
                client.post(
                    "/time-entries",
                    json=entry_body(account, n + 1),
                    headers={"Idempotency-Key": str(uuid.uuid4())},
                ).raise_for_status()
                t3 = time.perf_counter()
                n += 2
                times[kinds[0]].append(t1 - t0)
                times[kinds[1]].append(t2 - t1)
                times[kinds[2]].append(t3 - t2)
            elapsed = time.perf_counter() - bench_started
            total = client.get("/time-entries", params={"account_id": account, "limit": 1}).json()["total"]

        print(f"\n=== REST latency, {args.requests} sequential requests of each kind, interleaved ===")
        baseline = percentile(times[kinds[0]], 50)
        for kind in kinds:
            ratio = percentile(times[kind], 50) / baseline
            print(f"{kind:40s} {summary_ms(times[kind])}   p50 x{ratio:.1f} baseline")
        print(f"({elapsed:.1f} s; {total} entries stored for the bench account, {n} posted incl. warm-up)")
        return 0
    finally:
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        report = workdir / "report.json"
        if report.exists():
            print("server side (whole server life, incl. warm-up):")
            print(json.loads(report.read_text())["text"].rstrip())
        if drop_database is not None:
            drop_database()
        if broker is not None:
            broker.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--plain", action="store_true", help="run `uv run timetracking-service` unchanged")
    parser.add_argument("--own-broker", action="store_true", help="a private broker on free ports")
    parser.add_argument("--time-limit", type=float, default=180.0)
    parser.add_argument("--profile", action="store_true", help="pyinstrument in the server process")
    parser.add_argument(
        "--relay-off",
        action="store_true",
        help="what-if: the outbox relay does not run, to see what it costs requests (not the product)",
    )
    arguments = parser.parse_args()
    if not 1 <= arguments.requests <= 10_000:
        parser.error("--requests must be 1..10,000")

    def out_of_time(signum: int, frame: object) -> None:
        raise TimeoutError(f"gave up after the time limit of {arguments.time_limit:.0f} s")

    signal.signal(signal.SIGALRM, out_of_time)  # raised in main(): its clean-up still runs
    signal.alarm(int(arguments.time_limit))
    faulthandler.dump_traceback_later(arguments.time_limit + 45, exit=True)  # the backstop
    sys.exit(main(arguments))
