"""The SQLite driver: a statement is one trip to aiosqlite's thread, and a transaction's BEGIN goes
with its first statement. SQLite only: it is SQLite's driver, whatever database the suite runs on."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from servicekit import sqlite_driver
from servicekit.db import Database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}")
    async with database.transaction() as session:
        await session.execute(text("CREATE TABLE things (name TEXT PRIMARY KEY)"))
    yield database
    await database.dispose()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of each function sent to a connection's thread, in order."""
    sent: list[str] = []
    execute = sqlite_driver.Connection._execute

    async def counted(self: sqlite_driver.Connection, function: Any, *args: Any) -> Any:
        sent.append(getattr(function, "__name__", repr(function)))
        return await execute(self, function, *args)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(sqlite_driver.Connection, "_execute", counted)
    return sent


def _names(path: str) -> list[str]:
    with sqlite3.connect(path) as other:
        return [name for (name,) in other.execute("SELECT name FROM things ORDER BY name")]


async def test_a_write_takes_a_trip_per_statement_and_one_to_commit_its_begin_going_with_the_first(
    db: Database, trips: list[str]
) -> None:
    async with db.transaction() as session:
        await session.execute(text("INSERT INTO things VALUES ('tea')"))
        await session.execute(text("INSERT INTO things VALUES ('milk')"))

    assert trips == ["_begun", "_begun", "commit"]
    assert _names(db.url.database or "") == ["milk", "tea"]


async def test_a_write_holds_the_database_from_its_first_statement_to_its_commit(db: Database) -> None:
    path = db.url.database or ""
    async with db.transaction() as session:
        await session.execute(text("INSERT INTO things VALUES ('tea')"))
        with (
            sqlite3.connect(path, timeout=0) as other,
            pytest.raises(sqlite3.OperationalError, match="locked"),
        ):
            other.execute("BEGIN IMMEDIATE")

    with sqlite3.connect(path, timeout=0) as other:
        other.execute("BEGIN IMMEDIATE")
        other.rollback()


async def test_a_transaction_that_ran_nothing_sends_nothing_and_the_next_one_begins_as_ever(
    db: Database, trips: list[str]
) -> None:
    async with db.transaction():
        pass
    async with db.read():
        pass
    assert trips == []

    async with db.transaction() as session:
        await session.execute(text("INSERT INTO things VALUES ('tea')"))
    assert trips == ["_begun", "commit"]


async def test_a_write_that_fails_is_rolled_back_whole(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            await session.execute(text("INSERT INTO things VALUES ('tea')"))
            raise RuntimeError("the use case broke a rule")

    async with db.transaction() as session:
        await session.execute(text("INSERT INTO things VALUES ('milk')"))
    assert _names(db.url.database or "") == ["milk"]


async def test_a_begin_that_fails_is_sent_again_so_nothing_after_it_commits_on_its_own(db: Database) -> None:
    """BEGIN IMMEDIATE goes with the first statement; when it fails (the database locked past the busy
    timeout), the next statement carries it again rather than running outside a transaction."""
    async with db.transaction() as session:
        await session.execute(text("PRAGMA busy_timeout=50"))  # this connection's, for the test's sake
    path = db.url.database or ""
    with sqlite3.connect(path, isolation_level=None) as other:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(RuntimeError, match="the use case"):
            async with db.transaction() as session:
                with pytest.raises(OperationalError, match="locked") as failed:
                    await session.execute(text("INSERT INTO things VALUES ('tea')"))
                assert any("while BEGIN IMMEDIATE" in note for note in failed.value.orig.__notes__)
                other.execute("ROLLBACK")
                await session.execute(text("INSERT INTO things VALUES ('milk')"))
                raise RuntimeError("the use case broke a rule")
    assert _names(path) == []


async def test_a_read_sees_one_snapshot_from_its_first_statement(db: Database) -> None:
    path = db.url.database or ""
    async with db.read() as session:
        before = (await session.execute(text("SELECT count(*) FROM things"))).scalar_one()
        with sqlite3.connect(path) as other:
            other.execute("INSERT INTO things VALUES ('tea')")
        again = (await session.execute(text("SELECT count(*) FROM things"))).scalar_one()

    assert (before, again) == (0, 0)
