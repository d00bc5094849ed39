"""Kafka through FastStream: one broker per service, the outbox sender, topic set-up."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterable, Sequence

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker

from contracts_schema import TOPICS, Topic
from servicekit import tracing
from servicekit.kafka_security import PLAINTEXT, KafkaSecurity
from servicekit.metrics import MESSAGES_PRODUCED
from servicekit.outbox import OutgoingMessage

log = logging.getLogger(__name__)

CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json; charset=UTF-8"


def make_broker(bootstrap_servers: str, client_id: str, security: KafkaSecurity = PLAINTEXT) -> KafkaBroker:
    """Idempotent producer with acks=all: a retried send never duplicates or reorders a record."""
    return KafkaBroker(
        bootstrap_servers,
        client_id=client_id,
        security=security.for_faststream(),
        enable_idempotence=True,
        acks="all",
        logger=logging.getLogger(f"{client_id}.kafka"),
        log_level=logging.DEBUG,  # one line per message is too much at INFO
    )


class KafkaSender:
    """Sends outbox rows with the broker's producer, all in flight at once, keyed by aggregate."""

    def __init__(self, broker: KafkaBroker) -> None:
        self._broker = broker

    async def send_all(self, messages: Sequence[OutgoingMessage]) -> None:
        with tracing.producing([(message.topic, message.headers) for message in messages]) as extra:
            pending = [
                await self._broker.publish(
                    message.payload,
                    topic=message.topic,
                    key=message.key.encode(),
                    headers={
                        **headers,
                        "content-type": CLOUDEVENTS_CONTENT_TYPE,
                        "ce_id": message.message_id,
                    },
                    correlation_id=message.message_id,
                    no_confirm=True,
                )
                for message, headers in zip(messages, extra, strict=True)
            ]
            await asyncio.gather(*pending)
        for topic, count in Counter(message.topic for message in messages).items():
            MESSAGES_PRODUCED.labels(topic).inc(count)


async def ensure_topics(
    bootstrap_servers: str, topics: Iterable[Topic] = TOPICS, security: KafkaSecurity = PLAINTEXT
) -> list[str]:
    """Create each topic and its `.dlq` twin with our partition counts; existing ones are left alone."""
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
                    wanted.append(NewTopic(name, partitions, 1))
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
