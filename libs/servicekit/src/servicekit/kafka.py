"""Kafka through FastStream: one broker per service, the outbox sender, topic set-up."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, UnknownTopicOrPartitionError
from aiokafka.partitioner import murmur2
from faststream.kafka import KafkaBroker

from contracts_schema import TOPICS, Topic
from servicekit import tracing
from servicekit.faults import is_transient
from servicekit.kafka_security import PLAINTEXT, KafkaSecurity
from servicekit.limits import MESSAGE_MAX_BYTES
from servicekit.metrics import MESSAGES_PRODUCED
from servicekit.outbox import OutgoingMessage

log = logging.getLogger(__name__)

CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json; charset=UTF-8"
OUTBOX_BATCH_BYTES = 512 * 1024
"""Bytes of records per partition in one produce request of the outbox's producer."""


def make_broker(bootstrap_servers: str, client_id: str, security: KafkaSecurity = PLAINTEXT) -> KafkaBroker:
    """Idempotent producer with acks=all: a retried send never duplicates or reorders a record."""
    return KafkaBroker(
        bootstrap_servers,
        client_id=client_id,
        security=security.for_faststream(),
        enable_idempotence=True,
        acks="all",
        max_request_size=MESSAGE_MAX_BYTES,
        logger=logging.getLogger(f"{client_id}.kafka"),
        log_level=logging.DEBUG,  # one line per message is too much at INFO
    )


def partition_of(key: bytes, partitions: Sequence[int]) -> int:
    """The partition Kafka's default partitioner gives a key (murmur2, as the Java clients and kcat's
    murmur2 partitioner), of the topic's `partitions` in order. Each key's hash is remembered:
    aiokafka's murmur2 is pure Python, ~6 µs a key, and the outbox's keys (accounts, contracts) repeat
    from event to event."""
    return partitions[(_murmur2(key) & 0x7FFFFFFF) % len(partitions)]


_murmur2: Callable[[bytes], int] = functools.lru_cache(maxsize=65_536)(murmur2)


class KafkaSender:
    """Sends outbox rows keyed by aggregate, handed over in order and acknowledged together, with an
    idempotent producer of its own (acks=all: a retried send never duplicates or reorders a record).

    Its own, not the broker's: after Kafka refuses a record, aiokafka's idempotent producer can be left
    out of step with the broker (every later send to that partition fails with
    OutOfOrderSequenceNumber until the producer is made anew), and making it anew must not touch the
    consumers."""

    def __init__(
        self,
        bootstrap_servers: str,
        client_id: str,
        security: KafkaSecurity = PLAINTEXT,
        *,
        request_timeout_ms: int = 40_000,
    ) -> None:
        self._options = {
            "bootstrap_servers": bootstrap_servers,
            # Also how long a send waits for a topic's metadata or room in a full partition batch.
            "request_timeout_ms": request_timeout_ms,
            "client_id": f"{client_id}-outbox",
            "enable_idempotence": True,
            "acks": "all",
            "max_request_size": MESSAGE_MAX_BYTES,
            # An idempotent producer has one request in flight per partition: what one request carries
            # is what bounds the relay. Large batches (aiokafka's default is 16 KiB, some twenty events)
            # fill while the relay hands a whole outbox batch over; a short linger lets a lone event go.
            "max_batch_size": OUTBOX_BATCH_BYTES,
            "linger_ms": 2,
            **security.for_aiokafka(),
        }
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(**self._options)
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def send_all(self, messages: Sequence[OutgoingMessage]) -> list[BaseException | None]:
        """Send every message; for each, None once the broker acknowledged it, else why it was not."""
        if self._producer is None:
            raise RuntimeError("the outbox sender is not started")
        producer = self._producer
        # Rows of topics whose metadata the producer has go first, at once. A topic whose metadata is
        # not known yet (just created, missing, or the broker out of reach) is asked for meanwhile, all
        # of them together, and its rows follow: one that never answers costs one request timeout
        # for its own rows only, not one per row, and holds no other topic back. Order only matters
        # per partition, so within a topic the rows keep theirs.
        known = producer.client.cluster.topics()
        unknown = sorted({message.topic for message in messages} - known)
        asking = asyncio.ensure_future(_topics_unavailable(producer, unknown))
        order = sorted(range(len(messages)), key=lambda index: messages[index].topic in unknown)
        deliveries: list[_Batch | BaseException | None] = [None] * len(messages)
        with tracing.producing([(message.topic, message.headers) for message in messages]) as extra:
            unavailable: dict[str, BaseException] = {}
            asked = False
            batches = _Batches(producer)
            for index in order:
                message = messages[index]
                if message.topic in unknown and not asked:
                    await batches.close()  # the known topics' records go while the others are asked for
                    unavailable.update(await asking)
                    asked = True
                if message.topic in unavailable:
                    deliveries[index] = unavailable[message.topic]
                    continue
                try:
                    deliveries[index] = await batches.add(message, extra[index])
                except Exception as error:  # no metadata, or its partition's last batch was not queued
                    deliveries[index] = error
                    if is_transient(error):  # its topic's later rows would wait as long: next cycle
                        unavailable[message.topic] = error
            await batches.close()
            if not asking.done():
                asking.cancel()
            await batches.acknowledged()
        outcomes = [d.outcome if isinstance(d, _Batch) else d for d in deliveries]
        failed = [outcome for outcome in outcomes if outcome is not None]
        if any(not is_transient(error) for error in failed):
            await self._renew()  # the producer may be out of step with the broker: start afresh
        sent = Counter(
            message.topic for message, outcome in zip(messages, outcomes, strict=True) if outcome is None
        )
        for topic, count in sent.items():
            MESSAGES_PRODUCED.labels(topic).inc(count)
        return outcomes

    async def _renew(self) -> None:
        log.warning("outbox producer made anew after Kafka refused a record")
        await self.stop()
        await self.start()


async def _topics_unavailable(producer: AIOKafkaProducer, topics: Iterable[str]) -> dict[str, BaseException]:
    """The topics whose metadata the producer could not get, each with why (waited for together)."""

    async def ask(topic: str) -> BaseException | None:
        try:
            await producer.partitions_for(topic)
        except Exception as error:
            return error
        return None

    names = sorted(topics)
    answers = await asyncio.gather(*(ask(topic) for topic in names))
    return {topic: error for topic, error in zip(names, answers, strict=True) if error is not None}


# Structured mode: the whole CloudEvent is the value. No `ce_` headers, which would make a CloudEvents
# SDK read the record as binary mode.
_CONTENT_TYPE = ("content-type", CLOUDEVENTS_CONTENT_TYPE.encode())


@dataclass(eq=False)
class _Batch:
    """Records of one partition handed to the producer as one batch: acknowledged, or refused,
    together (as the batches aiokafka fills from single sends are)."""

    topic: str
    partition: int
    builder: Any
    queued: asyncio.Future[Any] | None = None
    outcome: BaseException | None = None


class _Batches:
    """The open batch of each partition. A partition's batches are queued one after the other, in the
    order their records were added, so a key's records keep their order; once one of them could not be
    queued, the partition takes no more records this cycle (they would overtake it). Filling batches
    here rather than a `send` per record spares aiokafka's per-record future and checks: ~4 µs of CPU a
    record instead of ~13."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer
        self._partitions: dict[str, list[int]] = {}
        self._open: dict[tuple[str, int], _Batch] = {}
        self._queued: list[_Batch] = []
        self._refused: dict[tuple[str, int], BaseException] = {}

    async def add(self, message: OutgoingMessage, headers: Mapping[str, str]) -> _Batch:
        """The batch that took the message; raises why it could not be taken (its topic has no
        metadata, or an earlier batch of its partition could not be queued)."""
        key = message.key.encode()
        where = (message.topic, partition_of(key, self._partitions_of(message.topic)))
        if where in self._refused:
            raise self._refused[where]
        record = {
            "key": key,
            "value": message.payload,
            "timestamp": None,
            "headers": [(name, value.encode()) for name, value in headers.items()] + [_CONTENT_TYPE],
        }
        batch = self._open.get(where)
        if batch is not None and batch.builder.append(**record) is not None:
            return batch
        if batch is not None:  # full: queued, and a new one takes the record
            await self._queue(batch)
            if where in self._refused:
                raise self._refused[where]
        batch = self._open[where] = _Batch(*where, self._producer.create_batch())
        batch.builder.append(**record)  # a batch takes its first record, whatever its size
        return batch

    def _partitions_of(self, topic: str) -> list[int]:
        found = self._partitions.get(topic)
        if found is None:
            every = self._producer.client.cluster.partitions_for_topic(topic)
            if not every:
                raise UnknownTopicOrPartitionError(f"no metadata for topic {topic}")
            found = self._partitions[topic] = sorted(every)
        return found

    async def _queue(self, batch: _Batch) -> None:
        del self._open[(batch.topic, batch.partition)]
        self._queued.append(batch)
        try:
            batch.queued = await self._producer.send_batch(
                batch.builder, batch.topic, partition=batch.partition
            )
        except Exception as error:  # no room in time, the producer closed: its records stay pending
            batch.outcome = self._refused[(batch.topic, batch.partition)] = error

    async def close(self) -> None:
        """Queue the batches still open."""
        for batch in list(self._open.values()):
            await self._queue(batch)

    async def acknowledged(self) -> None:
        """Wait for every queued batch's answer: a batch's outcome stays None once Kafka has it."""
        waiting = [(batch, batch.queued) for batch in self._queued if batch.queued is not None]
        answers = await asyncio.gather(*(queued for _, queued in waiting), return_exceptions=True)
        for (batch, _), answer in zip(waiting, answers, strict=True):
            batch.outcome = _failure(answer)


def _failure(outcome: object) -> BaseException | None:
    return outcome if isinstance(outcome, BaseException) else None


async def ensure_topics(
    bootstrap_servers: str, topics: Iterable[Topic] = TOPICS, security: KafkaSecurity = PLAINTEXT
) -> list[str]:
    """Create each topic and its `.dlq` twin with our partition counts and record size; existing ones
    are left alone."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, client_id="topic-setup", **security.for_aiokafka()
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted: list[NewTopic] = []
        for topic in topics:
            for name, partitions in ((topic.name, topic.partitions), (topic.dlq, 1)):
                if name not in existing:
                    configs = {"max.message.bytes": str(MESSAGE_MAX_BYTES)}
                    wanted.append(NewTopic(name, partitions, 1, topic_configs=configs))
        created: list[str] = []
        for new_topic in wanted:
            try:
                await admin.create_topics([new_topic])
                created.append(new_topic.name)
            except TopicAlreadyExistsError:
                pass  # another replica made it first
        return created
    finally:
        await admin.close()


async def missing_topics(
    bootstrap_servers: str, names: Iterable[str], security: KafkaSecurity = PLAINTEXT
) -> list[str]:
    """Those of the topics that the broker does not show this user: absent, or hidden by its ACLs."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, client_id="topic-check", **security.for_aiokafka()
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
    finally:
        await admin.close()
    return sorted(set(names) - existing)
