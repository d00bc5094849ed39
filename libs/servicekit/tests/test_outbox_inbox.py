"""The outbox relay and the inbox against a real database and the real broker."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import aiosqlite
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from cloudevents.core.bindings import kafka as cloudevents_kafka
from sqlalchemy import func, insert, select, text, update

from contracts_schema import CloudEvent, Topic, registry
from contracts_schema.billing import BillCommandRejected
from servicekit import sqlite_driver
from servicekit.db import WAL_CHECKPOINT_PAGES, Database
from servicekit.inbox import claim_unprocessed
from servicekit.kafka import KafkaSender, ensure_topics
from servicekit.limits import EVENT_MAX_BYTES
from servicekit.origin import Origin
from servicekit.outbox import OutboxRelay, OutgoingMessage
from servicekit.tables import MessagingTables
from servicekit.uow import MessageTooLarge, UnitOfWork
from tests.support.kafka import Record, find_record


def rejection(reason: str) -> BillCommandRejected:
    return BillCommandRejected(contract_id=uuid.uuid4(), period="1", reason=reason)


async def test_relay_sends_committed_events_keyed_by_aggregate_and_marks_them_sent(
    kit: tuple[Database, MessagingTables], kafka_bootstrap: str
) -> None:
    db, tables = kit
    await ensure_topics(kafka_bootstrap, [registry.BILLS])
    sender = KafkaSender(kafka_bootstrap, "kit-test")
    await sender.start()
    relay = OutboxRelay(db, tables, sender)
    marker = uuid.uuid4().hex
    bodies = [rejection(f"{marker}-{n}") for n in range(3)]
    async with UnitOfWork(db, tables, relay, source="kit-test") as uow:
        for body in bodies:
            uow.publish(body, key=str(body.contract_id), subject="test", origin=Origin("tests"))
    try:
        assert await relay.pending_count() == 3
        assert await relay.relay_once() == 3
        assert await relay.pending_count() == 0
        assert await relay.relay_once() == 0
        for body in bodies:
            record = await find_record(
                kafka_bootstrap,
                registry.BILLS.name,
                lambda r, b=body: r.json()["data"].get("reason") == b.reason,
            )
            assert record.key == str(body.contract_id)
            assert record.headers["content-type"].startswith("application/cloudevents+json")
            event = CloudEvent.model_validate(record.json())
            assert event.type == "billing.bill.command_rejected" and event.source == "kit-test"
            # Failure 8 of issue 11: a `ce_` header made the CloudEvents SDK take it for binary mode.
            raw_headers = {name: value.encode() for name, value in record.headers.items()}
            read = cloudevents_kafka.from_kafka_event(
                cloudevents_kafka.KafkaMessage(headers=raw_headers, key=record.key, value=record.value)
            )
            assert not any(name.lower().startswith("ce_") for name in record.headers)
            assert (read.get_id(), read.get_type()) == (str(event.id), event.type)
            assert read.get_data()["reason"] == body.reason
    finally:
        await sender.stop()


async def test_work_that_fails_publishes_nothing(kit: tuple[Database, MessagingTables]) -> None:
    db, tables = kit
    with pytest.raises(RuntimeError):
        async with UnitOfWork(db, tables, None, source="kit-test") as uow:
            uow.publish(rejection("never"), key="k", subject="test", origin=Origin("tests"))
            raise RuntimeError("the change failed")
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(tables.outbox)) == 0


async def test_an_event_is_stored_as_the_cloudevent_its_body_wraps_into(
    kit: tuple[Database, MessagingTables],
) -> None:
    """The unit of work writes the envelope's JSON itself, without the model: the same JSON value as
    `CloudEvent.wrap(...).to_json()`, with the cause's ids and the actor carried over."""
    db, tables = kit
    cause = CloudEvent.wrap(rejection("cause"), source="elsewhere", subject="s", actor="ops")
    body = rejection('naïve ✓ "quoted"')
    async with UnitOfWork(db, tables, None, source="kit-test") as uow:
        uow.publish(body, key="k1", subject="contract/1", origin=Origin.of_message(cause))
        uow.publish(body, key="k2", subject="contract/2", origin=Origin("scheduler"))
    async with db.read() as session:
        rows = (await session.execute(select(tables.outbox).order_by(tables.outbox.c.id))).mappings().all()
    for row, (origin, subject) in zip(
        rows, [(Origin.of_message(cause), "contract/1"), (Origin("scheduler"), "contract/2")], strict=True
    ):
        stored = json.loads(row["payload"])
        event = CloudEvent.model_validate(stored)
        wrapped = CloudEvent.wrap(
            body,
            source="kit-test",
            subject=subject,
            actor=origin.actor,
            correlationid=origin.cause.correlationid if origin.cause else None,
            causationid=str(origin.cause.id) if origin.cause else None,
            event_id=event.id,
            time=event.time,
        )
        assert stored == json.loads(wrapped.to_json())
        assert row["message_id"] == str(event.id) and row["topic"] == registry.BILLS.name
        assert event.id.version == 4 and event.id.variant == uuid.RFC_4122
    first, second = (json.loads(row["payload"]) for row in rows)
    assert (first["correlationid"], first["causationid"]) == (cause.correlationid, str(cause.id))
    assert (second["correlationid"], second["causationid"]) == (second["id"], None)


async def test_a_row_that_commits_after_a_newer_one_was_sent_is_still_sent(
    kit: tuple[Database, MessagingTables],
) -> None:
    """On PostgreSQL ids are taken before commit; a relay that reads "id > last sent" skips rows."""
    db, tables = kit
    sent: list[str] = []

    class Recorder:
        async def send_all(self, messages):  # type: ignore[no-untyped-def]
            sent.extend(message.message_id for message in messages)

    now = datetime.now(UTC)
    async with db.transaction() as session:
        for row_id, published in ((5, None), (6, now)):
            await session.execute(
                insert(tables.outbox).values(
                    id=row_id,
                    message_id=f"m{row_id}",
                    topic="t",
                    key="k",
                    payload="{}",
                    created_at=now,
                    published_at=published,
                )
            )
    relay = OutboxRelay(db, tables, Recorder())
    assert await relay.relay_once() == 1
    assert sent == ["m5"]


async def test_on_sqlite_a_relay_cycle_reads_the_outbox_in_one_trip(
    kit: tuple[Database, MessagingTables], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each trip to aiosqlite's thread waits for the event loop, which a consumer's batch keeps busy:
    the relay reads its batch (and which keys wait behind a parked row) in one statement, with no BEGIN
    or COMMIT around it."""
    db, tables = kit
    if not db.is_sqlite:
        pytest.skip("trips to a driver thread are SQLite's")

    class Recorder:
        async def send_all(self, messages):  # type: ignore[no-untyped-def]
            pass

    relay = OutboxRelay(db, tables, Recorder())
    assert await relay.relay_once() == 0  # the read engine's connection is open before counting
    await _write_rows(db, tables, "t", [("m1", "k1", 10), ("m2", "k2", 10)])
    trips: list[str] = []
    original = aiosqlite.Connection._execute

    async def counted(self, function, *args, **kwargs):  # type: ignore[no-untyped-def]
        # A statement's trip runs `_begun(connection, begin, statement_function, sql, ...)`.
        begin, sql = (args[1], args[3]) if function is sqlite_driver._begun else (None, function.__name__)
        trips.append(f"{begin}; {sql}" if begin else sql)
        return await original(self, function, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    assert await relay.relay_once() == 2
    marking = next(n for n, trip in enumerate(trips) if trip.startswith("BEGIN IMMEDIATE"))
    assert len(trips[:marking]) == 1, trips[:marking]
    assert "parked" in trips[0] and "FROM outbox" in trips[0] and not trips[0].startswith("BEGIN")


async def test_the_relay_stops_when_cancelled_as_a_commit_wakes_it(
    kit: tuple[Database, MessagingTables],
) -> None:
    """A service stopping just after a commit: the wake-up and the cancellation arrive together."""
    db, tables = kit

    class Nothing:
        async def send_all(self, messages):  # type: ignore[no-untyped-def]
            pass

    relay = OutboxRelay(db, tables, Nothing(), poll_seconds=30)
    running = asyncio.create_task(relay.run())
    await asyncio.sleep(0.2)  # idle, waiting to be woken

    relay.wake()
    running.cancel()

    done, _ = await asyncio.wait({running}, timeout=5)
    assert running in done and running.cancelled()


async def test_the_inbox_lets_a_message_through_once(kit: tuple[Database, MessagingTables]) -> None:
    db, tables = kit
    async with db.transaction() as session:
        first = await claim_unprocessed(session, tables, "billing.usage", ["a", "b", "a"])
    async with db.transaction() as session:
        again = await claim_unprocessed(session, tables, "billing.usage", ["b", "c"])
        other_consumer = await claim_unprocessed(session, tables, "contracts.view", ["b"])
    assert first == {"a", "b"}
    assert again == {"c"}
    assert other_consumer == {"b"}


async def test_a_rolled_back_claim_lets_the_redelivery_through(kit: tuple[Database, MessagingTables]) -> None:
    db, tables = kit
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            await claim_unprocessed(session, tables, "billing.usage", ["x"])
            raise RuntimeError("the effect failed")
    async with db.transaction() as session:
        assert await claim_unprocessed(session, tables, "billing.usage", ["x"]) == {"x"}


async def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(kit: tuple[Database, MessagingTables]) -> None:
    db, _ = kit
    if not db.is_sqlite:
        pytest.skip("SQLite-only settings")
    async with db.read() as session:
        assert (await session.scalar(text("PRAGMA journal_mode"))) == "wal"
        assert (await session.scalar(text("PRAGMA busy_timeout"))) == 30000
        assert (await session.scalar(text("PRAGMA synchronous"))) == 1  # NORMAL: a commit survives a crash
    async with db.transaction() as session:
        assert (await session.scalar(text("PRAGMA wal_autocheckpoint"))) == WAL_CHECKPOINT_PAGES


async def test_concurrent_writers_do_not_fail_on_a_busy_database(
    kit: tuple[Database, MessagingTables],
) -> None:
    import asyncio

    db, tables = kit
    now = datetime.now(UTC)

    async def write(n: int) -> None:
        async with db.transaction() as session:
            await session.execute(
                insert(tables.outbox).values(
                    message_id=f"c{n}", topic="t", key="k", payload="{}", created_at=now
                )
            )
            await session.execute(
                update(tables.outbox).where(tables.outbox.c.message_id == f"c{n}").values(key="k2")
            )

    await asyncio.gather(*(write(n) for n in range(50)))
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(tables.outbox)) == 50


async def test_a_change_whose_event_would_not_fit_a_kafka_record_is_refused_whole(
    kit: tuple[Database, MessagingTables],
) -> None:
    db, tables = kit
    with pytest.raises(MessageTooLarge, match="more than"):
        async with UnitOfWork(db, tables, None, source="kit-test") as uow:
            uow.publish(rejection("x" * EVENT_MAX_BYTES), key="k", subject="test", origin=Origin("tests"))
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(tables.outbox)) == 0


async def _write_rows(
    db: Database, tables: MessagingTables, topic: str, rows: list[tuple[str, str, int]]
) -> None:
    """Outbox rows (message id, key, payload size) written as an older release might have left them."""
    now = datetime.now(UTC)
    async with db.transaction() as session:
        for message_id, key, size in rows:
            event = CloudEvent.wrap(rejection("y" * size), source="kit-test", subject="test", actor="tests")
            await session.execute(
                insert(tables.outbox).values(
                    message_id=message_id,
                    topic=topic,
                    key=key,
                    payload=event.to_json().decode(),
                    created_at=now,
                )
            )


async def test_an_event_kafka_will_not_take_is_parked_with_the_rest_of_its_key_and_other_keys_go_on(
    kit: tuple[Database, MessagingTables], kafka_bootstrap: str
) -> None:
    """Failure 1 of issue 11: one oversized event stopped the relay for good, even after a restart."""
    db, tables = kit
    probe = Topic(f"servicekit-tests.outbox-{uuid.uuid4().hex[:12]}.v1", 1, "k", "test", {})
    await ensure_topics(kafka_bootstrap, [probe])
    sender = KafkaSender(kafka_bootstrap, "kit-test")
    await sender.start()
    relay = OutboxRelay(db, tables, sender)
    run = uuid.uuid4().hex[:8]
    await _write_rows(
        db,
        tables,
        probe.name,
        [
            (f"{run}-big", "contract-1", EVENT_MAX_BYTES + 10),  # too large for a record of ours
            (f"{run}-after-big", "contract-1", 10),  # the same aggregate: must not overtake it
            (f"{run}-other", "contract-2", 10),  # another aggregate: goes on
        ],
    )
    try:
        assert await relay.relay_once() == 3
        await _write_rows(
            db, tables, probe.name, [(f"{run}-later", "contract-1", 10), (f"{run}-next", "contract-2", 10)]
        )
        assert await relay.relay_once() == 2  # a restart changes nothing: the parked rows stay out of the way
        assert await relay.relay_once() == 0
        backlog = await relay.backlog()
        other = await find_record(kafka_bootstrap, probe.name, lambda r: r.key == "contract-2")
    finally:
        await sender.stop()

    assert (backlog.pending, backlog.parked) == (0, 3)
    assert json.loads(other.value)["id"]
    async with db.read() as session:
        rows = (
            await session.execute(
                select(
                    tables.outbox.c.message_id, tables.outbox.c.published_at, tables.outbox.c.parked_reason
                ).order_by(tables.outbox.c.id)
            )
        ).all()
    state = {
        row.message_id.removeprefix(f"{run}-"): (row.published_at is not None, row.parked_reason)
        for row in rows
    }
    assert state["other"][0] and state["next"][0]
    assert "more than the" in (state["big"][1] or "")
    assert "waits behind event" in (state["after-big"][1] or "") and "waits behind" in (
        state["later"][1] or ""
    )


async def test_a_parked_event_is_sent_in_its_order_once_released_after_the_cause_is_fixed(
    kit: tuple[Database, MessagingTables], kafka_bootstrap: str
) -> None:
    """Kafka itself refuses the record (a topic whose limit is below ours): the relay parks it, later
    rows of its key wait behind it, other keys go on; once the topic takes it and the rows are
    released, they are sent in their order."""
    db, tables = kit
    name = f"servicekit-tests.small-{uuid.uuid4().hex[:12]}.v1"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(name, 1, 1, topic_configs={"max.message.bytes": "20000"})])
    sender = KafkaSender(kafka_bootstrap, "kit-test")
    await sender.start()
    relay = OutboxRelay(db, tables, sender)
    try:
        await _write_rows(db, tables, name, [("m-big", "k1", 30_000)])
        assert await relay.relay_once() == 1
        await _write_rows(db, tables, name, [("m-small", "k1", 10), ("m-else", "k2", 10)])
        assert await relay.relay_once() == 2
        assert (await relay.backlog()).parked == 2
        await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name, configs={"max.message.bytes": "100000"})]
        )
        assert await relay.release_parked() == 2
        assert await relay.relay_once() == 2
        seen: list[str] = []

        def in_order(record: Record) -> bool:
            seen.append(json.loads(record.value)["id"])
            return len(seen) == 3

        await find_record(kafka_bootstrap, name, in_order)
    finally:
        await sender.stop()
        await admin.close()
    async with db.read() as session:
        ids = dict((await session.execute(select(tables.outbox.c.message_id, tables.outbox.c.payload))).all())
    assert seen == [json.loads(ids[m])["id"] for m in ("m-else", "m-big", "m-small")]
    assert (await relay.backlog()).parked == 0


async def test_rows_of_a_topic_with_no_metadata_cost_one_timeout_and_hold_no_other_topic_back(
    kafka_bootstrap: str,
) -> None:
    """A missing topic (the broker creates none by itself) gives no metadata: each of its rows used to
    wait the whole request timeout in turn, holding every row behind it for that long; then the wait,
    asked up front, held every other topic's rows for one timeout a cycle."""
    present = Topic(f"servicekit-tests.present-{uuid.uuid4().hex[:12]}.v1", 1, "k", "test", {})
    await ensure_topics(kafka_bootstrap, [present])
    missing = f"servicekit-tests.missing-{uuid.uuid4().hex[:12]}.v1"
    timeout_s = 4.0
    sender = KafkaSender(kafka_bootstrap, "kit-test", request_timeout_ms=int(timeout_s * 1000))
    await sender.start()
    await sender.send_all([OutgoingMessage("warm-up", present.name, "k", b"{}")])  # its metadata known
    messages = [
        OutgoingMessage(f"m{index}", topic, f"k{index}", b"{}")
        for index in range(8)
        for topic in [missing if index % 2 else present.name]
    ]
    loop = asyncio.get_running_loop()
    try:
        started = loop.time()
        sending = asyncio.create_task(sender.send_all(messages))
        await find_record(kafka_bootstrap, present.name, lambda record: record.key == "k0", timeout=30)
        first_sent = loop.time() - started
        outcomes = await sending
        took = loop.time() - started
    finally:
        await sender.stop()
    assert [outcome is None for outcome in outcomes] == [index % 2 == 0 for index in range(8)]
    assert first_sent < 0.75 * timeout_s  # not held behind the missing topic's wait
    assert took < 2.5 * timeout_s  # one wait for the missing topic, not one per row (four rows: 16 s)


async def test_a_relay_cycle_reads_no_more_payload_than_its_budget_and_always_at_least_one_row(
    kit: tuple[Database, MessagingTables],
) -> None:
    """A backlog of large events (a bill's entry list can be most of a megabyte) must not be read two
    thousand rows at a time."""
    db, tables = kit

    class Recorder:
        def __init__(self) -> None:
            self.batches: list[list[str]] = []

        async def send_all(self, messages: list[OutgoingMessage]) -> list[BaseException | None]:
            self.batches.append([message.message_id for message in messages])
            return [None] * len(messages)

    run = uuid.uuid4().hex[:8]
    await _write_rows(db, tables, "t", [(f"{run}-{n}", "k", 10_000) for n in range(5)])
    sender = Recorder()
    relay = OutboxRelay(db, tables, sender, batch_chars=25_000)  # each row is over 10,000 characters

    while await relay.relay_once():
        pass

    assert [len(batch) for batch in sender.batches] == [3, 2]  # the third crosses the budget, and goes
    assert [m for batch in sender.batches for m in batch] == [f"{run}-{n}" for n in range(5)]
