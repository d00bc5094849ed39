"""A chaos run: time-entry commands produced while billing and timetracking crash and the broker
restarts, with duplicates and poison mixed in; then exact counts of what became of every command.

tests/e2e/test_chaos.py runs it CI-sized and bench/chaos.py at full size, both on a stack of real
processes (tests/e2e/stack.py) with a broker of their own (tests/support/broker.py), which they restart.

What goes to `timetracking.time-entry-commands.v1`, keyed by account:
- one `timetracking.time_entry.log` per entry, each entry with its own id;
- duplicates of some of them, later: half the very same record (same message id, which the inbox
  absorbs), half the same command in a new envelope (same entry id, by which logging is idempotent);
- conflicts: an entry id sent again with other minutes, which timetracking refuses with a reply;
- poison: bytes that are not JSON, JSON that is not a CloudEvent, a log command whose body breaks its
  schema, and a type the topic does not carry.

Faults strike at points of timetracking's progress through the commands (its group's committed
offsets), whatever the machine's speed. Before each, production waits until timetracking has gone
through everything sent, sends a burst at once, and the fault strikes when the service it kills is
busy with the burst: amid its batches, not in an idle moment. Production goes on through the fault, a
bounded lead ahead of timetracking. Once every consumer has caught up: each entry is
in timetracking's lists once, each contract's usage in billing is exactly its entries' minutes, a bill
made for the cycle names each of its entries once, every poison record is on the `.dlq` twin with a
reason and nothing else is dead-lettered, and every conflict was answered with a rejection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from contracts_schema import CloudEvent, registry
from contracts_schema.timetracking import LogTimeEntry
from supportctl.broker import Kafka, dead_letters, partitions_of, read_all, reader
from tests.e2e.stack import Stack
from tests.support.auth import bearer
from tests.support.broker import LocalBroker
from tests.support.scenario import WORKED_EXAMPLE_1_TERMS, billing_knows, make_contract, make_plan

COMMANDS = registry.TIME_ENTRY_COMMANDS.name
TIME_ENTRIES = registry.TIME_ENTRIES.name
LOG_COMMANDS_GROUP = "timetracking.log-commands"
USAGE_GROUP = "billing.usage-accrual"
REJECTED = "timetracking.time_entry.rejected"
UNKNOWN_TYPE = "timetracking.time_entry.teleport"
CONTRACT_DAYS = 7
"""The contracts started this many days ago (UTC): every entry falls in their running first cycle."""

Say = Callable[[str], None]


# --- what is sent ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChaosSize:
    entries: int
    contracts: int
    duplicate_share: float = 0.05
    conflict_share: float = 0.01
    poison: int = 40
    seed: int = 11

    @property
    def duplicates(self) -> int:
        return round(self.entries * self.duplicate_share)

    @property
    def conflicts(self) -> int:
        return round(self.entries * self.conflict_share)


@dataclass(frozen=True)
class ChaosContract:
    account_id: str
    contract_id: str


@dataclass(frozen=True)
class Record:
    key: str
    value: bytes


@dataclass
class Workload:
    """The records in the order they are sent, and what each is meant to become."""

    records: list[Record]
    minutes: dict[uuid.UUID, int]
    """Each entry's minutes: what billing must count for it, once."""
    account_of: dict[uuid.UUID, str]
    contracts: list[ChaosContract]
    duplicates: int
    conflicts: set[uuid.UUID]
    """Entries sent again with other minutes: each must be refused with a `rejected` reply."""
    poison: dict[bytes, str]
    """Each poison record, and what its dlq-reason must name."""

    def entries_of(self, account_id: str) -> dict[uuid.UUID, int]:
        return {entry: m for entry, m in self.minutes.items() if self.account_of[entry] == account_id}


def build_workload(contracts: Sequence[ChaosContract], size: ChaosSize, now: datetime) -> Workload:
    rng = random.Random(size.seed)
    first = datetime.combine(now.date() - timedelta(days=CONTRACT_DAYS), datetime.min.time(), UTC)
    span_seconds = int((now - first).total_seconds()) - 3 * 3600
    placed: list[tuple[float, Record]] = []
    commands: list[tuple[LogTimeEntry, bytes]] = []
    workload = Workload([], {}, {}, list(contracts), size.duplicates, set(), {})
    for n in range(size.entries):
        contract = contracts[n % len(contracts)]
        command = LogTimeEntry(
            entry_id=uuid.uuid4(),
            request_id=f"REQ-{n % 97}",
            account_id=contract.account_id,
            rep_id=f"rep-{n % 7}",
            started_at=first + timedelta(seconds=3600 + rng.randrange(span_seconds)),
            duration_minutes=rng.randrange(1, 91),
        )
        value = _envelope(command)
        commands.append((command, value))
        placed.append((n, Record(contract.account_id, value)))
        workload.minutes[command.entry_id] = command.duration_minutes or 0
        workload.account_of[command.entry_id] = contract.account_id
    for copy in range(size.duplicates):
        n = rng.randrange(size.entries)
        command, value = commands[n]
        again = value if copy % 2 == 0 else _envelope(command)
        placed.append((rng.uniform(n, size.entries), Record(command.account_id, again)))
    for n in rng.sample(range(size.entries), size.conflicts):
        command, _ = commands[n]
        other = command.model_copy(update={"duration_minutes": (command.duration_minutes or 0) + 1})
        placed.append((rng.uniform(n, size.entries), Record(command.account_id, _envelope(other))))
        workload.conflicts.add(command.entry_id)
    for n in range(size.poison):
        command, _ = commands[rng.randrange(size.entries)]
        value, reason = _poison(n, command)
        workload.poison[value] = reason
        placed.append((rng.uniform(0, size.entries), Record(command.account_id, value)))
    placed.sort(key=lambda item: item[0])
    workload.records = [record for _, record in placed]
    return workload


def _envelope(command: LogTimeEntry) -> bytes:
    return CloudEvent.wrap(command, source="chaos", subject=command.account_id, actor="chaos").to_json()


def _poison(n: int, command: LogTimeEntry) -> tuple[bytes, str]:
    """The n-th poison record, of one of four kinds in turn, and what its dlq-reason must name."""
    envelope: dict[str, Any] = json.loads(_envelope(command))
    match n % 4:
        case 0:
            return f'{{"poison": {n}, "truncated'.encode(), "JSON"
        case 1:
            return json.dumps({"poison": n, "hello": "not a CloudEvent"}).encode(), "CloudEvent"
        case 2:
            envelope["data"]["duration_minutes"] = -n - 1
            return json.dumps(envelope).encode(), "duration_minutes"
        case _:
            envelope["type"] = UNKNOWN_TYPE
            return json.dumps(envelope).encode(), UNKNOWN_TYPE


# --- setting up --------------------------------------------------------------------------------------


def chaos_client() -> httpx.AsyncClient:
    """An admin's client that lets an idle connection go before the services' server does (uvicorn
    closes one after 5 s), so that a request never goes out on a connection as it is being closed."""
    return httpx.AsyncClient(timeout=60, headers=bearer(), limits=httpx.Limits(keepalive_expiry=2.0))


def chaos_accounts(run: str, count: int) -> list[str]:
    return [f"chaos-{run}-{n}" for n in range(count)]


async def sign_chaos_contracts(
    client: httpx.AsyncClient, stack: Stack, accounts: Sequence[str]
) -> list[ChaosContract]:
    """A running contract for each account, all on one plan (worked example 1's terms, UTC); returns
    once billing holds every one."""
    contracts_url = stack["contracts"].url
    plan = await make_plan(
        client, contracts_url, name=f"Chaos {accounts[0]}", terms=WORKED_EXAMPLE_1_TERMS, time_zone="Etc/UTC"
    )
    start = datetime.now(UTC).date() - timedelta(days=CONTRACT_DAYS)
    expiry = start.replace(year=start.year + 1) - timedelta(days=1)
    gate = asyncio.Semaphore(8)

    async def sign(account: str) -> ChaosContract:
        async with gate:
            contract = await make_contract(
                client,
                contracts_url,
                account_id=account,
                plan_id=plan["plan_id"],
                start_date=start.isoformat(),
                expiry_date=expiry.isoformat(),
            )
            await billing_knows(client, stack["billing"].url, contract["contract_id"])
        return ChaosContract(account, contract["contract_id"])

    return list(await asyncio.gather(*(sign(account) for account in accounts)))


# --- faults ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    name: str
    at: float
    """When to strike: the share of the commands timetracking has gone through."""
    kill: tuple[str, ...] = ()
    """Services whose every process is killed with SIGKILL, then started again."""
    restart_broker: bool = False

    def strike(self, stack: Stack, broker: LocalBroker) -> None:
        """Blocking: run it in a thread, so production goes on meanwhile."""
        if self.restart_broker:
            broker.restart()
        processes = [process for name in self.kill for process in stack.replicas(name)]
        for process in processes:
            process.kill()
        for process in processes:
            process.start()
        for process in processes:
            process.wait_ready(timeout=120)


FAULTS = (
    Fault("kill -9 timetracking", 0.15, kill=("timetracking",)),
    Fault("kill -9 billing", 0.30, kill=("billing",)),
    Fault("broker stop + start", 0.45, restart_broker=True),
    Fault("kill -9 billing and timetracking at once", 0.60, kill=("billing", "timetracking")),
)


@dataclass(frozen=True)
class Struck:
    fault: str
    started: float
    seconds: float


# --- figures -----------------------------------------------------------------------------------------


@dataclass
class ChaosFigures:
    records_sent: int = 0
    resent: int = 0
    """Records sent again because the producer got no acknowledgement (the broker was away)."""
    entries: int = 0
    duplicates: int = 0
    conflicts: int = 0
    poison: int = 0
    accepted: int = 0
    """Entries sent that timetracking holds."""
    accrued: int = 0
    """Entries sent that billing's bill for the cycle names."""
    lost: int = 0
    double_counted: int = 0
    unexpected: int = 0
    """Entries timetracking or billing holds that were never sent."""
    minutes_expected: int = 0
    minutes_in_timetracking: int = 0
    minutes_in_billing: int = 0
    dead_lettered: int = 0
    """Poison records on the `.dlq` twin, one per original position."""
    conflicts_answered: int = 0
    struck: list[Struck] = field(default_factory=list)
    produced_after: float = 0.0
    caught_up_after: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def last_fault_over(self) -> float:
        return max((s.started + s.seconds for s in self.struck), default=0.0)

    @property
    def catch_up_seconds(self) -> float:
        """From the end of the last fault until every consumer had caught up."""
        return self.caught_up_after - self.last_fault_over

    @property
    def throughput(self) -> float:
        """Entries accrued per second, from the first record sent until everything was caught up."""
        return self.accrued / self.caught_up_after if self.caught_up_after else 0.0

    def lines(self) -> list[str]:
        return [
            f"records sent       {self.records_sent:>9,}  ({self.entries:,} entries, {self.duplicates:,} "
            f"duplicates, {self.conflicts:,} conflicts, {self.poison:,} poison; {self.resent:,} resent)",
            f"accepted           {self.accepted:>9,}  entries in timetracking",
            f"accrued            {self.accrued:>9,}  entries on billing's bills",
            f"lost               {self.lost:>9,}",
            f"double-counted     {self.double_counted:>9,}",
            f"unexpected         {self.unexpected:>9,}",
            f"minutes            {self.minutes_expected:>9,}  sent; timetracking "
            f"{self.minutes_in_timetracking:,}, billing usage {self.minutes_in_billing:,}",
            f"dead-lettered      {self.dead_lettered:>9,}  of {self.poison:,} poison records",
            f"conflicts refused  {self.conflicts_answered:>9,}  of {self.conflicts:,}",
            *(f"fault at {s.started:6.1f} s   {s.fault} ({s.seconds:.1f} s)" for s in self.struck),
            f"produced after     {self.produced_after:9.1f} s",
            f"caught up after    {self.caught_up_after:9.1f} s"
            + (f"  ({self.catch_up_seconds:.1f} s after the last fault was over)" if self.struck else ""),
            f"throughput         {self.throughput:9.0f} entries/s  (first record sent to all accrued)",
        ]


class ChaosWedged(AssertionError):
    """No progress for too long: something is stuck."""


# --- the run -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """Timetracking's way through the commands and billing's through the time-entry events, in records:
    the broker is fresh, so offsets count records."""

    commands_done: int = 0
    commands: int = 0
    entries_done: int = 0
    entries: int = 0


class ProgressReader:
    """Reads `Progress` with clients kept open between reads; after an error (the broker restarting)
    they are opened again."""

    def __init__(self, kafka: Kafka) -> None:
        self._kafka = kafka
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._partitions: dict[str, list[TopicPartition]] = {}

    async def read(self) -> Progress:
        try:
            return await asyncio.wait_for(self._read(), timeout=5)
        except BaseException:
            await self.close()
            raise

    async def _read(self) -> Progress:
        commands_done, commands = await self._group(LOG_COMMANDS_GROUP, COMMANDS)
        entries_done, entries = await self._group(USAGE_GROUP, TIME_ENTRIES)
        return Progress(commands_done, commands, entries_done, entries)

    async def _group(self, group: str, topic: str) -> tuple[int, int]:
        if self._admin is None:
            self._admin = AIOKafkaAdminClient(**self._kafka.client_options())
            await self._admin.start()
        if self._consumer is None:
            self._consumer = AIOKafkaConsumer(**self._kafka.client_options(), enable_auto_commit=False)
            await self._consumer.start()
        if topic not in self._partitions:
            self._partitions[topic] = await partitions_of(self._consumer, topic)
        committed = await self._admin.list_consumer_group_offsets(group)
        ends = await self._consumer.end_offsets(self._partitions[topic])
        done = sum(max(meta.offset, 0) for tp, meta in committed.items() if tp.topic == topic)
        return done, sum(ends.values())

    async def close(self) -> None:
        admin, consumer, self._admin, self._consumer = self._admin, self._consumer, None, None
        with contextlib.suppress(Exception):
            if admin is not None:
                await admin.close()
        with contextlib.suppress(Exception):
            if consumer is not None:
                await consumer.stop()


class ChaosRun:
    """Sends the workload and strikes the faults, waits until every consumer has caught up, and counts.

    Production runs at most `lead` (a share of the records) ahead of timetracking. Before each fault it
    stops at the fault's point until timetracking has gone through everything before it, sends a
    `burst` (a share too) at once, and the fault strikes as soon as the service it kills is busy with
    the burst: a crash in the middle of a batch, not in an idle moment. Production goes on meanwhile.
    `stall_seconds` without progress is a wedge."""

    def __init__(
        self,
        stack: Stack,
        broker: LocalBroker,
        client: httpx.AsyncClient,
        workload: Workload,
        *,
        faults: Sequence[Fault] = FAULTS,
        lead: float = 0.2,
        burst: float = 0.1,
        stall_seconds: float = 90.0,
        say: Say = print,
    ) -> None:
        self.stack = stack
        self.broker = broker
        self.kafka = Kafka(broker.bootstrap)
        self.client = client
        self.workload = workload
        self.faults = sorted(faults, key=lambda fault: fault.at)
        total = len(workload.records)
        self.lead = max(100, int(lead * total))
        self.burst = max(100, int(burst * total))
        self.stall_seconds = stall_seconds
        self.say = say
        self.figures = ChaosFigures(
            entries=len(workload.minutes),
            duplicates=workload.duplicates,
            conflicts=len(workload.conflicts),
            poison=len(workload.poison),
            minutes_expected=sum(workload.minutes.values()),
        )
        self._started = 0.0
        self._sent = 0
        self._hold = total
        """Production stops before this record until it is moved on."""
        self._bursting = False
        """Production sends up to `_hold` at once, whatever its lead over timetracking."""
        self._progress = Progress()
        self._reads = 0
        self._unread = ""
        """Why progress could not be read last time, if it could not."""

    def _elapsed(self) -> float:
        return time.monotonic() - self._started

    def _note(self, message: str) -> None:
        self.say(f"{self._elapsed():7.1f} s  {message}")

    async def run(self) -> ChaosFigures:
        # Our own clients' complaints while the broker is away are expected, and drown the rest.
        kafka_log = logging.getLogger("aiokafka")
        level = kafka_log.level
        kafka_log.setLevel(logging.CRITICAL)
        try:
            return await self._run()
        finally:
            kafka_log.setLevel(level)

    async def _run(self) -> ChaosFigures:
        self._started = time.monotonic()
        total = len(self.workload.records)
        holds = [int(fault.at * total) for fault in self.faults]
        self._hold = holds[0] if holds else total
        producing = asyncio.create_task(self._produce())
        watching = asyncio.create_task(self._watch())
        try:
            for n, (fault, hold) in enumerate(zip(self.faults, holds, strict=True)):
                await self._strike(fault, hold, holds[n + 1] if n + 1 < len(holds) else total)
            await producing
            self.figures.produced_after = self._elapsed()
            self._note(f"all {self._sent:,} records sent")
            await self._until_caught_up()
            self.figures.caught_up_after = self._elapsed()
            self._note("caught up; counting")
        finally:
            for task in (producing, watching):
                task.cancel()
            await asyncio.gather(producing, watching, return_exceptions=True)
        await self._count()
        return self.figures

    async def _strike(self, fault: Fault, hold: int, next_hold: int) -> None:
        """Production waits at `hold` until timetracking has gone through everything before it, sends
        the burst, goes on up to `next_hold`; the fault strikes once its service is busy with the burst."""
        await self._until(lambda: self._progress.commands_done >= hold, "timetracking up to the fault")
        before = self._progress
        self._hold, self._bursting = min(hold + self.burst, len(self.workload.records)), True
        await self._until(lambda: self._sent >= self._hold, "the burst to be sent")
        self._hold, self._bursting = next_hold, False
        await self._until_busy(fault, before)
        started = self._elapsed()
        self._note(f"{fault.name} (timetracking at {self._progress.commands_done:,} records)")
        await asyncio.to_thread(fault.strike, self.stack, self.broker)
        self.figures.struck.append(Struck(fault.name, started, self._elapsed() - started))
        self._note(f"{fault.name}: over")

    async def _produce(self) -> None:
        records = self.workload.records
        producer = await self._producer()
        try:
            while self._sent < len(records):
                limit = self._hold if self._bursting else self._progress.commands_done + self.lead
                room = min(limit, self._hold) - self._sent
                if room <= 0:
                    await asyncio.sleep(0.02)
                    continue
                chunk = records[self._sent : self._sent + min(room, 1000)]
                try:
                    pending = [await producer.send(COMMANDS, r.value, key=r.key.encode()) for r in chunk]
                    await asyncio.gather(*pending)
                except (KafkaError, TimeoutError) as error:
                    # As an integration would: send the chunk again, some of it maybe twice.
                    self._note(f"producer: {error!r}; sending {len(chunk)} records again")
                    self.figures.resent += len(chunk)
                    await producer.stop()
                    await asyncio.sleep(1.0)
                    producer = await self._producer()
                    continue
                self._sent += len(chunk)
                self.figures.records_sent = self._sent + self.figures.resent
        finally:
            await producer.stop()

    async def _producer(self) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.broker.bootstrap, enable_idempotence=True, acks="all", linger_ms=5
        )
        while True:
            try:
                await producer.start()
                return producer
            except KafkaError:
                await asyncio.sleep(1.0)

    async def _watch(self) -> None:
        """Keep `_progress` current, a read every few hundredths of a second."""
        progress = ProgressReader(self.kafka)
        try:
            while True:
                try:
                    self._progress = await progress.read()
                    self._reads += 1
                    self._unread = ""
                except Exception as error:  # the broker is away, or not all there yet: read again
                    self._unread = repr(error)
                    await asyncio.sleep(0.2)
                await asyncio.sleep(0.02)
        finally:
            await progress.close()

    async def _next_read(self) -> Progress:
        """Progress as read after this moment."""
        reads, since = self._reads, time.monotonic()
        while self._reads < reads + 2:
            if time.monotonic() - since > self.stall_seconds:
                raise ChaosWedged(f"progress unread for {self.stall_seconds:.0f} s: {self._unread}")
            await asyncio.sleep(0.01)
        return self._progress

    async def _until(self, condition: Callable[[], bool], what: str) -> None:
        last, since = self._progress, time.monotonic()
        while not condition():
            if self._progress != last:
                last, since = self._progress, time.monotonic()
            elif time.monotonic() - since > self.stall_seconds:
                raise ChaosWedged(
                    f"waiting for {what}: no progress for {self.stall_seconds:.0f} s "
                    f"({last}, {self._sent:,} of {len(self.workload.records):,} records sent) {self._unread}"
                )
            await asyncio.sleep(0.01)

    async def _until_busy(self, fault: Fault, before: Progress) -> None:
        """Until the service the fault kills is in the middle of the burst (or 10 s have passed): it has
        finished a batch of it and has more to do. A broker restart strikes while the burst is in flight."""
        deadline = time.monotonic() + 10
        while not self._busy_with_burst(fault, before) and time.monotonic() < deadline:
            await asyncio.sleep(0.005)

    def _busy_with_burst(self, fault: Fault, before: Progress) -> bool:
        if "timetracking" in fault.kill:
            return self._progress.entries > before.entries  # the events of its first batch are out
        if "billing" in fault.kill:
            return self._progress.entries_done > before.entries_done
        return True

    async def _until_caught_up(self) -> None:
        """Until timetracking has gone through every command, then sent every event it wrote, then
        billing has gone through every time-entry event: read in that order, nothing is in between."""
        timetracking = self.stack["timetracking"].url
        last: tuple[Progress, int | None] | None = None
        since = time.monotonic()
        while True:
            now = await self._next_read()
            pending = None
            if now.commands_done >= now.commands:
                pending = await self._outbox_pending(timetracking)
                if pending == 0 and (await self._next_read()).entries_done >= now.entries:
                    return
            if (now, pending) != last:
                last, since = (now, pending), time.monotonic()
            elif time.monotonic() - since > self.stall_seconds:
                raise ChaosWedged(
                    f"not caught up, no progress for {self.stall_seconds:.0f} s: {now}, "
                    f"timetracking's outbox {pending}"
                )
            await asyncio.sleep(0.1)

    async def _outbox_pending(self, url: str) -> int | None:
        try:
            response = await self.client.get(f"{url}/ops/outbox")
        except httpx.HTTPError:
            return None
        return int(response.json()["pending"]) if response.status_code == 200 else None

    # --- counting ----------------------------------------------------------------------------------

    async def _count(self) -> None:
        gate = asyncio.Semaphore(8)

        async def gated(work: Awaitable[None]) -> None:
            async with gate:
                await work

        await asyncio.gather(*(gated(self._count_contract(c)) for c in self.workload.contracts))
        await self._count_dead_letters()
        await self._count_rejections()

    async def _count_contract(self, contract: ChaosContract) -> None:
        figures, problems = self.figures, self.figures.problems
        sent = self.workload.entries_of(contract.account_id)
        held = await self._timetracking_entries(contract.account_id)
        held_ids = Counter(entry_id for entry_id, _ in held)
        figures.accepted += len(sent.keys() & held_ids.keys())
        figures.minutes_in_timetracking += sum(minutes for _, minutes in held)
        billing = self.stack["billing"].url
        response = await self._call(
            "GET", f"{billing}/contracts/{contract.contract_id}/usage", params={"cycle": 1}
        )
        response.raise_for_status()
        used = int(response.json()["used"])
        figures.minutes_in_billing += used
        response = await self._call(
            "POST",
            f"{billing}/contracts/{contract.contract_id}/bills",
            json={"period": "1"},
            headers={"Idempotency-Key": f"chaos-bill-{contract.contract_id}"},
        )
        if response.status_code != 201:
            problems.append(f"no bill for {contract.account_id}: {response.status_code} {response.text}")
            return
        billed = Counter(uuid.UUID(entry_id) for entry_id in response.json()["time_entry_ids"])
        figures.accrued += len(sent.keys() & billed.keys())
        lost = sent.keys() - (held_ids.keys() & billed.keys())
        doubled = sum(n - 1 for n in held_ids.values() if n > 1) + sum(
            n - 1 for n in billed.values() if n > 1
        )
        unexpected = (held_ids.keys() | billed.keys()) - sent.keys()
        figures.lost += len(lost)
        figures.double_counted += doubled
        figures.unexpected += len(unexpected)
        if used != sum(sent.values()):
            problems.append(
                f"{contract.account_id}: billing counts {used} minutes, {sum(sent.values())} were sent"
            )
        if lost or doubled or unexpected:
            problems.append(
                f"{contract.account_id}: {len(lost)} lost (e.g. {sorted(map(str, lost))[:3]}), "
                f"{doubled} double-counted, {len(unexpected)} unexpected"
            )

    async def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """A request tried again when the connection breaks (a kept-alive one the server closed as
        the request went out); a POST carries an Idempotency-Key, so it is answered once."""
        attempts = 3
        while True:
            try:
                return await self.client.request(method, url, **kwargs)
            except httpx.TransportError:
                attempts -= 1
                if not attempts:
                    raise
                await asyncio.sleep(1.0)

    async def _timetracking_entries(self, account_id: str) -> list[tuple[uuid.UUID, int]]:
        """(entry id, minutes) of every entry timetracking lists for the account, page by page."""
        found: list[tuple[uuid.UUID, int]] = []
        while True:
            response = await self._call(
                "GET",
                f"{self.stack['timetracking'].url}/time-entries",
                params={"account_id": account_id, "limit": 1000, "offset": len(found)},
            )
            response.raise_for_status()
            items = response.json()["items"]
            found += [(uuid.UUID(item["entry_id"]), int(item["minutes"])) for item in items]
            if not items:
                return found

    async def _count_dead_letters(self) -> None:
        problems = self.figures.problems
        letters = await dead_letters(self.kafka, COMMANDS)
        for letter in letters:
            expected = self.workload.poison.get(letter.value)
            if expected is None:
                problems.append(f"dead-lettered though not poison: {letter.value[:200]!r} ({letter.reason})")
            elif expected not in letter.reason:
                problems.append(f"dead letter's reason {letter.reason!r} does not name {expected!r}")
        poison_found = {letter.value for letter in letters} & self.workload.poison.keys()
        self.figures.dead_lettered = len([letter for letter in letters if letter.value in poison_found])
        if missing := len(self.workload.poison.keys() - poison_found):
            problems.append(f"{missing} poison records are not on the dead-letter topic")
        for topic in (TIME_ENTRIES, registry.CONTRACTS.name, registry.BILLS.name, registry.USAGE.name):
            if others := await dead_letters(self.kafka, topic):
                problems.append(f"{len(others)} dead letters on {topic}.dlq, e.g. {others[0].reason}")

    async def _count_rejections(self) -> None:
        answered: set[uuid.UUID] = set()
        async with reader(self.kafka) as consumer:
            async for record in read_all(consumer, TIME_ENTRIES):
                event = json.loads(record.value or b"{}")
                if event.get("type") == REJECTED and event["data"].get("entry_id"):
                    answered.add(uuid.UUID(event["data"]["entry_id"]))
        self.figures.conflicts_answered = len(answered & self.workload.conflicts)
        if missing := len(self.workload.conflicts - answered):
            self.figures.problems.append(f"{missing} conflicting commands were never answered")
        if refused := len(answered - self.workload.conflicts):
            self.figures.problems.append(f"{refused} entries were refused though sent once with one value")
