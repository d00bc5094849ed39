"""What every service forgets in time: Idempotency-Key responses once they expire, and inbox records
once the broker no longer holds the messages they guard against (nothing can be redelivered then)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete

from servicekit.db import Database
from servicekit.tables import MessagingTables


async def purge_expired(
    db: Database,
    tables: MessagingTables,
    *,
    now: datetime,
    keys_kept_for: timedelta,
    inbox_kept_for: timedelta,
) -> int:
    """Delete expired idempotency keys and old inbox rows; returns how many rows went."""
    async with db.transaction() as session:
        keys = await session.execute(
            delete(tables.idempotency).where(tables.idempotency.c.created_at < now - keys_kept_for)
        )
        inbox = await session.execute(
            delete(tables.inbox).where(tables.inbox.c.processed_at < now - inbox_kept_for)
        )
    return int(keys.rowcount or 0) + int(inbox.rowcount or 0)  # type: ignore[attr-defined]
