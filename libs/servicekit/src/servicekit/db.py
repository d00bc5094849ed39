"""Database engines: SQLite (embedded default) tuned for one writer, PostgreSQL for production."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import orjson
from sqlalchemy import Row, Select, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from servicekit import sqlite_driver


class Database:
    """Engines, session factories, and the write serialisation SQLite needs.

    SQLite allows one writer at a time: writes in this process queue on an asyncio lock instead of
    spinning on SQLITE_BUSY, and go through their own engine whose transactions start with
    `BEGIN IMMEDIATE`, so a transaction never fails upgrading from read to write. Reads use a second
    engine with deferred transactions, which WAL lets run beside the writer. PostgreSQL needs neither.
    SQLite's driver is aiosqlite with a statement a trip to its thread (`servicekit.sqlite_driver`).
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if self.is_sqlite:
            self.engine = _sqlite_engine(url, echo=echo, begin="BEGIN IMMEDIATE")
            self.read_engine = _sqlite_engine(url, echo=echo, begin="BEGIN")
        else:
            self.engine = create_async_engine(
                url, echo=echo, pool_size=10, max_overflow=10, pool_pre_ping=True, **_JSON_CODEC
            )
            self.read_engine = self.engine
        self._writes = async_sessionmaker(self.engine, expire_on_commit=False)
        self._reads = async_sessionmaker(self.read_engine, expire_on_commit=False)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session in one write transaction: committed when the block ends, rolled back on error."""
        if self._write_lock is None:
            async with self._writes() as session, session.begin():
                yield session
            return
        async with self._write_lock, self._writes() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._reads() as session:
            yield session

    async def read_rows(self, statement: Select[Any]) -> Sequence[Row[Any]]:
        """The rows of one SELECT. On SQLite it runs outside a transaction (a statement is a snapshot
        of its own there): no BEGIN and no COMMIT, each a trip to the driver's thread that a busy
        event loop answers late. Elsewhere, in a transaction of its own."""
        async with self.read_engine.connect() as connection:
            if self.is_sqlite:
                await connection.execution_options(**{_NO_BEGIN: True})
            rows: Sequence[Row[Any]] = (await connection.execute(statement)).all()
            return rows

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()


WAL_CHECKPOINT_PAGES = 4000
"""SQLite's WAL is copied into the database once it holds this many pages (16 MB at 4 KB a page)."""

_NO_BEGIN = "servicekit_no_begin"
"""Execution option of `Database.read_rows`'s connections: SQLAlchemy begins, SQLite does not."""


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


_JSON_CODEC: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}
"""JSON columns (stored documents: entries, bills, contract copies) through orjson: the same JSON,
written and read several times faster than by the standard library."""


def _sqlite_engine(url: str, *, echo: bool, begin: str) -> AsyncEngine:
    engine = create_async_engine(
        url,
        echo=echo,
        connect_args={"timeout": 30, "async_creator_fn": sqlite_driver.connect},
        **_JSON_CODEC,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling is turned off so that the BEGIN below is ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # The commit that fills the WAL past this many pages copies it into the database and syncs
        # it, in the committer's time. At SQLite's 1,000 (4 MB) a consumer's batch of time entries
        # paid that on almost every commit (~25 ms of a ~45 ms transaction); at 4,000 one commit in
        # four pays it, coalescing the pages written again meanwhile (bench/README.md, fifth round).
        cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        if not connection.get_execution_options().get(_NO_BEGIN):
            # Sent with the transaction's first statement (`sqlite_driver`), not as one of its own.
            connection.connection.driver_connection.begin_with_next_statement(begin)

    return engine
