"""Idempotent inbox: a consumer records each message id in the transaction that applies it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.sql import values_parameter
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
    connection = await session.connection()
    statement, ids_param, instant_param = _claim(connection.dialect, tables.inbox)
    now = datetime.now(UTC)
    result = await connection.exec_driver_sql(statement, (consumer, ids_param(ids), instant_param(now)))
    return set(result.scalars().all())


_Claim = tuple[str, Callable[[list[str]], Any], Callable[[datetime], Any]]
_CLAIMS: dict[tuple[str, Table], _Claim] = {}


def _claim(dialect: Dialect, inbox: Table) -> _Claim:
    """One statement for the whole batch, whatever its size: the ids travel as one parameter, an array
    on PostgreSQL, a JSON array on SQLite (json_each), and RETURNING names the rows that were new. An
    INSERT run for each id, as SQLAlchemy's executemany does, spent more on each id's parameters than
    the database spent on its row. The parameters: the consumer, the ids, the time."""
    found = _CLAIMS.get((dialect.name, inbox))
    if found is not None:
        return found
    table = dialect.identifier_preparer.format_table(inbox)
    if dialect.name == "postgresql":
        rows = "SELECT $1::varchar, unnest($2::varchar[]), $3::timestamptz"
    else:
        rows = "SELECT ?1, value, ?3 FROM json_each(?2) WHERE true"  # WHERE: SQLite's parser needs it here
    processor = inbox.c.processed_at.type.dialect_impl(dialect).bind_processor(dialect)
    statement = (
        f"INSERT INTO {table} (consumer, message_id, processed_at) {rows} "
        "ON CONFLICT DO NOTHING RETURNING message_id"
    )
    found = _CLAIMS[dialect.name, inbox] = (statement, values_parameter(dialect), processor or _as_it_is)
    return found


def _as_it_is(value: datetime) -> datetime:
    return value
