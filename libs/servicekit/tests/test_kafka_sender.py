"""The outbox's sender on the real broker: the partitions Kafka's default partitioner picks, and each
key's records in their order, across the many batches a large hand-over fills."""

from __future__ import annotations

import asyncio
import json
import uuid
from types import SimpleNamespace

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaTimeoutError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder

from contracts_schema import Topic
from servicekit.kafka import OUTBOX_BATCH_BYTES, KafkaSender, ensure_topics
from servicekit.outbox import OutgoingMessage


async def test_a_large_hand_over_keeps_each_keys_order_and_default_partition(kafka_bootstrap: str) -> None:
    topic = Topic(f"servicekit-tests.sender-{uuid.uuid4().hex[:12]}.v1", 3, "k", "test", {})
    await ensure_topics(kafka_bootstrap, [topic])
    keys = [f"account-{n}" for n in range(5)]
    filler = "x" * 2000
    messages = [
        OutgoingMessage(f"m{n}", topic.name, keys[n % len(keys)], json.dumps({"n": n, "f": filler}).encode())
        for n in range(3000)
    ]
    # Each key alone is over two batches of its partition.
    assert sum(len(m.payload) for m in messages) / len(keys) > 2 * OUTBOX_BATCH_BYTES
    sender = KafkaSender(kafka_bootstrap, "kit-test")
    await sender.start()
    try:
        assert await sender.send_all(messages) == [None] * len(messages)
    finally:
        await sender.stop()

    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic.name, p) for p in range(3)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        read: dict[str, list[tuple[int, int]]] = {key: [] for key in keys}
        while sum(map(len, read.values())) < len(messages):
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                for record in records:
                    assert record.key is not None
                    read[record.key.decode()].append((record.partition, json.loads(record.value)["n"]))
    finally:
        await consumer.stop()
    for index, key in enumerate(keys):
        expected = DefaultPartitioner()(key.encode(), [0, 1, 2], [0, 1, 2])
        assert {partition for partition, _ in read[key]} == {expected}
        assert [n for _, n in read[key]] == list(range(index, len(messages), len(keys)))


class _ProducerThatCannotQueueOnce:
    """Stands in for aiokafka's producer: small batches, and the first batch handed over is refused
    (no room in time, as when the broker is out of reach); every later one is taken."""

    def __init__(self, topic: str) -> None:
        self.client = SimpleNamespace(
            cluster=SimpleNamespace(topics=lambda: {topic}, partitions_for_topic=lambda _: {0, 1, 2})
        )
        self.queued: list[tuple[int, list[int]]] = []
        self._refused = False

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(400, 0)  # no compression; two of our records a batch

    async def send_batch(self, batch: BatchBuilder, topic: str, *, partition: int) -> asyncio.Future[None]:
        if not self._refused:
            self._refused = True
            raise KafkaTimeoutError()
        batch.close()
        self.queued.append((partition, []))
        taken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        taken.set_result(None)
        return taken


async def test_once_a_batch_of_a_partition_cannot_be_queued_no_later_record_of_it_overtakes_it() -> None:
    topic = "servicekit-tests.refused.v1"
    messages = [OutgoingMessage(f"m{n}", topic, "account-1", b"x" * 150) for n in range(6)]
    sender = KafkaSender("127.0.0.1:1", "kit-test")
    producer = _ProducerThatCannotQueueOnce(topic)
    sender._producer = producer  # type: ignore[assignment]  # noqa: SLF001 - a stand-in for the client
    outcomes = await sender.send_all(messages)
    # The first batch (m0, m1) was refused: it and everything behind it on its partition wait.
    assert all(isinstance(outcome, KafkaTimeoutError) for outcome in outcomes)
    assert producer.queued == []
