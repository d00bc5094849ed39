"""The outbox relay and the inbox against a real database and the real broker."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select, text, update

from contracts_schema import CloudEvent, registry
from contracts_schema.billing import BillCommandRejected
from servicekit.db import Database
from servicekit.inbox import claim_unprocessed
from servicekit.kafka import KafkaSender, ensure_topics, make_broker
from servicekit.origin import Origin
from servicekit.outbox import OutboxRelay
from servicekit.tables import MessagingTables
from servicekit.uow import UnitOfWork
from tests.support.kafka import find_record


def rejection(reason: str) -> BillCommandRejected:
    return BillCommandRejected(contract_id=uuid.uuid4(), period="1", reason=reason)


async def test_relay_sends_committed_events_keyed_by_aggregate_and_marks_them_sent(
    kit: tuple[Database, MessagingTables], kafka_bootstrap: str
) -> None:
    db, tables = kit
    await ensure_topics(kafka_bootstrap, [registry.BILLS])
    broker = make_broker(kafka_bootstrap, "kit-test")
    await broker.connect()
    relay = OutboxRelay(db, tables, KafkaSender(broker))
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
    finally:
        await broker.stop()


async def test_work_that_fails_publishes_nothing(kit: tuple[Database, MessagingTables]) -> None:
    db, tables = kit
    with pytest.raises(RuntimeError):
        async with UnitOfWork(db, tables, None, source="kit-test") as uow:
            uow.publish(rejection("never"), key="k", subject="test", origin=Origin("tests"))
            raise RuntimeError("the change failed")
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(tables.outbox)) == 0


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
