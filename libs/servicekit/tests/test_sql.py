"""Set-based writes against a real database: a driver-level bulk insert stores what SQLAlchemy's does."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import orjson
import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError

from servicekit.db import Database
from servicekit.sql import (
    BulkInsert,
    as_utc,
    id_text,
    instant_as_stored,
    one_of,
    same_id,
    stored_id,
    stored_instant,
)

metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("thing_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(50), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("done", Boolean, nullable=False),
    Column("amount", Numeric(18, 6), nullable=True),
    Column("document", JSON, nullable=True),
    Column("extra", JSON, nullable=True),
)
COLUMNS = ("name", "at", "done", "amount", "document", "extra")


@asynccontextmanager
async def fresh_database(url: str, tables: MetaData = metadata) -> AsyncIterator[Database]:
    """A database at `url` with `tables` created, disposed of after."""
    db = Database(url)
    async with db.engine.begin() as connection:
        await connection.run_sync(tables.create_all)
    try:
        yield db
    finally:
        await db.dispose()


async def test_a_bulk_insert_stores_rows_as_sqlalchemy_would(database_url: Callable[[str], str]) -> None:
    now = datetime(2026, 3, 1, 9, 30, 15, 250000, tzinfo=UTC)
    rows: list[tuple[Any, ...]] = [
        (f"thing-{n}", now if n % 2 else now + timedelta(minutes=n), n % 3 == 0, amount, document, None)
        for n, amount, document in [
            (0, Decimal("12.50"), {"n": 0, "nested": {"list": [1, "two"]}}),
            (1, None, None),
            (2, Decimal("0.000001"), {"text": 'naïve ✓ "quoted"'}),
            (3, Decimal("999999.5"), {}),
        ]
    ]
    async with fresh_database(database_url("bulk")) as db:
        async with db.transaction() as session:
            await session.execute(insert(things), [dict(zip(COLUMNS, row, strict=True)) for row in rows])
            await BulkInsert(things, COLUMNS, encoded=["document"]).execute(
                session, [(*row[:4], orjson.dumps(row[4]).decode(), row[5]) for row in rows]
            )
            await BulkInsert(things, COLUMNS).execute(session, [])  # nothing to insert: no statement
        async with db.read() as session:
            stored = (await session.execute(select(things).order_by(things.c.thing_id))).all()
            raw = (await session.execute(select(things.c.at.cast(String), things.c.extra.cast(String)))).all()
        by_sqlalchemy, by_driver = stored[: len(rows)], stored[len(rows) :]
        assert [row[1:] for row in by_driver] == [row[1:] for row in by_sqlalchemy]
        # The same text in the columns, not only the same values read back: a search compares it.
        assert raw[len(rows) :] == raw[: len(rows)]


def test_a_bulk_insert_refuses_a_table_whose_left_out_columns_have_defaults() -> None:
    defaults = Table(
        "defaults", MetaData(), Column("a", Integer, primary_key=True), Column("b", Boolean, default=False)
    )
    with pytest.raises(ValueError, match="name every column"):
        BulkInsert(defaults, ["a"])


async def test_a_replacing_bulk_insert_keeps_the_newest_version_of_each_key(
    database_url: Callable[[str], str],
) -> None:
    versioned = Table(
        "versioned",
        MetaData(),
        Column("key", String(10), primary_key=True),
        Column("version", Integer, nullable=False),
        Column("at", DateTime(timezone=True), nullable=False),
    )
    at = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    write = BulkInsert(versioned, ["key", "version", "at"], replacing=["key"], newer_by="version")
    async with fresh_database(database_url("bulk_replacing"), versioned.metadata) as db:
        async with db.transaction() as session:
            await write.execute(session, [("a", 2, at), ("b", 1, at)])
        async with db.transaction() as session:
            # a: an older version arrives late and changes nothing; b: two newer ones in one call,
            # out of order, the newest stays; c: new.
            later = at + timedelta(days=1)
            await write.execute(session, [("a", 1, later), ("b", 3, later), ("b", 2, at), ("c", 1, later)])
        async with db.read() as session:
            stored = (await session.execute(select(versioned).order_by(versioned.c.key))).all()
        assert [(key, version, at_.replace(tzinfo=UTC)) for key, version, at_ in stored] == [
            ("a", 2, at),
            ("b", 3, at + timedelta(days=1)),
            ("c", 1, at + timedelta(days=1)),
        ]


async def test_an_instant_read_as_stored_is_the_instant_sqlalchemy_reads(
    database_url: Callable[[str], str],
) -> None:
    instants = [
        datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
        datetime(2026, 3, 1, 9, 30, 15, 250000, tzinfo=UTC),
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ]
    async with fresh_database(database_url("instants")) as db:
        async with db.transaction() as session:
            await session.execute(insert(things), [{"name": "t", "at": at, "done": True} for at in instants])
        async with db.read() as session:
            rows = (
                await session.execute(
                    select(things.c.at, instant_as_stored(things.c.at)).order_by(things.c.thing_id)
                )
            ).all()
        read = [stored_instant(value) for _, value in rows]
        assert read == [as_utc(at) for at, _ in rows] == instants
        assert all(at.tzinfo is UTC for at in read)


async def test_a_bulk_insert_that_breaks_a_key_fails_as_sqlalchemy_says_and_writes_nothing(
    database_url: Callable[[str], str],
) -> None:
    now = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    with_ids = BulkInsert(things, ("thing_id", *COLUMNS))
    async with fresh_database(database_url("bulk_key")) as db:
        with pytest.raises(IntegrityError):
            async with db.transaction() as session:
                await with_ids.execute(session, [(1, "tea", now, True, None, None, None)])
                await with_ids.execute(session, [(2, "milk", now, True, None, None, None)] * 2)
        async with db.read() as session:
            assert (await session.execute(select(things.c.name))).all() == []


async def test_one_of_finds_the_rows_whose_value_is_listed_whatever_the_list(
    database_url: Callable[[str], str],
) -> None:
    async with fresh_database(database_url("one_of")) as db:
        at = datetime(2026, 3, 1, tzinfo=UTC)
        async with db.transaction() as session:
            await session.execute(
                insert(things),
                [{"name": f"n{n}", "at": at, "done": n % 2 == 0} for n in range(1, 31)]
                + [{"name": "n1" + "0" * 48, "at": at, "done": True}],
            )
        async with db.read() as session:

            async def names(column: Any, values: list[Any]) -> set[str]:
                query = select(things.c.name).where(one_of(session, column, values))
                return set(await session.scalars(query))

            assert await names(things.c.name, ["n3", "n17", "absent", "n3"]) == {"n3", "n17"}
            assert await names(things.c.thing_id, [2, 29, 99]) == {"n2", "n29"}
            assert await names(things.c.name, [f"n{n}" for n in range(1, 31)]) == {
                f"n{n}" for n in range(1, 31)
            }
            assert await names(things.c.name, []) == set()
            # A value longer than the column is no value of it (not cut down to one that matches).
            assert await names(things.c.name, ["n1" + "0" * 60]) == set()
            # One statement whatever the number of values: compiled once, prepared once.
            dialect = session.get_bind().dialect
            assert str(
                select(things.c.name).where(one_of(session, things.c.name, ["a"])).compile(dialect=dialect)
            ) == str(
                select(things.c.name)
                .where(one_of(session, things.c.name, ["a", "b", "c"]))
                .compile(dialect=dialect)
            )


def test_ids_are_written_and_read_back_as_themselves() -> None:
    value = uuid4()
    assert id_text(value) == str(value) and id_text(value) is id_text(value)
    assert stored_id(str(value)) == value


def test_an_id_is_one_object_whichever_way_it_came() -> None:
    # From an event (parsed anew each time) or read back as text: the first object seen stands for both.
    first = uuid4()
    assert same_id(first) is first
    again = UUID(str(first))
    assert again == first and again is not first
    assert same_id(again) is first
    assert stored_id(str(first)) is first
    text = str(uuid4())
    read_back = stored_id(text)
    assert read_back == UUID(text) and same_id(UUID(text)) is read_back
