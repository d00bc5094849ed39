"""What supportctl asks of Kafka: topics and their sizes, consumer-group lag, dead letters (read,
deduplicated, replayed) and a live tail. Nothing here joins a consumer group: reads assign partitions
and never commit, so looking never moves a service's offsets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from servicekit.kafka_security import PLAINTEXT, KafkaSecurity

REPLAY_HEADER = "dlq-replayed-from"
"""Set on a replayed record: `<dlq topic>:<partition>:<offset>` of the dead letter it came from."""
DLQ_SUFFIX = ".dlq"
_CLIENT_ID = "supportctl"


@dataclass(frozen=True)
class Kafka:
    """How to reach the broker: where, and with which security (the services' KAFKA_* settings)."""

    bootstrap: str
    security: KafkaSecurity = PLAINTEXT

    def client_options(self) -> dict[str, Any]:
        return {"bootstrap_servers": self.bootstrap, "client_id": _CLIENT_ID, **self.security.for_aiokafka()}


@asynccontextmanager
async def admin_client(kafka: Kafka) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(**kafka.client_options())
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


@asynccontextmanager
async def reader(kafka: Kafka) -> AsyncIterator[AIOKafkaConsumer]:
    """A consumer in no group: it is assigned partitions and commits nothing."""
    consumer = AIOKafkaConsumer(**kafka.client_options(), group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()


async def partitions_of(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    found = consumer.partitions_for_topic(topic)
    if not found:
        await consumer._client.force_metadata_update()  # noqa: SLF001 - the first look at a topic
        found = consumer.partitions_for_topic(topic)
    if not found:
        raise LookupError(f"no topic {topic!r} on the broker")
    return [TopicPartition(topic, partition) for partition in sorted(found)]


# --- topics --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TopicSize:
    topic: str
    partitions: int
    messages: int
    """Records still held (end offsets less beginning offsets, summed over partitions)."""
    end_offset: int


async def list_topics(kafka: Kafka) -> list[str]:
    async with admin_client(kafka) as admin:
        return sorted(name for name in await admin.list_topics() if not name.startswith("__"))


async def describe_topics(kafka: Kafka, topics: Sequence[str]) -> list[TopicSize]:
    async with reader(kafka) as consumer:
        sizes: list[TopicSize] = []
        for topic in topics:
            partitions = await partitions_of(consumer, topic)
            ends = await consumer.end_offsets(partitions)
            starts = await consumer.beginning_offsets(partitions)
            sizes.append(
                TopicSize(
                    topic,
                    len(partitions),
                    sum(ends[tp] - starts[tp] for tp in partitions),
                    sum(ends.values()),
                )
            )
        return sizes


# --- consumer lag --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartitionLag:
    group: str
    topic: str
    partition: int
    committed: int | None
    """None: the group has committed nothing on the partition yet."""
    end: int

    @property
    def lag(self) -> int:
        return self.end - (self.committed or 0)


async def consumer_lag(kafka: Kafka, group_prefix: str | None = None) -> list[PartitionLag]:
    """For each consumer group (whose name starts with the prefix), each partition it has committed
    on: its committed offset, the partition's end, and the difference."""
    async with admin_client(kafka) as admin:
        groups = sorted(
            group
            for group, _protocol in await admin.list_consumer_groups()
            if group.startswith(group_prefix or "")
        )
        committed = {group: await admin.list_consumer_group_offsets(group) for group in groups}
    async with reader(kafka) as consumer:
        wanted = {tp for offsets in committed.values() for tp in offsets}
        ends = await consumer.end_offsets(list(wanted)) if wanted else {}
    lags: list[PartitionLag] = []
    for group in groups:
        for tp, meta in sorted(committed[group].items(), key=lambda item: (item[0].topic, item[0].partition)):
            offset = meta.offset if meta.offset >= 0 else None
            lags.append(PartitionLag(group, tp.topic, tp.partition, offset, ends.get(tp, 0)))
    return lags


# --- dead letters --------------------------------------------------------------------------------


@dataclass
class DeadLetter:
    """One record of a `.dlq` topic; `also` holds later records of the same original position."""

    dlq_topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, str]
    timestamp_ms: int
    also: list[DeadLetter] = field(default_factory=list)

    @property
    def reason(self) -> str:
        return self.headers.get("dlq-reason", "")

    @property
    def consumer(self) -> str:
        return self.headers.get("dlq-consumer", "")

    @property
    def original_topic(self) -> str | None:
        return self.headers.get("dlq-original-topic")

    @property
    def original_position(self) -> tuple[str, int, int] | None:
        try:
            return (
                self.headers["dlq-original-topic"],
                int(self.headers["dlq-original-partition"]),
                int(self.headers["dlq-original-offset"]),
            )
        except (KeyError, ValueError):
            return None

    @property
    def position(self) -> str:
        return f"{self.dlq_topic}:{self.partition}:{self.offset}"

    @property
    def consumers(self) -> list[str]:
        return list(dict.fromkeys([self.consumer, *(other.consumer for other in self.also)]))


def dlq_topic_of(topic: str) -> str:
    return topic if topic.endswith(DLQ_SUFFIX) else topic + DLQ_SUFFIX


async def read_all(consumer: AIOKafkaConsumer, topic: str) -> AsyncIterator[ConsumerRecord[bytes, bytes]]:
    """Every record held on the topic up to its end as it was when reading began."""
    partitions = await partitions_of(consumer, topic)
    ends = await consumer.end_offsets(partitions)
    remaining = {tp for tp in partitions if ends[tp] > 0}
    if not remaining:
        return
    consumer.assign(list(remaining))
    await consumer.seek_to_beginning(*remaining)
    while remaining:
        batches = await consumer.getmany(*remaining, timeout_ms=1000)
        for tp, records in batches.items():
            for record in records:
                if record.offset < ends[tp]:
                    yield record
            if await consumer.position(tp) >= ends[tp]:
                remaining.discard(tp)
        for tp in list(remaining):
            if await consumer.position(tp) >= ends[tp]:
                remaining.discard(tp)


async def dead_letters(kafka: Kafka, topic: str, *, reason: str | None = None) -> list[DeadLetter]:
    """The dead letters of a topic, one per original position (a record dead-lettered again, or by two
    consumer groups, is listed once with the others under `also`), optionally only those whose reason
    contains `reason` (case-insensitive)."""
    dlq = dlq_topic_of(topic)
    by_position: dict[Any, DeadLetter] = {}
    async with reader(kafka) as consumer:
        async for record in read_all(consumer, dlq):
            letter = DeadLetter(
                dlq,
                record.partition,
                record.offset,
                record.key,
                record.value or b"",
                {name: value.decode(errors="replace") for name, value in record.headers},
                record.timestamp,
            )
            position = letter.original_position or letter.position
            if position in by_position:
                by_position[position].also.append(letter)
            else:
                by_position[position] = letter
    letters = list(by_position.values())
    if reason:
        needle = reason.lower()
        letters = [
            letter
            for letter in letters
            if needle in letter.reason.lower() or any(needle in other.reason.lower() for other in letter.also)
        ]
    return letters


async def dead_letter_at(kafka: Kafka, topic: str, partition: int, offset: int) -> DeadLetter:
    dlq = dlq_topic_of(topic)
    async with reader(kafka) as consumer:
        tp = TopicPartition(dlq, partition)
        await partitions_of(consumer, dlq)
        consumer.assign([tp])
        consumer.seek(tp, offset)
        batches = await consumer.getmany(tp, timeout_ms=5000, max_records=1)
        for record in batches.get(tp, []):
            if record.offset == offset:
                return DeadLetter(
                    dlq,
                    partition,
                    offset,
                    record.key,
                    record.value or b"",
                    {name: value.decode(errors="replace") for name, value in record.headers},
                    record.timestamp,
                )
    raise LookupError(f"no record at {dlq}:{partition}:{offset}")


async def replay(
    kafka: Kafka, letters: Iterable[DeadLetter], *, on_sent: Callable[[DeadLetter], None]
) -> int:
    """Send each dead letter's key and value back to its original topic and partition, marked with
    where it came from; its trace context goes with it. Consumers skip what they applied before, so
    a replay that is run twice changes nothing twice."""
    producer = AIOKafkaProducer(**kafka.client_options(), enable_idempotence=True, acks="all")
    await producer.start()
    sent = 0
    try:
        for letter in letters:
            if letter.original_topic is None:
                continue
            headers = [
                (name, value.encode())
                for name, value in letter.headers.items()
                if not name.startswith("dlq-") and name != REPLAY_HEADER
            ]
            headers.append((REPLAY_HEADER, letter.position.encode()))
            # To the partition it was read from: the producer that first wrote it may hash keys
            # otherwise than ours (kcat's default does), and a key's records must stay on one.
            original = letter.original_position
            await producer.send_and_wait(
                letter.original_topic,
                letter.value,
                key=letter.key,
                headers=headers,
                partition=original[1] if original is not None else None,
            )
            sent += 1
            on_sent(letter)
    finally:
        await producer.stop()
    return sent


# --- tail ----------------------------------------------------------------------------------------


async def tail(
    kafka: Kafka,
    topic: str,
    *,
    from_beginning: bool,
    limit: int | None,
    idle_seconds: float | None,
) -> AsyncIterator[ConsumerRecord[bytes, bytes]]:
    """Records of every partition as they arrive (after those held, with `from_beginning`); stops
    after `limit` records or `idle_seconds` without one, else runs until interrupted."""
    async with reader(kafka) as consumer:
        partitions = await partitions_of(consumer, topic)
        consumer.assign(partitions)
        if from_beginning:
            await consumer.seek_to_beginning(*partitions)
        else:
            await consumer.seek_to_end(*partitions)
        seen = 0
        last = time.monotonic()
        while limit is None or seen < limit:
            batches = await consumer.getmany(timeout_ms=500)
            records = sorted(
                (record for batch in batches.values() for record in batch), key=lambda r: r.timestamp
            )
            for record in records:
                yield record
                seen += 1
                if limit is not None and seen >= limit:
                    return
            if records:
                last = time.monotonic()
            elif idle_seconds is not None and time.monotonic() - last >= idle_seconds:
                return
            await asyncio.sleep(0)
