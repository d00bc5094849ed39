"""Helpers shared by the benchmarks in bench/: isolated consumer groups, ports, percentiles, SQL timing,
private brokers and PostgreSQL clusters.

Nothing here changes service code: consumer groups are made unique per run by wrapping
`servicekit.consumers.Consumers.subscribe` before a service is built, and each such group's offsets are
committed at the topic's end before the service starts, so a run never reads older messages and never
steals partitions from a service or test that uses the real group names on the same broker.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts_schema import contracts as cwire
from contracts_schema.primitives import MoneyAmount
from servicekit.kafka_security import KafkaSecurity, from_environment

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # tests/support is shared with the test suite
DEFAULT_BOOTSTRAP = "127.0.0.1:9092"


def bootstrap_servers() -> str:
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP)


def kafka_security() -> KafkaSecurity:
    """The services' KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_* and KAFKA_SSL_* settings, which the services
    a benchmark builds read too (a secured broker needs the admin user: benchmarks make their own groups)."""
    return from_environment()


def kafka_options() -> dict[str, Any]:
    """Keyword arguments for a benchmark's own aiokafka clients."""
    return kafka_security().for_aiokafka()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def broker_answers(bootstrap: str) -> bool:
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=2.0):
            return True
    except OSError:
        return False


def ensure_broker(bootstrap: str) -> None:
    """Start the dev broker with scripts/kafka.sh when nothing answers on the default address."""
    if broker_answers(bootstrap):
        return
    if bootstrap != DEFAULT_BOOTSTRAP:
        raise SystemExit(f"no Kafka broker answers on {bootstrap}")
    print("kafka: not answering, starting it with scripts/kafka.sh start", flush=True)
    subprocess.run([str(ROOT / "scripts" / "kafka.sh"), "start"], check=True, timeout=180)


def postgres_prefix() -> str:
    """The SQLAlchemy URL prefix of the local dev cluster (scripts/postgres.sh), started if needed."""
    script = str(ROOT / "scripts" / "postgres.sh")
    if subprocess.run([script, "status"], capture_output=True, timeout=30).returncode != 0:
        print("postgres: not answering, starting it with scripts/postgres.sh start", flush=True)
        subprocess.run([script, "start"], check=True, timeout=300)
    return subprocess.run(
        [script, "url"], capture_output=True, text=True, check=True, timeout=30
    ).stdout.strip()


# --- consumer groups -------------------------------------------------------------------------------

HandlerWrapper = Callable[[str, Callable[..., Awaitable[None]]], Callable[..., Awaitable[None]]]


@dataclass
class Groups:
    """Groups (name -> topic) a service subscribed with while `isolated_groups` was active."""

    suffix: str
    topics: dict[str, str] = field(default_factory=dict)


@contextmanager
def isolated_groups(suffix: str, wrap: HandlerWrapper | None = None) -> Iterator[Groups]:
    """While active, every subscriber's consumer group gets `.<suffix>` appended; `wrap(name, handler)`
    may replace the batch handler (to time it). Inbox records go under the suffixed group too."""
    from servicekit.consumers import Consumers

    original = Consumers.subscribe
    groups = Groups(suffix)

    def subscribe(self: Any, topic: Any, handler: Any, *, name: str) -> None:
        suffixed = f"{name}.{suffix}"
        groups.topics[self.group(suffixed)] = topic.name
        original(self, topic, wrap(name, handler) if wrap else handler, name=suffixed)

    Consumers.subscribe = subscribe  # type: ignore[method-assign]
    try:
        yield groups
    finally:
        Consumers.subscribe = original  # type: ignore[method-assign]


async def partitions_of(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    found = consumer.partitions_for_topic(topic)
    if not found:
        await consumer._client.force_metadata_update()  # noqa: SLF001 - first look at a topic
        found = consumer.partitions_for_topic(topic) or set()
    return [TopicPartition(topic, p) for p in sorted(found)]


async def end_offsets(bootstrap: str, topic: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **kafka_options())
    await consumer.start()
    try:
        parts = await partitions_of(consumer, topic)
        return dict(await consumer.end_offsets(parts))
    finally:
        await consumer.stop()


async def commit_groups_at_end(bootstrap: str, groups: Groups) -> None:
    """Give each (new) group a committed offset at the end of its topic: it reads only what comes next.

    On a fresh broker the first commit waits for the offsets topic; aiokafka logs that wait as errors."""
    import logging

    quiet = logging.getLogger("aiokafka")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        await _commit_groups_at_end(bootstrap, groups)
    finally:
        quiet.setLevel(level)


async def _commit_groups_at_end(bootstrap: str, groups: Groups) -> None:
    for group, topic in groups.topics.items():
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False, **kafka_options()
        )
        await consumer.start()
        try:
            parts = await partitions_of(consumer, topic)
            consumer.assign(parts)
            ends = await consumer.end_offsets(parts)
            await consumer.commit(dict(ends))
        finally:
            await consumer.stop()


# --- figures -----------------------------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary_ms(values: Sequence[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"p50 {percentile(ms, 50):7.2f} ms  p95 {percentile(ms, 95):7.2f} ms  "
        f"p99 {percentile(ms, 99):7.2f} ms  mean {statistics.fmean(ms):7.2f} ms"
    )


# --- SQL timing --------------------------------------------------------------------------------------

_WS = re.compile(r"\s+")
_PARAMS = re.compile(r"\((?:\?|\$\d+|%\(\w+\)s)(?:, ?(?:\?|\$\d+|%\(\w+\)s))*\)")


def _shape(statement: str) -> str:
    text = _WS.sub(" ", statement).strip()
    text = _PARAMS.sub("(…)", text)
    text = re.sub(r"(\(…\)(, )?)+", "(…)", text)
    return text[:110]


class SqlTimer:
    """Wall time between before/after_cursor_execute per statement shape: the database's share,
    including the hop to aiosqlite's thread or asyncpg's socket."""

    def __init__(self) -> None:
        self.enabled = False
        self.stats: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])

    def attach(self, *engines: Any) -> None:
        from sqlalchemy import event

        for engine in {id(e): e for e in engines}.values():
            sync = engine.sync_engine
            event.listen(sync, "before_cursor_execute", self._before)
            event.listen(sync, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        conn.info.setdefault("_bench_t", []).append(time.perf_counter())

    def _after(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        started = conn.info["_bench_t"].pop()
        if self.enabled:
            entry = self.stats[_shape(statement)]
            entry[0] += 1
            entry[1] += time.perf_counter() - started

    def report(self, wall: float, top: int = 8) -> list[str]:
        total = sum(seconds for _, seconds in self.stats.values())
        lines = [f"SQL time {total:.2f} s of {wall:.2f} s wall ({100 * total / wall:.0f}%), top statements:"]
        ranked = sorted(self.stats.items(), key=lambda item: -item[1][1])[:top]
        for shape, (count, seconds) in ranked:
            lines.append(f"  {seconds:7.2f} s {int(count):7d}x  {shape}")
        return lines


# --- sharing the broker ------------------------------------------------------------------------------


def stack_ports_answering(ports: Sequence[int] = (8001, 8002, 8003)) -> list[int]:
    """Ports of a running dev stack (scripts/stack.sh): its services consume whatever a bench produces.

    (Asking the broker which groups are active would be more exact, but aiokafka 0.14 cannot decode
    Kafka 4.1's DescribeGroups response.)"""
    answering = []
    for port in ports:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                answering.append(port)
        except OSError:
            pass
    return answering


class OwnBroker:
    """A private single-node broker for one run on free ports, data in `home` (the test suite's
    `LocalBroker`: scripts/kafka.sh with its own KAFKA_HOME)."""

    def __init__(self, home: Path) -> None:
        from tests.support.broker import LocalBroker

        while True:
            port = free_port()
            with socket.socket() as probe:
                try:
                    probe.bind(("127.0.0.1", port + 1))
                    break
                except OSError:
                    continue
        self._broker = LocalBroker(port, home)
        self.bootstrap = self._broker.bootstrap

    def start(self) -> str:
        seconds = self._broker.start()
        print(f"own broker on {self.bootstrap} (up in {seconds:.1f} s)", flush=True)
        return self.bootstrap

    def stop(self) -> None:
        self._broker.stop()


WARM_UP_TOPIC = "bench.warm-up"


async def warm_broker(bootstrap: str, seconds: float, *, rate: int = 4000) -> int:
    """Give the broker `seconds` of traffic shaped like ours before a run measures it; returns the
    records read back. A JVM started moments ago runs Kafka's request handling interpreted while its
    JIT compiles it: measured here, a fresh broker's compiler threads took 25-37% of a core through an
    end-to-end latency phase and the broker ~60-80% in all, against ~10% once warm, which doubled p99
    on this 2-core machine. A broker in service is warm, so that is what a benchmark measures.

    1 KB records at `rate` a second in 5 ms steps, from an idempotent acks=all producer with a 1 ms
    linger (the outbox relay's), to a three-partition scratch topic; a consumer group reads them and
    commits after every fetch (the services' consumers). Bounded by `seconds`, on the given broker; the
    topic is deleted after."""
    import asyncio

    from aiokafka import AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    if seconds <= 0:
        return 0
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **kafka_options())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(WARM_UP_TOPIC, 3, 1)])
    except TopicAlreadyExistsError:
        pass
    finally:
        await admin.close()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=1, **kafka_options()
    )
    consumer = AIOKafkaConsumer(
        WARM_UP_TOPIC,
        bootstrap_servers=bootstrap,
        group_id=f"{WARM_UP_TOPIC}.{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="latest",
        **kafka_options(),
    )
    await producer.start()
    await consumer.start()
    read = 0
    started = time.monotonic()
    ends = started + seconds

    async def read_back() -> None:
        nonlocal read
        while time.monotonic() < ends + 1.0:
            fetched = await consumer.getmany(timeout_ms=200, max_records=500)
            if fetched:
                read += sum(len(records) for records in fetched.values())
                await consumer.commit()

    reader = asyncio.create_task(read_back())
    try:
        value, per_step, sent = b"w" * 1000, max(1, rate // 200), 0
        while time.monotonic() < ends:
            for _ in range(per_step):
                await producer.send(WARM_UP_TOPIC, value, key=str(sent % 97).encode())
                sent += 1
            await asyncio.sleep(max(0.0, started + sent / rate - time.monotonic()))
        await producer.flush()
        await reader
    finally:
        reader.cancel()
        await producer.stop()
        await consumer.stop()
        # Its records (~500 MB for two minutes) are not left on a broker that may be someone's.
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **kafka_options())
        await admin.start()
        try:
            await admin.delete_topics([WARM_UP_TOPIC])
        finally:
            await admin.close()
    print(f"broker warmed up: {sent} records sent and {read} read back in {seconds:.0f} s", flush=True)
    return read


# --- where the handler's time goes -------------------------------------------------------------------


class CallTimer:
    """Wall time and calls of chosen functions (sync or async), patched in place for one run.

    Wall time of an async function includes its awaits (the database); nested targets are counted in
    their callers too, so the figures do not add up to the total."""

    def __init__(self) -> None:
        self.stats: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
        self._undo: list[tuple[Any, str, Any]] = []
        self.enabled = False

    def patch(self, owner: Any, name: str, label: str | None = None) -> None:
        import inspect

        raw = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
        is_classmethod = isinstance(raw, classmethod)
        function = raw.__func__ if is_classmethod else raw
        key = label or f"{getattr(owner, '__name__', owner)}.{name}"
        stats = self.stats

        if inspect.iscoroutinefunction(function):

            async def timed(*args: Any, **kwargs: Any) -> Any:
                if not self.enabled:
                    return await function(*args, **kwargs)
                started = time.perf_counter()
                try:
                    return await function(*args, **kwargs)
                finally:
                    entry = stats[key]
                    entry[0] += 1
                    entry[1] += time.perf_counter() - started

        else:

            def timed(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
                if not self.enabled:
                    return function(*args, **kwargs)
                started = time.perf_counter()
                try:
                    return function(*args, **kwargs)
                finally:
                    entry = stats[key]
                    entry[0] += 1
                    entry[1] += time.perf_counter() - started

        setattr(owner, name, classmethod(timed) if is_classmethod else timed)
        self._undo.append((owner, name, raw))

    def restore(self) -> None:
        for owner, name, raw in reversed(self._undo):
            setattr(owner, name, raw)
        self._undo.clear()

    def report(self, busy: float | None) -> list[str]:
        if busy:
            lines = [f"handler breakdown (wall, of {busy:.2f} s handler busy; nested rows overlap):"]
        else:
            lines = ["wall time per step (nested rows overlap):"]
        for key, (count, seconds) in sorted(self.stats.items(), key=lambda item: -item[1][1]):
            share = f"{100 * seconds / busy:5.1f}%" if busy else ""
            mean = 1000 * seconds / count
            lines.append(f"  {seconds:7.2f} s {share} {int(count):7d}x {mean:8.3f} ms/call  {key}")
        return lines


def bench_contract(
    *, account: str, number: str, start: date, expiry: date, calendar_id: uuid.UUID
) -> cwire.ContractState:
    """The contract every benchmark bills: monthly, postpaid, USD 300.00 with 20 h and 40.00/h beyond."""
    usd = "USD"
    return cwire.ContractState(
        contract_id=uuid.uuid4(),
        contract_number=number,
        account_id=account,
        name=f"bench contract {number}",
        plan_id=uuid.uuid4(),
        status=cwire.ContractStatus.ACTIVE,
        start_date=start,
        expiry_date=expiry,
        time_zone="Europe/Berlin",
        scope=cwire.ContractScope(),
        payment_terms_days=30,
        discount_percent=Decimal(0),
        tax_percent=Decimal(0),
        terms=cwire.PlanTerms(
            plan_type=cwire.PlanType.PER_HOUR,
            billing_mode=cwire.BillingMode.POSTPAID,
            bill_cycle=cwire.BillCycle.MONTHLY,
            currency=usd,
            base_charge=MoneyAmount(amount=Decimal("300.00"), currency=usd),
            allowance=20,
            when_exhausted=cwire.WhenExhausted.CHARGE_EXTRA,
            overage_rate_kind=cwire.OverageRateKind.FIXED,
            overage_rate=MoneyAmount(amount=Decimal("40.00"), currency=usd),
            calendar_id=calendar_id,
        ),
        version=1,
    )


# --- a PostgreSQL cluster of the run's own ---------------------------------------------------------


class OwnPostgres:
    """A private PostgreSQL cluster for one run, with the server's default settings: fsync,
    synchronous_commit and full_page_writes on, unlike the scripts/postgres.sh dev cluster, which turns
    them off for speed. Trust authentication, on 127.0.0.1 only; its folder is removed when it stops.
    PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` system user (and
    lives in a folder of its own that user owns)."""

    def __init__(self) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="bench-postgres-"))
        self.port = free_port()
        self.data = self.home / "data"
        binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
        if not binaries:
            raise SystemExit("no PostgreSQL server in /usr/lib/postgresql/*/bin: apt-get install postgresql")
        self.bindir = binaries[-1].parent
        self.prefix = f"postgresql+asyncpg://bench@127.0.0.1:{self.port}/"

    def _run(self, *command: str) -> None:
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(
            [*as_postgres, *command], check=True, timeout=120, stdout=subprocess.DEVNULL, cwd=self.home
        )

    def start(self) -> str:
        """Create and start the cluster; returns the SQLAlchemy URL prefix of its databases."""
        if os.geteuid() == 0:
            shutil.chown(self.home, "postgres", "postgres")
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", "bench", "--auth=trust", "-E", "UTF8"
        )
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.home}"
        log = str(self.home / "server.log")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", log, "-o", options, "-w", "start")
        return self.prefix

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.home, ignore_errors=True)


# --- processes, tokens, memory ---------------------------------------------------------------------


def peak_rss_mb(pid: int | str = "self") -> float:
    """The peak resident set size of a process (VmHWM), in MB; 0 where /proc does not say."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int | str = "self") -> float:
    """CPU time (user + system) a process has used so far: what a run costs it, whatever else runs on
    the machine meanwhile (wall-clock rates on a shared machine depend on the neighbours)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


@dataclass
class BenchKeys:
    """A signing key of the run's own, and its key set in a file the services verify tokens with."""

    jwks_file: Path
    private_jwk: dict[str, Any]

    @classmethod
    def make(cls, folder: Path) -> BenchKeys:
        import json

        from servicekit.dev_token import new_signing_key, public_key_set

        folder.mkdir(parents=True, exist_ok=True)
        private = new_signing_key()
        path = folder / "jwks.json"
        path.write_text(json.dumps(public_key_set(private)))
        return cls(path, private)

    def bearer(self, *roles: str, subject: str = "bench") -> str:
        from servicekit.dev_token import issue_token

        token = issue_token(self.private_jwk, subject=subject, roles=roles or ("admin",), accounts="*")
        return f"Bearer {token}"


class ServiceProcess:
    """One service started by bench/_service_server.py on a free port; stopped with SIGTERM."""

    def __init__(
        self, service: str, database_url: str, bootstrap: str, keys: BenchKeys, workdir: Path, suffix: str
    ) -> None:
        self.service = service
        self.port = free_port()
        self.workdir = workdir
        self.report_path = workdir / f"{service}-report.json"
        self.log_path = workdir / f"{service}.log"
        prefix = service.upper()
        self.env = dict(
            os.environ,
            BENCH_SERVICE=service,
            BENCH_GROUP_SUFFIX=suffix,
            BENCH_REPORT=str(self.report_path),
            AUTH_JWKS_FILE=str(keys.jwks_file),
            KAFKA_BOOTSTRAP_SERVERS=bootstrap,
            LOG_FORMAT="console",
            LOG_LEVEL="WARNING",
            **{f"{prefix}_DATABASE_URL": database_url, f"{prefix}_HTTP_PORT": str(self.port)},
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, commit_at_end: bool, **extra_env: str) -> None:
        env = dict(self.env, **extra_env)
        if commit_at_end:
            env["BENCH_COMMIT_AT_END"] = "1"
        self.report_path.unlink(missing_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve().parent / "_service_server.py")],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 90.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while True:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"{self.service} exited:\n{self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(self.base_url + "/ready", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.service} not ready:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.2)

    def rss_mb(self) -> float:
        return 0.0 if self.process is None else peak_rss_mb(self.process.pid)

    def cpu_seconds(self) -> float:
        return 0.0 if self.process is None else cpu_seconds(self.process.pid)

    def stop(self) -> dict[str, Any]:
        """Stop it (SIGTERM, then SIGKILL) and return its report (empty when it wrote none)."""
        import json
        import signal

        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None
        if self.report_path.exists():
            return dict(json.loads(self.report_path.read_text()))
        return {}


async def fresh_databases(kind: str, names: Sequence[str], workdir: Path) -> tuple[dict[str, str], Any]:
    """A new, empty database per name (SQLite files in `workdir`, or databases on the local PostgreSQL
    cluster); returns their URLs and an async function that drops them."""
    if kind == "sqlite":

        async def nothing() -> None:
            return None

        return {name: f"sqlite+aiosqlite:///{workdir / name}.db" for name in names}, nothing
    import asyncpg

    prefix = postgres_prefix()
    run = uuid.uuid4().hex[:8]
    databases = {name: f"bench_{name}_{run}" for name in names}
    dsn = prefix.replace("postgresql+asyncpg", "postgresql") + "postgres"
    admin = await asyncpg.connect(dsn)
    try:
        for database in databases.values():
            await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()

    async def drop() -> None:
        admin = await asyncpg.connect(dsn)
        try:
            for database in databases.values():
                await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        finally:
            await admin.close()

    return {name: prefix + database for name, database in databases.items()}, drop


async def produce_all(bootstrap: str, messages: Sequence[tuple[str, str, bytes]]) -> float:
    """(topic, key, value) in order, acks=all; returns seconds until all are acknowledged."""
    import asyncio

    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=10, max_batch_size=512 * 1024, **kafka_options()
    )
    await producer.start()
    started = time.perf_counter()
    try:
        for start in range(0, len(messages), 5000):
            futures = [
                await producer.send(topic, value, key=key.encode())
                for topic, key, value in messages[start : start + 5000]
            ]
            await asyncio.gather(*futures)
        return time.perf_counter() - started
    finally:
        await producer.stop()


def bench_calendar(index: int, holiday: date) -> cwire.BusinessCalendar:
    return cwire.BusinessCalendar(
        calendar_id=uuid.uuid4(),
        name=f"bench office {index}",
        time_zone="Europe/Berlin",
        working_days=[1, 2, 3, 4, 5],
        working_hours=[cwire.WorkingHours(start="09:00", end="17:00")],
        holidays=[holiday],
    )


def event_bytes(body: Any, subject: str) -> bytes:
    from contracts_schema import CloudEvent

    return CloudEvent.wrap(body, source="bench", subject=subject, actor="bench").to_json()


@dataclass
class Figure:
    """One line of the summary table."""

    benchmark: str
    ours: float
    baseline: float | None
    unit: str
    target: str
    met: bool
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.ours / self.baseline  # type: ignore[operator]
