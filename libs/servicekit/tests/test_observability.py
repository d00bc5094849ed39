"""Logs that say which message they were about, and trace context carried from a message (or a request)
into the outbox row of each event it causes and onto Kafka, on a real database and the real broker."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from contracts_schema import CloudEvent, registry
from contracts_schema.billing import BillCommandRejected, GenerateBill
from contracts_schema.registry import Topic
from servicekit import logs, tracing
from servicekit.consumers import Consumers, Delivery
from servicekit.db import Database
from servicekit.kafka import KafkaSender, ensure_topics, make_broker
from servicekit.origin import Origin
from servicekit.outbox import OutboxRelay
from servicekit.tables import MessagingTables
from servicekit.uow import UnitOfWork
from tests.support.kafka import eventually, find_record, produce

TRACE_A = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
TRACE_B = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def command() -> CloudEvent:
    return CloudEvent.wrap(
        GenerateBill(contract_id=uuid.uuid4(), period="1"),
        source="tests",
        subject="s",
        actor="ann@example.com",
        correlationid=str(uuid.uuid4()),
        causationid=str(uuid.uuid4()),
    )


def rejection(cause: CloudEvent) -> BillCommandRejected:
    return BillCommandRejected(contract_id=uuid.uuid4(), period="1", reason=f"because of {cause.id}")


async def test_each_event_carries_the_trace_context_of_the_message_that_caused_it_to_kafka(
    kit: tuple[Database, MessagingTables], kafka_bootstrap: str
) -> None:
    db, tables = kit
    await ensure_topics(kafka_bootstrap, [registry.BILLS])
    sender = KafkaSender(kafka_bootstrap, "kit-test")
    await sender.start()
    relay = OutboxRelay(db, tables, sender)
    first, second, untraced = command(), command(), command()
    batch = [
        (str(first.id), "t", 0, 1, [("traceparent", TRACE_A.encode())]),
        (str(second.id), "t", 0, 2, [("traceparent", TRACE_B.encode()), ("tracestate", b"k=v")]),
        (str(untraced.id), "t", 0, 3, None),
    ]
    try:
        # One batch, three causes: each event takes its own cause's context (tracing is off here, so
        # the context is passed on as it came).
        with tracing.consuming("kit.group", batch):
            async with UnitOfWork(db, tables, relay, source="kit-test") as uow:
                for cause in (first, second, untraced):
                    uow.publish(rejection(cause), key="k", subject="s", origin=Origin.of_message(cause))
        async with db.read() as session:
            stored = dict(
                (await session.execute(select(tables.outbox.c.payload, tables.outbox.c.headers))).all()
            )
        by_cause = {json.loads(payload)["causationid"]: headers for payload, headers in stored.items()}
        assert json.loads(by_cause[str(first.id)]) == {"traceparent": TRACE_A}
        assert json.loads(by_cause[str(second.id)]) == {"traceparent": TRACE_B, "tracestate": "k=v"}
        assert by_cause[str(untraced.id)] is None

        assert await relay.relay_once() == 3
        record = await find_record(
            kafka_bootstrap, registry.BILLS.name, lambda r: r.json().get("causationid") == str(second.id)
        )
        assert record.headers["traceparent"] == TRACE_B and record.headers["tracestate"] == "k=v"
        assert record.headers["content-type"].startswith("application/cloudevents+json")
    finally:
        await sender.stop()


async def test_outside_a_message_and_without_tracing_no_trace_headers_are_written() -> None:
    assert tracing.outbox_headers(None) is None
    assert tracing.outbox_headers(str(uuid.uuid4())) is None


async def test_log_lines_of_a_consumer_name_the_message_it_was_handling(kafka_bootstrap: str) -> None:
    topic = Topic(
        f"servicekit-tests.logs-{uuid.uuid4().hex[:10]}.v1",
        1,
        "contract id",
        "test topic",
        {"billing.bill.generate": GenerateBill},
    )
    await ensure_topics(kafka_bootstrap, [topic])
    seen: list[dict[str, Any]] = []

    async def handler(deliveries: Sequence[Delivery]) -> None:
        seen.append(logs.context())

    broker = make_broker(kafka_bootstrap, "servicekit-tests")
    Consumers(broker, "servicekit-tests").subscribe(topic, handler, name=f"logs-{uuid.uuid4().hex[:8]}")
    event = command()
    await produce(kafka_bootstrap, topic.name, event.to_json(), "k")
    await broker.start()
    try:
        await eventually(lambda: _true(bool(seen)))
    finally:
        await broker.stop()
    context = seen[0]
    assert context["topic"] == topic.name and context["consumer"].startswith("servicekit-tests.logs-")
    assert (context["partition"], context["offset"]) == (0, 0)
    assert context["message_id"] == str(event.id) and context["message_type"] == "billing.bill.generate"
    assert context["correlation_id"] == event.correlationid
    assert context["causation_id"] == event.causationid
    assert context["actor"] == "ann@example.com"


async def _true(value: bool) -> bool:
    return value


def test_json_lines_carry_what_is_bound_and_console_lines_stay_readable() -> None:
    record = logging.LogRecord("billing.x", logging.WARNING, __file__, 1, "dead-lettering %s", ("m",), None)
    with logs.bound(topic="billing.bills.v1", offset=7, correlation_id="c-1", actor=None):
        line = json.loads(logs.JsonFormatter("billing").format(record))
        readable = logs.ConsoleFormatter().format(record)
    assert (
        line["message"] == "dead-lettering m" and line["level"] == "warning" and line["service"] == "billing"
    )
    assert (line["topic"], line["offset"], line["correlation_id"]) == ("billing.bills.v1", 7, "c-1")
    assert "actor" not in line  # None values are left out
    assert datetime.fromisoformat(line["time"]).tzinfo == UTC
    assert (
        "WARNING billing.x: dead-lettering m  topic=billing.bills.v1 offset=7 correlation_id=c-1" in readable
    )
    outside = json.loads(logs.JsonFormatter("billing").format(record))
    assert "topic" not in outside  # the binding ended with its block
