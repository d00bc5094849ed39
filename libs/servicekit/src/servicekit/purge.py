"""What every service forgets in time: Idempotency-Key responses once they expire, inbox records once
the broker no longer holds the messages they guard against (nothing can be redelivered then), and
outbox rows some days after they were sent (the relay never reads a sent row again; they are kept for
looking into what went out).

Rows go a bounded number per transaction: SQLite has one writer, and a day of a busy service's rows
deleted at once would hold it, and every request and consumer behind it, for seconds."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Table, delete, select, tuple_

from servicekit.db import Database
from servicekit.tables import MessagingTables

PURGE_BATCH = 5000
"""Rows one purge transaction deletes at most."""


async def purge_expired(
    db: Database,
    tables: MessagingTables,
    *,
    now: datetime,
    keys_kept_for: timedelta,
    inbox_kept_for: timedelta,
    outbox_kept_for: timedelta,
    batch: int = PURGE_BATCH,
) -> int:
    """Delete expired idempotency keys, old inbox rows and outbox rows sent long enough ago; returns
    how many rows went."""
    keys, inbox, outbox = tables.idempotency, tables.inbox, tables.outbox
    gone = await _purge(db, keys, keys.c.created_at < now - keys_kept_for, batch)
    gone += await _purge(db, inbox, inbox.c.processed_at < now - inbox_kept_for, batch)
    # Sent rows are found by id, which the table is kept in, not by a timestamp no index holds: those
    # before the first row written since the cutoff. That first row is found by reading from the
    # oldest, the rows about to go.
    async with db.read() as session:
        first_kept = await session.scalar(
            select(outbox.c.id)
            .where(outbox.c.created_at >= now - outbox_kept_for)
            .order_by(outbox.c.id)
            .limit(1)
        )
    sent = outbox.c.published_at.is_not(None)
    return gone + await _purge(
        db, outbox, sent if first_kept is None else sent & (outbox.c.id < first_kept), batch
    )


async def _purge(db: Database, table: Table, expired: ColumnElement[bool], batch: int) -> int:
    """Delete the rows of `table` that are `expired`, `batch` at a time, each batch its own transaction."""
    key = tuple_(*table.primary_key.columns)
    gone = 0
    while True:
        async with db.transaction() as session:
            result = await session.execute(
                delete(table).where(key.in_(select(*table.primary_key.columns).where(expired).limit(batch)))
            )
        deleted = int(result.rowcount or 0)  # type: ignore[attr-defined]
        gone += deleted
        if deleted < batch:
            return gone
