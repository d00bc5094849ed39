"""The hourly purge: what expired goes, a bounded number of rows per transaction; nothing else does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, insert, select

from servicekit.db import Database
from servicekit.purge import purge_expired
from servicekit.tables import MessagingTables

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def outbox_row(
    message_id: str, created_at: datetime, published_at: datetime | None, parked_at: datetime | None = None
) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "topic": "t",
        "key": "k",
        "payload": "{}",
        "created_at": created_at,
        "published_at": published_at,
        "parked_at": parked_at,
    }


async def test_the_purge_deletes_expired_keys_old_inbox_rows_and_long_sent_events_only(
    kit: tuple[Database, MessagingTables],
) -> None:
    db, tables = kit
    old, recent = NOW - 10 * DAY, NOW - DAY
    async with db.transaction() as session:
        await session.execute(
            insert(tables.idempotency),
            [
                {
                    "owner": "caller",
                    "key": f"{age}-{n}",
                    "request_fingerprint": "f",
                    "status_code": 201,
                    "response_body": b"{}",
                    "created_at": at,
                }
                for age, at in (("old", NOW - 2 * DAY), ("new", NOW - timedelta(hours=1)))
                for n in range(3)
            ],
        )
        await session.execute(
            insert(tables.inbox),
            [
                {"consumer": "c", "message_id": f"{age}-{n}", "processed_at": at}
                for age, at in (("old", old), ("new", recent))
                for n in range(4)
            ],
        )
        # In id order: old rows sent long ago, one parked and one not sent yet (a broker out of reach
        # for days), one parked for days and sent lately, then recent ones; after them, rows written
        # with older instants (PostgreSQL commits ids out of order).
        outbox_rows = [
            ("old-sent-1", old, NOW - 9 * DAY, None),
            ("old-parked", old, None, NOW - 9 * DAY),
            ("old-sent-2", old, NOW - 9 * DAY, None),
            ("old-unsent", old, None, None),
            ("old-sent-lately", old, recent, None),
            ("new-sent", recent, recent, None),
            ("new-unsent", recent, None, None),
            ("old-again-sent-lately", old, recent, None),
            ("old-again-sent-long-ago", old, NOW - 9 * DAY, None),
        ]
        await session.execute(insert(tables.outbox), [outbox_row(*row) for row in outbox_rows])

    deletes: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE"):
            deletes.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    gone = await purge_expired(
        db,
        tables,
        now=NOW,
        keys_kept_for=DAY,
        inbox_kept_for=7 * DAY,
        outbox_kept_for=7 * DAY,
        batch=2,
    )
    event.remove(db.engine.sync_engine, "before_cursor_execute", count)

    async with db.read() as session:
        keys = set(await session.scalars(select(tables.idempotency.c.key)))
        inbox = set(await session.scalars(select(tables.inbox.c.message_id)))
        outbox = set(await session.scalars(select(tables.outbox.c.message_id)))
    assert keys == {"new-0", "new-1", "new-2"}
    assert inbox == {"new-0", "new-1", "new-2", "new-3"}
    # Rows sent more than seven days ago go, up to the first row written since; the rest stay.
    assert outbox == {
        "old-parked",
        "old-unsent",
        "old-sent-lately",
        "new-sent",
        "new-unsent",
        "old-again-sent-lately",
        "old-again-sent-long-ago",
    }
    assert gone == 3 + 4 + 2
    # Two rows a transaction at most: keys 2 + 1, inbox 2 + 2 + 0, outbox 2 + 0.
    assert len(deletes) == 2 + 3 + 2
    assert (
        await purge_expired(
            db, tables, now=NOW, keys_kept_for=DAY, inbox_kept_for=7 * DAY, outbox_kept_for=7 * DAY
        )
        == 0
    )


async def test_with_no_recent_outbox_row_every_row_sent_before_the_cutoff_goes(
    kit: tuple[Database, MessagingTables],
) -> None:
    db, tables = kit
    async with db.transaction() as session:
        await session.execute(
            insert(tables.outbox),
            [
                outbox_row("sent", NOW - 30 * DAY, NOW - 30 * DAY),
                outbox_row("unsent", NOW - 30 * DAY, None),
                outbox_row("sent-lately", NOW - 30 * DAY, NOW - DAY),
            ],
        )
    gone = await purge_expired(
        db, tables, now=NOW, keys_kept_for=DAY, inbox_kept_for=DAY, outbox_kept_for=7 * DAY
    )
    async with db.read() as session:
        assert set(await session.scalars(select(tables.outbox.c.message_id))) == {"unsent", "sent-lately"}
    assert gone == 1
