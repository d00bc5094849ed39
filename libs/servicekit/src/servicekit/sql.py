"""Set-based writes that both SQLite and PostgreSQL understand."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from uuid import UUID
from weakref import WeakKeyDictionary

import orjson
from sqlalchemy import (
    ColumnElement,
    String,
    Table,
    Text,
    any_,
    bindparam,
    func,
    insert,
    literal,
    literal_column,
    select,
    type_coerce,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from servicekit import sqlite_driver


def is_postgresql(session: AsyncSession) -> bool:
    """Row locks and advisory locks are PostgreSQL's; SQLite has one writer at a time instead."""
    return session.bind is not None and session.bind.dialect.name == "postgresql"


def insert_on_conflict(session: AsyncSession) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (both dialects spell it the same way)."""
    return _insert_of("postgresql" if is_postgresql(session) else "sqlite")


def one_of(session: AsyncSession, column: ColumnElement[Any], values: Iterable[Any]) -> ColumnElement[bool]:
    """`column IN values`, with the values bound as one parameter: an array on PostgreSQL (`= ANY`), a
    JSON array that `json_each` reads on SQLite. The statement is the same whatever the number of
    values, so SQLAlchemy compiles it once and SQLite prepares it once; an IN list is expanded value by
    value on every execution (~1 µs a value) and is a new statement for SQLite at every new length."""
    listed = list(values)
    if is_postgresql(session):
        # An array of the column's type without its length: a cast to VARCHAR(n) would cut a longer
        # value down to one that matches.
        element = String() if isinstance(column.type, String) else column.type
        return column == any_(literal(listed, postgresql.ARRAY(element)))
    each = func.json_each(literal(_json_array(listed), Text))
    return column.in_(select(literal_column("value")).select_from(each))


@lru_cache(maxsize=20_000)
def id_text(value: UUID) -> str:
    """A UUID as stored (text), remembered: the same contract's id is written into a batch's queries
    several times, and `str(UUID)` costs ~1 µs in Python each time."""
    return str(value)


@lru_cache(maxsize=20_000)
def stored_id(text: str) -> UUID:
    """The UUID of an id read back as text, remembered (`UUID(text)` costs ~2 µs in Python)."""
    return same_id(UUID(text))


@lru_cache(maxsize=20_000)
def same_id(value: UUID) -> UUID:
    """One object for each id, the first one seen. A dict or set keyed by ids then finds an id by
    identity, before comparing: `UUID.__eq__` is Python (~0.3 µs), and a batch looks each contract's
    id up a dozen times an entry."""
    return value


def _insert_of(dialect_name: str) -> Any:
    return postgresql.insert if dialect_name == "postgresql" else sqlite.insert


def _replacing(
    statement: Any, table: Table, columns: Iterable[str], key: Sequence[str], newer_by: str | None
) -> Any:
    """`statement`, an INSERT of `columns`, made to replace the row that has its `key` (only by a
    higher `newer_by`, if given): `upsert`'s statement and `BulkInsert`'s with `replacing`."""
    return statement.on_conflict_do_update(
        index_elements=list(key),
        set_={name: statement.excluded[name] for name in columns if name not in key},
        where=table.c[newer_by] < statement.excluded[newer_by] if newer_by else None,
    )


def as_utc(instant: datetime) -> datetime:
    """Instants are stored in UTC. SQLite hands them back without a zone; they were UTC when written."""
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)


def instant_as_stored(column: ColumnElement[datetime]) -> ColumnElement[Any]:
    """An instant column (`DateTime(timezone=True)`) read as the driver hands it over, for
    `stored_instant`: SQLite's text, or PostgreSQL's datetime. For reads of thousands of rows, where
    SQLAlchemy's parsing and `as_utc`'s `replace` cost more than the rest of a row."""
    return type_coerce(column, Text)


def stored_instant(value: str | datetime) -> datetime:
    """The instant in UTC of a value read through `instant_as_stored`. SQLite's text is UTC written
    without a zone (SQLAlchemy's "YYYY-MM-DD HH:MM:SS.ffffff"), which `fromisoformat` reads with the
    zone put on, in one step."""
    if isinstance(value, str):
        return datetime.fromisoformat(value + "+00:00")
    return value.astimezone(UTC)


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
    statement = _replacing(insert_on_conflict(session)(table), table, rows[0], key, newer_by)
    await session.execute(statement, rows)


class BulkInsert:
    """An INSERT of many rows, each a tuple of `columns`' values, run by the driver's executemany.

    SQLAlchemy's own executemany makes a parameter set of each row and runs each value through its
    column's bind processor, row by row: on a batch of thousands of small rows that bookkeeping costs
    more than the database's work. Here the statement is compiled once per dialect and handed to the
    driver as it is; only the columns whose type the driver needs converted (instants as text on
    SQLite, say) are converted, by the same processors, and a value that is the very object of the row
    before (one `now` for a whole batch) is converted once. `encoded` names JSON columns whose values
    are given as JSON text already (a document serialised once for several rows): they are written as
    they are, on both dialects. A column with a Python-side default must be in `columns`: filling it in
    is SQLAlchemy's per-row work.

    With `replacing` (a unique key's columns) a row whose key is taken replaces the stored one, as
    `upsert` does: only by a higher `newer_by`, if given. Each row is its own execution, so rows of one
    key in one call are applied in turn (the newest stays, whatever their order, with `newer_by`).
    """

    def __init__(
        self,
        table: Table,
        columns: Sequence[str],
        *,
        encoded: Collection[str] = (),
        replacing: Sequence[str] = (),
        newer_by: str | None = None,
    ) -> None:
        self.table = table
        self.columns = tuple(columns)
        self._encoded = frozenset(encoded)
        self._replacing = tuple(replacing)
        self._newer_by = newer_by
        self._statement = insert(table).values({name: bindparam(name) for name in self.columns})
        bound = tuple(self._statement.compile().params)
        if bound != self.columns:
            raise ValueError(f"{table.name}: an INSERT of {self.columns} binds {bound}: name every column")
        # By dialect: an engine's dialect carries its JSON serialiser, which the JSON columns' processors use.
        self._compiled: WeakKeyDictionary[Dialect, tuple[str, list[tuple[int, Callable[[Any], Any]]]]] = (
            WeakKeyDictionary()
        )

    def _for(self, dialect: Dialect) -> tuple[str, list[tuple[int, Callable[[Any], Any]]]]:
        found = self._compiled.get(dialect)
        if found is None:
            compiled = self._dialect_statement(dialect).compile(dialect=dialect)
            if tuple(compiled.positiontup or ()) != self.columns:
                raise ValueError(f"{self.table.name}: {dialect.name} binds {compiled.positiontup}")
            converters: list[tuple[int, Callable[[Any], Any]]] = []
            for index, name in enumerate(self.columns):
                processor = self.table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
                if processor is not None and name not in self._encoded:
                    converters.append((index, processor))
            found = self._compiled[dialect] = (compiled.string, converters)
        return found

    def _dialect_statement(self, dialect: Dialect) -> Any:
        if not self._replacing:
            return self._statement
        statement = _insert_of(dialect.name)(self.table).values(
            {name: bindparam(name) for name in self.columns}
        )
        return _replacing(statement, self.table, self.columns, self._replacing, self._newer_by)

    async def execute(self, session: AsyncSession, rows: Iterable[Sequence[Any]]) -> None:
        """Insert the rows in the caller's transaction, in one executemany. On SQLite it goes to the
        driver itself: SQLAlchemy's execution of a statement it has no part in (compiled here, no
        result) cost more CPU than SQLite's work on a few dozen rows."""
        connection = await session.connection()
        statement, converters = self._for(connection.dialect)
        values = [tuple(row) for row in rows] if not converters else _converted(rows, converters)
        if not values:
            return
        await execute_compiled(connection, statement, values, many=True)


async def execute_compiled(
    connection: AsyncConnection, sql: str, parameters: Sequence[Any], *, many: bool = False
) -> None:
    """A statement already compiled for the connection's dialect, in the caller's transaction: on
    SQLite straight to the driver, in one trip and without SQLAlchemy's execution (nor its events, so
    `echo` does not show it); elsewhere through SQLAlchemy's driver-level execution. `many`: the
    parameters are a sequence of rows."""
    driver = sqlite_driver.driver_of(connection)
    if driver is None:
        await connection.exec_driver_sql(sql, parameters)
    else:
        await sqlite_driver.run(driver, sql, parameters, many=many)


def values_parameter(dialect: Dialect) -> Callable[[Sequence[Any]], Any]:
    """How many values travel as one parameter of a statement written for the dialect: an array on
    PostgreSQL (`= ANY($1)`, `unnest($1)`), a JSON array on SQLite (`json_each(?)`). One statement
    then serves a batch of any size, instead of a parameter per value rewritten for every batch."""
    return list if dialect.name == "postgresql" else _json_array


def _json_array(values: Sequence[Any]) -> str:
    return orjson.dumps(values).decode()


def _converted(
    rows: Iterable[Sequence[Any]], converters: list[tuple[int, Callable[[Any], Any]]]
) -> list[tuple[Any, ...]]:
    last: list[tuple[Any, Any]] = [(_NOTHING, None)] * len(converters)
    values = []
    for row in rows:
        converted = list(row)
        for position, (index, convert) in enumerate(converters):
            value = converted[index]
            before, done = last[position]
            if value is not before:
                done = convert(value)
                last[position] = (value, done)
            converted[index] = done
        values.append(tuple(converted))
    return values


_NOTHING = object()
