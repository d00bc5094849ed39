"""Kafka consumers: batched, at-least-once, with dead-lettering of what cannot be processed.

Offsets are committed only after the handler's database transaction (which records each message in
the inbox) has committed, so a crash re-delivers rather than loses. A message that is not a valid
CloudEvent of a type the topic carries, or that breaks a business rule, goes to the topic's `.dlq`
twin with a `dlq-reason` header and the consumer moves on. Infrastructure failures (the database is
down) are retried from the same offsets; any other error is retried a few times, then dead-lettered.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import ConsumerStoppedError, KafkaError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage
from pydantic import Field, TypeAdapter, ValidationError, create_model

from contracts_schema import CloudEvent, Topic, WireModel
from servicekit import logs, tracing
from servicekit.errors import DomainError
from servicekit.faults import is_transient
from servicekit.limits import DEAD_LETTER_BODY_MAX_BYTES
from servicekit.metrics import CONSUMER_LAG, HANDLER_SECONDS, MESSAGES_CONSUMED, MESSAGES_DEAD_LETTERED

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message that parsed: the envelope, its typed body, and where it came from."""

    event: CloudEvent
    body: WireModel
    topic: str
    partition: int
    offset: int
    key: str | None
    consumer: str
    """The consumer group that read it: also the name its inbox records go under."""


BatchHandler = Callable[[Sequence[Delivery]], Awaitable[None]]


class InvalidMessage(Exception):
    """The bytes are not a message this topic carries."""


def parse_record(topic: Topic, value: bytes | None) -> tuple[CloudEvent, WireModel]:
    """The envelope and its typed body. A valid message is read in one pass: the envelope of its type,
    with `data` typed as that type's body model, chosen by `type`. One that is not is read again in two
    steps, envelope then body, which say precisely what is wrong with it."""
    if not value:
        raise InvalidMessage("empty message")
    try:
        event = _typed_envelopes(topic).validate_json(value)
    except ValidationError:
        return _parse_in_two_steps(topic, value)
    return event, event.data


_ENVELOPES: dict[tuple[str, tuple[str, ...]], TypeAdapter[Any]] = {}


def _typed_envelopes(topic: Topic) -> TypeAdapter[Any]:
    """One CloudEvent model per message type of the topic, its `data` that type's body, told apart by
    `type`: the envelope and the body are validated in one pass over the bytes."""
    key = (topic.name, tuple(topic.messages))
    if key not in _ENVELOPES:
        _ENVELOPES[key] = _envelopes_of(topic)
    return _ENVELOPES[key]


def _envelopes_of(topic: Topic) -> TypeAdapter[Any]:
    envelopes = [
        create_model(
            f"CloudEvent_{message_type.replace('.', '_')}",
            __base__=CloudEvent,
            type=(Literal[message_type], ...),  # type: ignore[arg-type]
            data=(body, ...),
        )
        for message_type, body in topic.messages.items()
    ]
    if len(envelopes) == 1:
        return TypeAdapter(envelopes[0])
    one_of: Any = Annotated[Union[tuple(envelopes)], Field(discriminator="type")]  # noqa: UP007
    return TypeAdapter(one_of)


def _parse_in_two_steps(topic: Topic, value: bytes) -> tuple[CloudEvent, WireModel]:
    try:
        event = CloudEvent.model_validate_json(value)  # parses and validates in one pass
    except ValidationError as error:
        first = error.errors()[0]
        if first["type"] == "json_invalid":
            raise InvalidMessage(f"not JSON: {first['ctx'].get('error', first['msg'])}") from None
        raise InvalidMessage(f"not a CloudEvents 1.0 envelope: {_brief(error)}") from None
    model = topic.messages.get(event.type)
    if model is None:
        raise InvalidMessage(f"message type {event.type!r} is not carried on {topic.name}")
    try:
        body = model.model_validate(event.data)
    except ValidationError as error:
        raise InvalidMessage(f"invalid {event.type} data: {_brief(error)}") from None
    return event, body


def _brief(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or '(root)'}: {item['msg']}"
        for item in error.errors()[:5]
    )


async def _raw_body(message: StreamMessage[Any]) -> Any:
    """Keep the bytes: parsing (and rejecting) them is ours, not the framework's."""
    return message.body


class Consumers:
    """Registers a service's subscribers on its broker."""

    def __init__(self, broker: KafkaBroker, service: str, *, max_records: int = 2000) -> None:
        self._broker = broker
        self._service = service
        self._max_records = max_records
        self._attempts: dict[tuple[str, int, int], int] = {}
        # Positions already dead-lettered in a batch that is being re-read, so they are sent once.
        self._dead_lettered: set[tuple[str, int, int]] = set()
        self.topics: set[str] = set()
        """Topics subscribed to, for the service's AsyncAPI document."""

    def group(self, name: str) -> str:
        """The consumer group of subscriber `name`: "usage-accrual" of billing is
        "billing.usage-accrual". Named after the service, so a second deployment under another name
        (a test run beside a running service) reads every message itself."""
        return f"{self._service}.{name}"

    def subscribe(self, topic: Topic, handler: BatchHandler, *, name: str) -> None:
        """Consume `topic` in the group of subscriber `name`, shared by the service's replicas.
        One group per subscriber: two subscribers of one topic in a shared group would split its
        partitions between them instead of each seeing every message."""
        group = self.group(name)
        self.topics.add(topic.name)

        subscriber = self._broker.subscriber(
            topic.name,
            group_id=group,
            batch=True,
            max_records=self._max_records,
            batch_timeout_ms=50,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.MANUAL,
            decoder=_raw_body,
            title=f"{group}:{topic.name}",
        )

        @subscriber
        async def consume(message: KafkaMessage) -> None:
            consumer: Any = message.consumer  # the AIOKafkaConsumer of this subscriber
            batch: Sequence[ConsumerRecord[Any, Any]] = message.raw_message
            # One batch after another for as long as records keep arriving and the service is not
            # stopping (what was fetched ahead then is read again on the next start); the framework
            # hands over the first of a quiet spell. Offsets are committed here, exactly those of the
            # work done.
            committing: asyncio.Task[None] | None = None
            while batch and subscriber.running:
                arriving = _Arriving(consumer, self._max_records)
                try:
                    unfinished = await self._apply(topic, group, handler, batch)
                finally:
                    following = await arriving.stop()
                try:
                    # Only now that nothing fetches: a seek under a running fetch could lose what it
                    # took. The partitions a rebalance took away meanwhile are not ours to seek.
                    assigned = consumer.assignment()
                    last = _last_offsets(batch)
                    _note_lag(consumer, last, assigned, group)
                    rewound = _rewind(consumer, unfinished, assigned)
                    upto = _offsets_done(last, unfinished)
                    # The batch's work is committed: its offsets go to the broker while the next batch
                    # is worked on, one commit in flight at a time so that they land in order.
                    if committing is not None:
                        await committing
                    committing = asyncio.create_task(_commit(consumer, upto))
                    self._forget_dead_letters_before(upto)
                    # The rewound are fetched again from their seek. Plain tuples: a TopicPartition
                    # per record costs more than the rest of this loop.
                    ours = {(tp.topic, tp.partition) for tp in assigned - rewound}
                    batch = [r for r in following if (r.topic, r.partition) in ours]
                except Exception:
                    # What was fetched ahead is dropped: every partition goes back to its last commit
                    # (the inbox absorbs what is read again), so none of it is skipped.
                    log.exception("consumer of %s going back to its committed offsets", topic.name)
                    if committing is not None:
                        await asyncio.gather(committing, return_exceptions=True)
                    await consumer.seek_to_committed()
                    raise
            if committing is not None:
                await committing

    def _forget_dead_letters_before(self, upto: dict[TopicPartition, int]) -> None:
        """Positions dead-lettered are remembered while their batch may be read again, so that each is
        sent once; committed past, they are read no more."""
        self._dead_lettered = {
            position
            for position in self._dead_lettered
            if position[2] >= upto.get(TopicPartition(position[0], position[1]), 0)
        }

    async def _apply(
        self,
        topic: Topic,
        group: str,
        handler: BatchHandler,
        records: Sequence[ConsumerRecord[Any, Any]],
    ) -> list[ConsumerRecord[Any, Any]]:
        """Apply one batch; returns the records to read again (none when all are done)."""
        MESSAGES_CONSUMED.labels(topic.name, group).inc(len(records))  # per batch: thousands a second
        started = time.perf_counter()
        with logs.bound(topic=topic.name, consumer=group):
            try:
                unfinished = await self._process(topic, group, handler, records)
            except Exception as error:
                # Nothing of the batch may be committed past: it is read again.
                log.exception("batch on %s could not be finished; reading it again", topic.name)
                await self._back_off(error)
                unfinished = list(records)
        HANDLER_SECONDS.labels(topic.name, group).observe(time.perf_counter() - started)
        return unfinished

    async def _process(
        self, topic: Topic, group: str, handler: BatchHandler, records: Sequence[ConsumerRecord[Any, Any]]
    ) -> list[ConsumerRecord[Any, Any]]:
        """Apply a batch; returns the records to read again (none when all are done)."""
        deliveries: list[Delivery] = []
        for record in records:
            try:
                event, body = parse_record(topic, record.value)
            except InvalidMessage as error:
                await self._dead_letter(topic, group, record, str(error), kind="invalid")
                continue
            key = record.key.decode(errors="replace") if record.key else None
            deliveries.append(
                Delivery(event, body, record.topic, record.partition, record.offset, key, group)
            )
        if not deliveries:
            return []
        if len(deliveries) > 1:
            try:
                traced = _traced(deliveries, records)
                with tracing.consuming(group, traced), logs.bound(batch=len(deliveries)):
                    await handler(deliveries)
                return []
            except Exception as error:
                if is_transient(error):
                    await self._back_off(error)
                    return list(records)
                log.info(
                    "batch of %d on %s failed (%r); applying one at a time",
                    len(deliveries),
                    topic.name,
                    error,
                )
        in_order = _records_of(deliveries, records)
        for done, (delivery, record) in enumerate(zip(deliveries, in_order, strict=True)):
            with _bound_to(delivery):
                applied = await self._process_one(topic, group, handler, delivery, record)
            if not applied:
                return in_order[done:]
        return []

    async def _process_one(
        self,
        topic: Topic,
        group: str,
        handler: BatchHandler,
        delivery: Delivery,
        record: ConsumerRecord[Any, Any],
    ) -> bool:
        position = (record.topic, record.partition, record.offset)
        try:
            with tracing.consuming(group, _traced([delivery], [record])):
                await handler([delivery])
        except DomainError as error:
            await self._dead_letter(topic, group, record, f"{type(error).__name__}: {error}", kind="rejected")
        except Exception as error:
            if is_transient(error):
                return await self._back_off(error)
            attempts = self._attempts.get(position, 0) + 1
            if attempts < MAX_ATTEMPTS:
                self._attempts[position] = attempts
                log.warning("%s failed (attempt %d): %r; retrying", delivery.event.type, attempts, error)
                await asyncio.sleep(0.2 * attempts)
                return False
            log.exception("%s failed %d times; dead-lettering", delivery.event.type, attempts)
            await self._dead_letter(
                topic,
                group,
                record,
                f"failed {attempts} times: {type(error).__name__}: {error}",
                kind="failed",
            )
        self._attempts.pop(position, None)
        return True

    async def _back_off(self, error: BaseException) -> bool:
        log.warning("infrastructure error, will re-read the same messages: %r", error)
        await asyncio.sleep(1.0)
        return False

    async def _dead_letter(
        self, topic: Topic, group: str, record: ConsumerRecord[Any, Any], reason: str, *, kind: str
    ) -> None:
        position = (record.topic, record.partition, record.offset)
        if position in self._dead_lettered:
            return
        with logs.bound(partition=record.partition, offset=record.offset):
            log.warning("dead-lettering %s[%d]@%d: %s", record.topic, record.partition, record.offset, reason)
        # The record's trace context and content type go with it, so a replay continues the trace it
        # belongs to and reads as it was sent.
        original = {name: value.decode(errors="replace") for name, value in record.headers or ()}
        headers = {name: value for name, value in original.items() if name in tracing.TRACE_HEADERS}
        headers |= {
            "content-type": original.get("content-type", "application/octet-stream"),
            "dlq-reason": reason[:2000],
            "dlq-consumer": group,
            "dlq-original-topic": record.topic,
            "dlq-original-partition": str(record.partition),
            "dlq-original-offset": str(record.offset),
        }
        body = record.value or b""
        if len(body) > DEAD_LETTER_BODY_MAX_BYTES:
            # The original with our headers would not fit a record: keep its start, and say so.
            headers["dlq-truncated"] = f"{len(body)} bytes, the first {DEAD_LETTER_BODY_MAX_BYTES} kept"
            body = body[:DEAD_LETTER_BODY_MAX_BYTES]
        try:
            await self._broker.publish(
                body, topic=topic.dlq, key=record.key, headers=headers, correlation_id=_correlation(body)
            )
        except Exception as error:
            if is_transient(error):
                raise  # the broker is out of reach: the batch is read again once it is back
            # Kafka will not take even that: the headers alone still say what was lost and why, and the
            # consumer moves on rather than stall on this record forever.
            log.error("dead letter of %s[%d]@%d refused (%r): sent without its body", *position, error)
            headers["dlq-truncated"] = f"{len(record.value or b'')} bytes, none kept: {type(error).__name__}"
            await self._broker.publish(
                b"", topic=topic.dlq, key=record.key, headers=headers, correlation_id=_correlation(body)
            )
        self._dead_lettered.add(position)
        MESSAGES_DEAD_LETTERED.labels(record.topic, group, kind).inc()


def _correlation(body: bytes) -> str | None:
    """The dead message's own correlation id when it has one (the framework would make one up)."""
    match = _CORRELATION.search(body[:65536])
    return match.group(1).decode() if match else None


_CORRELATION = re.compile(rb'"correlationid"\s*:\s*"([^"]{1,100})"')


def _traced(
    deliveries: Sequence[Delivery], records: Sequence[ConsumerRecord[Any, Any]]
) -> list[tracing.ConsumedMessage]:
    headers = {(r.topic, r.partition, r.offset): r.headers for r in records}
    return [
        (str(d.event.id), d.topic, d.partition, d.offset, headers.get((d.topic, d.partition, d.offset)))
        for d in deliveries
    ]


@contextmanager
def _bound_to(delivery: Delivery) -> Iterator[None]:
    """Log lines about one message say which it is, what it belongs to, and who sent it."""
    event = delivery.event
    with logs.bound(
        partition=delivery.partition,
        offset=delivery.offset,
        message_id=str(event.id),
        message_type=event.type,
        correlation_id=event.correlationid,
        causation_id=event.causationid,
        actor=event.actor,
    ):
        yield


def _note_lag(
    consumer: Any, last: dict[TopicPartition, int], assigned: set[TopicPartition], group: str
) -> None:
    """Records left behind each partition of the batch (`last`: its last offset in the batch): its
    high watermark past the last one read, as the consumer last heard it (no request to the broker).
    Not for a partition a rebalance took away meanwhile: the consumer knows nothing of it any more."""
    for partition, offset in last.items():
        if partition not in assigned:
            continue
        highwater = consumer.highwater(partition)
        if highwater is not None:
            CONSUMER_LAG.labels(partition.topic, str(partition.partition), group).set(
                max(0, highwater - offset - 1)
            )


def _records_of(
    deliveries: Sequence[Delivery], records: Sequence[ConsumerRecord[Any, Any]]
) -> list[ConsumerRecord[Any, Any]]:
    by_position = {(r.topic, r.partition, r.offset): r for r in records}
    return [by_position[(d.topic, d.partition, d.offset)] for d in deliveries]


def _rewind(
    consumer: Any, unfinished: Sequence[ConsumerRecord[Any, Any]], assigned: set[TopicPartition]
) -> set[TopicPartition]:
    """Seek each assigned partition back to its first unfinished record; finished ones are not read
    again. Returns the partitions sought back."""
    earliest = {tp: offset for tp, offset in _first_offsets(unfinished).items() if tp in assigned}
    for partition, offset in earliest.items():
        consumer.seek(partition, offset)
    return set(earliest)


def _first_offsets(records: Sequence[ConsumerRecord[Any, Any]]) -> dict[TopicPartition, int]:
    earliest: dict[TopicPartition, int] = {}
    for record in records:
        partition = TopicPartition(record.topic, record.partition)
        earliest[partition] = min(record.offset, earliest.get(partition, record.offset))
    return earliest


def _offsets_done(
    last: dict[TopicPartition, int], unfinished: Sequence[ConsumerRecord[Any, Any]]
) -> dict[TopicPartition, int]:
    """Each partition of the batch (`last`: its last offset in the batch) up to its first unfinished
    record, or past its last record: exact offsets, not the consumer's position, which is already past
    what arrived meanwhile."""
    return {tp: offset + 1 for tp, offset in last.items()} | _first_offsets(unfinished)


async def _commit(consumer: Any, upto: dict[TopicPartition, int]) -> None:
    assigned = consumer.assignment()
    offsets = {tp: offset for tp, offset in upto.items() if tp in assigned}
    if not offsets:
        return
    try:
        await consumer.commit(offsets)
    except (KafkaError, ConsumerStoppedError) as error:
        # The group moved on (a rebalance) or the consumer stopped: whoever reads the partitions next
        # starts from the last commit, and the inbox absorbs what is applied twice.
        log.warning("offsets of %d partitions not committed: %r", len(offsets), error)


def _last_offsets(records: Sequence[ConsumerRecord[Any, Any]]) -> dict[TopicPartition, int]:
    """Each partition's last offset in the batch (a partition's records come in offset order)."""
    last: dict[tuple[str, int], int] = {}
    for record in records:
        last[(record.topic, record.partition)] = record.offset
    return {TopicPartition(topic, partition): offset for (topic, partition), offset in last.items()}


class _Arriving:
    """What the fetcher brings while a batch is worked on, kept for the next batch. aiokafka fetches a
    partition again only once its last fetch has been taken: without this, a record that arrived as a
    batch began waited in the broker through that batch and the next before it was handed over."""

    def __init__(self, consumer: Any, limit: int) -> None:
        self.records: list[ConsumerRecord[Any, Any]] = []
        self._task = asyncio.create_task(self._take(consumer, limit))

    async def _take(self, consumer: Any, limit: int) -> None:
        # Records taken are stored before the next await: a cancellation never drops any.
        while len(self.records) < limit:
            fetched = await consumer.getmany(timeout_ms=1000, max_records=limit - len(self.records))
            for records in fetched.values():
                self.records.extend(records)

    async def stop(self) -> list[ConsumerRecord[Any, Any]]:
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            if asyncio.current_task().cancelling():  # type: ignore[union-attr]
                raise  # we are being stopped ourselves, not just the task we cancelled
        except Exception as error:
            # The framework's next fetch meets the same error and handles it.
            log.debug("fetching ahead stopped: %r", error)
        return self.records
