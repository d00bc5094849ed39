"""The consumer wrapper on the real broker: dead letters, retries, offsets committed after the work."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from contracts_schema import CloudEvent
from contracts_schema.billing import GenerateBill
from contracts_schema.registry import Topic
from servicekit.consumers import Consumers, Delivery, _last_offsets, _note_lag, _rewind
from servicekit.errors import DomainError
from servicekit.kafka import ensure_topics, make_broker
from servicekit.limits import DEAD_LETTER_BODY_MAX_BYTES, MESSAGE_MAX_BYTES
from tests.support.kafka import eventually, find_record, produce


def probe_topic() -> Topic:
    """A topic of the test's own, so nothing earlier runs left on the broker is read again."""
    return Topic(
        f"servicekit-tests.probe-{uuid.uuid4().hex[:12]}.v1",
        2,
        "contract id",
        "test topic",
        {"billing.bill.generate": GenerateBill},
    )


def command(period: str) -> GenerateBill:
    return GenerateBill(contract_id=uuid.uuid4(), period=period)


async def send(bootstrap: str, topic: Topic, body: GenerateBill) -> CloudEvent:
    event = CloudEvent.wrap(body, source="tests", subject="probe", actor="tests")
    await produce(bootstrap, topic.name, event.to_json(), str(body.contract_id))
    return event


async def consume_with(bootstrap: str, topic: Topic, group: str, handler) -> object:  # type: ignore[no-untyped-def]
    broker = make_broker(bootstrap, "servicekit-tests")
    Consumers(broker, "servicekit-tests").subscribe(
        topic, handler, name=group.removeprefix("servicekit-tests.")
    )
    await broker.start()
    return broker


async def test_bad_messages_are_dead_lettered_with_a_reason_and_good_ones_applied(
    kafka_bootstrap: str,
) -> None:
    probe = probe_topic()
    await ensure_topics(kafka_bootstrap, [probe])
    run = uuid.uuid4().hex[:12]  # a period is at most 20 characters
    applied: list[str] = []
    failures: dict[str, int] = {}

    async def handler(deliveries: Sequence[Delivery]) -> None:
        for delivery in deliveries:
            period = delivery.body.period  # type: ignore[attr-defined]
            if period == f"{run}-rule":
                raise DomainError("period is closed")
            if period == f"{run}-poison":
                raise ValueError("numeric field overflow")
            if period == f"{run}-flaky" and failures.get(period, 0) < 2:
                failures[period] = failures.get(period, 0) + 1
                raise RuntimeError("flaky dependency")
        applied.extend(d.body.period for d in deliveries)  # type: ignore[attr-defined]

    await produce(kafka_bootstrap, probe.name, f"{run} not json".encode(), "k")
    for period in ("ok-1", "rule", "poison", "flaky", "ok-2"):
        await send(kafka_bootstrap, probe, command(f"{run}-{period}"))

    broker = await consume_with(kafka_bootstrap, probe, f"servicekit-tests.{run}", handler)
    try:
        # The batch spans two partitions, so outcomes arrive in any order: wait for each of them.
        await eventually(lambda: _async(f"{run}-ok-2" in applied and f"{run}-flaky" in applied))
        not_json = await find_record(
            kafka_bootstrap, probe.dlq, lambda r: r.value == f"{run} not json".encode()
        )
        broken_rule = await find_record(
            kafka_bootstrap, probe.dlq, lambda r: f"{run}-rule".encode() in r.value
        )
        poison = await find_record(kafka_bootstrap, probe.dlq, lambda r: f"{run}-poison".encode() in r.value)
    finally:
        await broker.stop()  # type: ignore[attr-defined]

    assert [p for p in applied if p.startswith(run) and p.endswith("ok-1")] == [f"{run}-ok-1"]
    assert f"{run}-rule" not in applied
    assert failures[f"{run}-flaky"] == 2
    assert not_json.headers["dlq-reason"].startswith("not JSON")
    assert broken_rule.headers["dlq-reason"] == "DomainError: period is closed"
    assert broken_rule.headers["dlq-original-topic"] == probe.name
    assert broken_rule.headers["dlq-consumer"] == f"servicekit-tests.{run}"
    assert not_json.headers["content-type"] == "application/octet-stream"  # it was sent without one
    assert poison.headers["dlq-reason"] == "failed 5 times: ValueError: numeric field overflow"


async def test_offsets_are_committed_only_after_the_work_so_a_failed_batch_is_read_again(
    kafka_bootstrap: str,
) -> None:
    probe = probe_topic()
    await ensure_topics(kafka_bootstrap, [probe])
    run = uuid.uuid4().hex[:12]  # a period is at most 20 characters
    group = f"servicekit-tests.{run}"
    await send(kafka_bootstrap, probe, command(f"{run}-a"))
    seen: list[str] = []

    async def crashing(deliveries: Sequence[Delivery]) -> None:
        seen.extend(d.body.period for d in deliveries)  # type: ignore[attr-defined]
        raise ConnectionError("database went away")

    broker = await consume_with(kafka_bootstrap, probe, group, crashing)
    await eventually(lambda: _async(f"{run}-a" in seen))
    await broker.stop()  # type: ignore[attr-defined]

    applied: list[str] = []

    async def healthy(deliveries: Sequence[Delivery]) -> None:
        applied.extend(d.body.period for d in deliveries)  # type: ignore[attr-defined]

    broker = await consume_with(kafka_bootstrap, probe, group, healthy)
    try:
        await eventually(lambda: _async(f"{run}-a" in applied))
    finally:
        await broker.stop()  # type: ignore[attr-defined]

    # Committed now: a third consumer of the group starts after it.
    again: list[str] = []

    async def third(deliveries: Sequence[Delivery]) -> None:
        again.extend(d.body.period for d in deliveries)  # type: ignore[attr-defined]

    await send(kafka_bootstrap, probe, command(f"{run}-b"))
    broker = await consume_with(kafka_bootstrap, probe, group, third)
    try:
        await eventually(lambda: _async(f"{run}-b" in again))
    finally:
        await broker.stop()  # type: ignore[attr-defined]
    assert f"{run}-a" not in again


async def test_a_record_fetched_while_a_batch_is_worked_on_is_not_committed_until_applied(
    kafka_bootstrap: str,
) -> None:
    """What arrives during a batch is fetched ahead for the next one; the batch's commit covers its
    own records only, so a consumer that stops before applying what it fetched ahead loses none of it."""
    probe = probe_topic()
    await ensure_topics(kafka_bootstrap, [probe])
    run = uuid.uuid4().hex[:12]
    group = f"servicekit-tests.{run}"
    first = command(f"{run}-a")
    second = GenerateBill(contract_id=first.contract_id, period=f"{run}-b")  # one key: after the first
    await send(kafka_bootstrap, probe, first)
    batches: list[list[str]] = []
    release = asyncio.Event()

    async def slow_then_held(deliveries: Sequence[Delivery]) -> None:
        periods = [d.body.period for d in deliveries]  # type: ignore[attr-defined]
        batches.append(periods)
        if periods == [f"{run}-a"]:
            await send(kafka_bootstrap, probe, second)
            await asyncio.sleep(1.0)  # the second record is fetched meanwhile
        else:
            await release.wait()

    broker = await consume_with(kafka_bootstrap, probe, group, slow_then_held)
    try:
        await eventually(lambda: _async(len(batches) >= 2))
        # The second batch is at work: the group has committed the first record and not the second.
        committed = await eventually(lambda: _committed(kafka_bootstrap, group))
    finally:
        release.set()
        await broker.stop()  # type: ignore[attr-defined]
    assert batches[:2] == [[f"{run}-a"], [f"{run}-b"]]
    assert list(committed.values()) == [1]


async def test_a_batch_read_again_drops_what_was_fetched_ahead_of_its_partition(kafka_bootstrap: str) -> None:
    """A batch that fails for a passing reason is read again from its first record; what the consumer
    fetched ahead of that partition meanwhile comes after it again, in order, not before it."""
    probe = probe_topic()
    await ensure_topics(kafka_bootstrap, [probe])
    run = uuid.uuid4().hex[:12]
    first = command(f"{run}-a")
    second = GenerateBill(contract_id=first.contract_id, period=f"{run}-b")  # one key: after the first
    await send(kafka_bootstrap, probe, first)
    applied: list[str] = []
    failed_once = False

    async def fails_once(deliveries: Sequence[Delivery]) -> None:
        nonlocal failed_once
        periods = [d.body.period for d in deliveries]  # type: ignore[attr-defined]
        if not failed_once:
            failed_once = True
            await send(kafka_bootstrap, probe, second)
            await asyncio.sleep(1.0)  # the second record is fetched meanwhile
            raise ConnectionError("database went away")  # transient: the batch is read again
        applied.extend(periods)

    broker = await consume_with(kafka_bootstrap, probe, f"servicekit-tests.{run}", fails_once)
    try:
        await eventually(lambda: _async(f"{run}-b" in applied))
        await asyncio.sleep(0.5)  # anything read twice would be applied by now
    finally:
        await broker.stop()  # type: ignore[attr-defined]
    assert applied == [f"{run}-a", f"{run}-b"]


async def test_nothing_is_lost_when_a_second_consumer_joins_mid_batch(kafka_bootstrap: str) -> None:
    """A rebalance while a batch is at work (a replica starting) takes partitions away from under it
    and what was fetched ahead: every record is still applied."""
    probe = probe_topic()
    await ensure_topics(kafka_bootstrap, [probe])
    run = uuid.uuid4().hex[:12]
    periods = [f"{run}-{n}" for n in range(60)]
    for period in periods:
        await send(kafka_bootstrap, probe, command(period))
    applied: list[str] = []

    async def slow(deliveries: Sequence[Delivery]) -> None:
        await asyncio.sleep(0.2)
        applied.extend(d.body.period for d in deliveries)  # type: ignore[attr-defined]

    brokers = []
    for _ in range(2):
        broker = make_broker(kafka_bootstrap, "servicekit-tests")
        Consumers(broker, "servicekit-tests", max_records=3).subscribe(probe, slow, name=run)
        await broker.start()
        brokers.append(broker)
        await eventually(lambda: _async(len(applied) >= 6))  # the second joins while the first works
    try:
        await eventually(lambda: _async(set(periods) <= set(applied)), timeout=60)
    finally:
        for broker in brokers:
            await broker.stop()
    assert set(periods) <= set(applied)


def test_partitions_a_rebalance_took_away_are_neither_sought_nor_asked_for_their_lag() -> None:
    """aiokafka refuses both for a partition not assigned: raising there, after records were fetched
    ahead, would leave the consumer past them."""

    class Reassigned:
        def __init__(self) -> None:
            self.sought: list[tuple[TopicPartition, int]] = []

        def assignment(self) -> set[TopicPartition]:
            return {TopicPartition("t", 0)}

        def highwater(self, partition: TopicPartition) -> int:
            assert partition in self.assignment(), "Partition is not assigned"
            return 10

        def seek(self, partition: TopicPartition, offset: int) -> None:
            assert partition in self.assignment(), "Partition is not assigned"
            self.sought.append((partition, offset))

    records = [ConsumerRecord("t", p, o, 0, 0, b"k", b"v", None, 1, 1, []) for p, o in ((0, 3), (1, 7))]
    consumer = Reassigned()
    _note_lag(consumer, _last_offsets(records), consumer.assignment(), "group")
    assert _rewind(consumer, records, consumer.assignment()) == {TopicPartition("t", 0)}
    assert consumer.sought == [(TopicPartition("t", 0), 3)]


async def test_a_consumer_with_a_backlog_stops_after_the_batch_at_work(kafka_bootstrap: str) -> None:
    """Batches follow one another while records keep coming, but not past a stop: the service does not
    wait for the whole backlog, and what it did not apply is read again next time."""
    probe = probe_topic()
    await ensure_topics(kafka_bootstrap, [probe])
    run = uuid.uuid4().hex[:12]
    group = f"servicekit-tests.{run}"
    for n in range(40):
        await send(kafka_bootstrap, probe, command(f"{run}-{n}"))
    applied: list[str] = []

    async def slow(deliveries: Sequence[Delivery]) -> None:
        await asyncio.sleep(0.25)
        applied.extend(d.body.period for d in deliveries)  # type: ignore[attr-defined]

    broker = make_broker(kafka_bootstrap, "servicekit-tests")
    Consumers(broker, "servicekit-tests", max_records=2).subscribe(probe, slow, name=run)
    await broker.start()
    await eventually(lambda: _async(len(applied) >= 2))
    await broker.stop()
    assert len(applied) < 40  # it did not work through the backlog (5 s) before it stopped

    rest: list[str] = []

    async def healthy(deliveries: Sequence[Delivery]) -> None:
        rest.extend(d.body.period for d in deliveries)  # type: ignore[attr-defined]

    broker = await consume_with(kafka_bootstrap, probe, group, healthy)
    try:
        await eventually(lambda: _async(len(set(applied) | set(rest)) == 40))
    finally:
        await broker.stop()  # type: ignore[attr-defined]


async def _committed(bootstrap: str, group: str) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp: meta.offset for tp, meta in offsets.items()}


async def _async(value: bool) -> bool:
    await asyncio.sleep(0)
    return value


async def test_a_record_near_the_size_limit_is_dead_lettered_cut_short_and_the_consumer_moves_on(
    kafka_bootstrap: str,
) -> None:
    """Failure 2 of issue 11: a dead-letter copy of a record just under 1 MB, with its headers, was
    over the limit; publishing it failed, and the batch was read again forever."""
    probe = probe_topic()
    await ensure_topics(kafka_bootstrap, [probe])
    run = uuid.uuid4().hex[:12]
    applied: list[str] = []

    async def handler(deliveries: Sequence[Delivery]) -> None:
        applied.extend(d.body.period for d in deliveries)  # type: ignore[attr-defined]

    huge = f"{run} not json ".encode() + b"x" * (MESSAGE_MAX_BYTES - 2_000)
    await produce(kafka_bootstrap, probe.name, huge, "k")
    await send(kafka_bootstrap, probe, command(f"{run}-after"))

    broker = await consume_with(kafka_bootstrap, probe, f"servicekit-tests.{run}", handler)
    try:
        await eventually(lambda: _async(f"{run}-after" in applied))
        dead = await find_record(kafka_bootstrap, probe.dlq, lambda r: r.value.startswith(run.encode()))
    finally:
        await broker.stop()  # type: ignore[attr-defined]

    assert dead.headers["dlq-reason"].startswith("not JSON")
    assert dead.headers["dlq-truncated"] == f"{len(huge)} bytes, the first {DEAD_LETTER_BODY_MAX_BYTES} kept"
    assert dead.value == huge[:DEAD_LETTER_BODY_MAX_BYTES]
