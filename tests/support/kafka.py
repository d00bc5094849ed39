"""Test helpers for the real broker: produce a CloudEvent, find a record on a topic (as a given user on
a secured broker)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from contracts_schema import CloudEvent, WireModel
from servicekit.kafka_security import PLAINTEXT, KafkaSecurity


@dataclass(frozen=True)
class Record:
    topic: str
    key: str | None
    value: bytes
    headers: dict[str, str]
    partition: int = 0

    def json(self) -> Any:
        return json.loads(self.value)


async def produce(
    bootstrap: str, topic: str, value: bytes, key: str, *, security: KafkaSecurity = PLAINTEXT
) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, **security.for_aiokafka()
    )
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key.encode())
    finally:
        await producer.stop()


async def produce_event(
    bootstrap: str,
    topic: str,
    body: WireModel,
    key: str,
    actor: str = "test",
    *,
    security: KafkaSecurity = PLAINTEXT,
) -> CloudEvent:
    event = CloudEvent.wrap(body, source="tests", subject=key, actor=actor)
    await produce(bootstrap, topic, event.to_json(), key, security=security)
    return event


async def find_record(
    bootstrap: str,
    topic: str,
    matches: Callable[[Record], bool],
    *,
    timeout: float = 20.0,
    security: KafkaSecurity = PLAINTEXT,
) -> Record:
    """Scan the topic from the start (no consumer group) until a record matches."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, **security.for_aiokafka()
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in (consumer.partitions_for_topic(topic) or set())]
        if not partitions:
            await consumer._client.force_metadata_update()  # noqa: SLF001 - first look at a topic
            partitions = [TopicPartition(topic, p) for p in (consumer.partitions_for_topic(topic) or set())]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for raw in records:
                    record = Record(
                        raw.topic,
                        raw.key.decode() if raw.key else None,
                        raw.value or b"",
                        {name: value.decode(errors="replace") for name, value in raw.headers},
                        raw.partition,
                    )
                    if matches(record):
                        return record
        raise AssertionError(f"no matching record on {topic} within {timeout} s")
    finally:
        await consumer.stop()


async def eventually(check: Callable[[], Any], *, timeout: float = 20.0, interval: float = 0.2) -> Any:
    """Poll an async check until it returns something truthy."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s (last result: {last!r})")
