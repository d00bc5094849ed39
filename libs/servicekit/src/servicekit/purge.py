"""What every service forgets in time: Idempotency-Key responses once they expire, inbox records once
the broker no longer holds the messages they guard against (nothing can be redelivered then), and
outbox rows some days after they were sent (the relay never reads a sent row again; they are kept for
looking into what went out). Every row is stamped by the wall clock, and so is `now`.

Rows go a bounded number per transaction: SQLite has one writer, and a day of a busy service's rows
deleted at once would hold it, and every request and consumer behind it, for seconds."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Table, delete, func, select, tuple_

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
    # A row goes once it was sent before the cutoff: one parked for days and sent only lately stays,
    # and so does one sent while this runs. The rows are looked for by id, the order the table is kept
    # in, rather than by a timestamp no index holds: before the first row written since the cutoff (or
    # up to the last row, when there is none), so the scan stays among the old rows.
    cutoff = now - outbox_kept_for
    first_kept = (
        select(outbox.c.id).where(outbox.c.created_at >= cutoff).order_by(outbox.c.id).limit(1)
    ).scalar_subquery()
    async with db.read() as session:
        bounds = (await session.execute(select(first_kept, func.max(outbox.c.id)))).one()
    upto = bounds[0] if bounds[0] is not None else (bounds[1] or 0) + 1
    sent_long_ago = (outbox.c.id < upto) & (outbox.c.published_at < cutoff)
    return gone + await _purge(db, outbox, sent_long_ago, batch)


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
