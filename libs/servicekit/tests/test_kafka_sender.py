"""The outbox's sender on the real broker: the partitions Kafka's default partitioner picks, and each
key's records in their order, across the many batches a large hand-over fills."""

from __future__ import annotations

import json
import uuid

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner

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
