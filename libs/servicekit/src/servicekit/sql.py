"""Set-based writes that both SQLite and PostgreSQL understand."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def is_postgresql(session: AsyncSession) -> bool:
    """Row locks and advisory locks are PostgreSQL's; SQLite has one writer at a time instead."""
    return session.bind is not None and session.bind.dialect.name == "postgresql"


def insert_on_conflict(session: AsyncSession) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (both dialects spell it the same way)."""
    return postgresql.insert if is_postgresql(session) else sqlite.insert


def as_utc(instant: datetime) -> datetime:
    """Instants are stored in UTC. SQLite hands them back without a zone; they were UTC when written."""
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)


async def upsert(
    session: AsyncSession,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    key: Sequence[str],
    newer_by: str | None = None,
) -> None:
    """Insert rows, replacing an existing row with the same key (only by a higher `newer_by`, if given).

    Rows with the same key in one call are reduced to the last (or newest) first: PostgreSQL refuses to
    update one row twice in a statement.
    """
    unique: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        row_key = tuple(row[name] for name in key)
        kept = unique.get(row_key)
        if kept is None or newer_by is None or kept[newer_by] <= row[newer_by]:
            unique[row_key] = row
    rows = list(unique.values())
    if not rows:
        return
    # One statement run with many rows: SQLAlchemy caches it, unlike a multi-row VALUES per batch.
    columns = list(rows[0])
    statement = insert_on_conflict(session)(table)
    replaced = {name: statement.excluded[name] for name in columns if name not in key}
    where = table.c[newer_by] < statement.excluded[newer_by] if newer_by else None
    await session.execute(
        statement.on_conflict_do_update(index_elements=list(key), set_=replaced, where=where), rows
    )
