"""Idempotent inbox: a consumer records each message id in the transaction that applies it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.sql import insert_on_conflict
from servicekit.tables import MessagingTables


async def claim_unprocessed(
    session: AsyncSession, tables: MessagingTables, consumer: str, message_ids: Iterable[str]
) -> set[str]:
    """Record the ids as processed by `consumer`; return those not processed before.

    Runs in the caller's transaction, so a rollback un-records them and a redelivery applies them then.
    """
    ids = list(dict.fromkeys(message_ids))
    if not ids:
        return set()
    now = datetime.now(UTC)
    insert = insert_on_conflict(session)
    # One cached statement run with many rows; RETURNING names the rows that were new.
    statement = insert(tables.inbox).on_conflict_do_nothing().returning(tables.inbox.c.message_id)
    result = await session.execute(
        statement, [{"consumer": consumer, "message_id": mid, "processed_at": now} for mid in ids]
    )
    return set(result.scalars().all())
