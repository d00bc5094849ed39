"""aiosqlite, one trip to its thread per statement.

aiosqlite runs each call on a sqlite3 connection in a thread of its own, and each call is a trip there
and back: the statement handed over, the thread woken, the answer handed back through the event
loop's self-pipe (some 20 µs of CPU, whatever the statement). Through SQLAlchemy a statement took
four of them (open a cursor, execute, fetch the rows, close the cursor) and a session's end a fifth
(the pool's ROLLBACK, asked even after a COMMIT). Here a cursor does all of a statement in one trip,
keeping the rows it read (SQLAlchemy reads every row of a result at once anyway), and a ROLLBACK with
no transaction open is not sent (sqlite3 would not send it either: it checks the same flag, in the
thread); nor is a COMMIT. A write of a dozen statements takes a dozen trips instead of some forty.

A transaction's BEGIN (ours: `servicekit.db` sends `BEGIN IMMEDIATE` for writes) travels with its first
statement, in that statement's trip, rather than as a statement of its own: through SQLAlchemy a
statement costs some 100-200 µs of CPU whatever it does, and every transaction began with one. A
transaction that ends before any statement has nothing to commit or roll back, and sends nothing.

`connect_args={"async_creator_fn": connect}` makes SQLAlchemy's aiosqlite dialect use it, with the
arguments it takes from the URL.

It leans on what is not aiosqlite's public interface: a connection's `_execute` (a call in its thread),
`_conn` and `_connection` (the sqlite3 connection) and `_thread`, as aiosqlite 0.22 has them, and on
SQLAlchemy 2.1's adapter taking `cursor()` without awaiting it. servicekit's pyproject asks for those
versions at least, and the integration tests run every statement of the three services through it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import aiosqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

_Outcome = tuple[Any, int, int | None, list[Any]]
"""A statement's description, rowcount, lastrowid and rows."""


def driver_of(connection: AsyncConnection) -> Connection | None:
    """The driver connection under SQLAlchemy's when it is this driver's (SQLite), else None."""
    driver = connection.sync_connection.connection.driver_connection if connection.sync_connection else None
    return driver if isinstance(driver, Connection) else None


async def run(connection: Connection, sql: str, parameters: Sequence[Any], *, many: bool = False) -> None:
    """`sql` run once (`many`: with each of `parameters`), in one trip, without SQLAlchemy's execution
    (its events included); a failure is raised as SQLAlchemy would raise it (`IntegrityError`, ...)."""
    try:
        await connection.trip(_executemany if many else _execute, sql, parameters)
    except sqlite3.Error as error:
        raise DBAPIError.instance(sql, parameters, error, sqlite3.Error, ismulti=many) from error


def connect(database: str, **kwargs: Any) -> Connection:
    """`aiosqlite.connect`, with cursors of one trip per statement."""
    connection = Connection(lambda: sqlite3.connect(database, **kwargs), iter_chunk_size=64)
    connection._thread.daemon = True  # as SQLAlchemy makes aiosqlite's: it must not hold up an exit
    return connection


class Connection(aiosqlite.Connection):
    _begin: str | None = None
    """The BEGIN to send before the next statement, in its trip (`begin_with_next_statement`)."""

    def cursor(self) -> Cursor:  # type: ignore[override]
        return Cursor(self)

    def begin_with_next_statement(self, begin: str) -> None:
        """Send `begin` (`BEGIN`, `BEGIN IMMEDIATE`) in the trip of the next statement."""
        self._begin = begin

    async def trip(self, function: Callable[..., _Outcome], *args: Any) -> _Outcome:
        """`function(sqlite3_connection, *args)` in the connection's thread, after the BEGIN pending."""
        begin, self._begin = self._begin, None
        try:
            outcome: _Outcome = await self._execute(_begun, self._conn, begin, function, *args)  # type: ignore[no-untyped-call]
        except sqlite3.Error:
            if begin is not None and self._outside_a_transaction():
                # The BEGIN itself failed (the database locked past the busy timeout): the transaction
                # has still to begin, or the statements after this one would each commit on their own.
                self._begin = begin
            raise
        return outcome

    async def commit(self) -> None:
        if self._begin is not None:
            self._begin = None  # no statement since BEGIN: nothing to commit, no trip
            return
        if self._outside_a_transaction():
            return  # nothing to commit (a read outside a transaction, `Database.read_rows`): no trip
        await super().commit()

    async def rollback(self) -> None:
        self._begin = None
        if self._outside_a_transaction():
            return  # nothing to roll back: no trip (SQLAlchemy's pool asks after every COMMIT)
        await super().rollback()

    def _outside_a_transaction(self) -> bool:
        # sqlite3 checks the same flag in the thread and sends nothing either.
        connection = self._connection
        return connection is not None and not connection.in_transaction


class Cursor:
    """What SQLAlchemy's aiosqlite adapter uses of a cursor; the sqlite3 cursor lives only in the
    thread, for the one trip of a statement."""

    arraysize = 1

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: list[Any] = []

    async def __aenter__(self) -> Cursor:
        return self

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> Cursor:
        self._keep(await self._connection.trip(_execute, sql, parameters or ()))
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> Cursor:
        self._keep(await self._connection.trip(_executemany, sql, parameters))
        return self

    def _keep(self, outcome: _Outcome) -> None:
        self.description, self.rowcount, self.lastrowid, self._rows = outcome

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        size = self.arraysize if size is None else size
        rows, self._rows = self._rows[:size], self._rows[size:]
        return rows

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def close(self) -> None:
        self._rows = []


def _begun(
    connection: sqlite3.Connection, begin: str | None, function: Callable[..., _Outcome], *args: Any
) -> _Outcome:
    if begin is not None:
        try:
            connection.execute(begin)
        except sqlite3.Error as error:
            error.add_note(f"while {begin}, before the statement")  # not the statement's own failure
            raise
    return function(connection, *args)


def _execute(connection: sqlite3.Connection, sql: str, parameters: Sequence[Any]) -> _Outcome:
    return _on_a_cursor(connection, lambda cursor: cursor.execute(sql, parameters))


def _executemany(connection: sqlite3.Connection, sql: str, parameters: Iterable[Sequence[Any]]) -> _Outcome:
    return _on_a_cursor(connection, lambda cursor: cursor.executemany(sql, parameters))


def _on_a_cursor(connection: sqlite3.Connection, run: Callable[[sqlite3.Cursor], object]) -> _Outcome:
    cursor = connection.cursor()
    try:
        run(cursor)
        return _outcome(cursor)
    finally:
        cursor.close()


def _outcome(cursor: sqlite3.Cursor) -> _Outcome:
    rows = cursor.fetchall() if cursor.description is not None else []
    return cursor.description, cursor.rowcount, cursor.lastrowid, rows
