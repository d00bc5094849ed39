"""Set-based writes that both SQLite and PostgreSQL understand."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

# Both databases cap bound parameters per statement (SQLite 32766, asyncpg 32767).
_MAX_PARAMETERS = 30_000


async def upsert(
    session: AsyncSession,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    key: Sequence[str],
    newer_by: str | None = None,
) -> None:
    """Insert rows, replacing an existing row with the same key (only by a higher `newer_by`, if given)."""
    if not rows:
        return
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    columns = list(rows[0])
    chunk = max(1, _MAX_PARAMETERS // len(columns))
    for start in range(0, len(rows), chunk):
        statement = insert(table).values(list(rows[start : start + chunk]))
        replaced = {name: statement.excluded[name] for name in columns if name not in key}
        where = table.c[newer_by] < statement.excluded[newer_by] if newer_by else None
        await session.execute(
            statement.on_conflict_do_update(index_elements=list(key), set_=replaced, where=where)
        )
