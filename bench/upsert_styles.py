"""Micro-benchmark: one batch of billing's bulk writes, as servicekit writes them and as executemany would.

    uv run python bench/upsert_styles.py [--rows 2000] [--rounds 5] [--database sqlite|postgresql]

`servicekit.sql.upsert` and `servicekit.inbox.claim_unprocessed` build one INSERT with a multi-row
VALUES clause (`insert(table).values(rows)`): SQLAlchemy compiles that statement anew for every batch,
one bind parameter at a time, and cannot cache it. Passing the rows as executemany parameters to one
fixed statement (`session.execute(statement, rows)`) compiles once and lets SQLAlchemy's
"insertmanyvalues" batch the rows (RETURNING included). This prints both, per batch, for the
usage_entries upsert (11 columns) and the inbox claim (3 columns, RETURNING), on a fresh database.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import postgres_prefix  # noqa: E402
from sqlalchemy import Table  # noqa: E402
from sqlalchemy.dialects import postgresql, sqlite  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession  # noqa: E402

from billing.adapters import tables  # noqa: E402
from servicekit.db import Database  # noqa: E402
from servicekit.inbox import claim_unprocessed  # noqa: E402
from servicekit.sql import upsert  # noqa: E402


def usage_rows(n: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    contract = str(uuid.uuid4())
    return [
        {
            "entry_id": str(uuid.uuid4()),
            "contract_id": contract,
            "account_id": "acme",
            "request_id": f"REQ-{i % 97}",
            "started_at": now,
            "minutes": 30,
            "billable": True,
            "include_non_operational": True,
            "other_charges": None,
            "currency": None,
            "version": 1,
        }
        for i in range(n)
    ]


def _insert(session: AsyncSession) -> Any:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


async def upsert_executemany(
    session: AsyncSession, table: Table, rows: list[dict[str, Any]], key: list[str], newer_by: str
) -> None:
    """The same upsert as servicekit.sql.upsert, as one cached statement executed with many rows."""
    statement = _insert(session)(table)
    columns = list(rows[0])
    statement = statement.on_conflict_do_update(
        index_elements=key,
        set_={name: statement.excluded[name] for name in columns if name not in key},
        where=table.c[newer_by] < statement.excluded[newer_by],
    )
    await session.execute(statement, rows)


async def upsert_driver(
    session: AsyncSession, table: Table, rows: list[dict[str, Any]], key: list[str], newer_by: str
) -> None:
    """The floor: the same upsert as one SQL string, rows as plain tuples, no SQLAlchemy type processing
    (SQLite gets the text SQLAlchemy would store for a datetime)."""
    connection = await session.connection()
    is_sqlite = connection.dialect.name == "sqlite"
    columns = list(rows[0])
    marks = ", ".join("?" if is_sqlite else f"${i + 1}" for i in range(len(columns)))
    updates = ", ".join(f"{name} = excluded.{name}" for name in columns if name not in key)
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates} "
        f"WHERE {table.name}.{newer_by} < excluded.{newer_by}"
    )

    def value(v: Any) -> Any:
        return v.strftime("%Y-%m-%d %H:%M:%S.%f") if is_sqlite and isinstance(v, datetime) else v

    await connection.exec_driver_sql(sql, [tuple(value(row[c]) for c in columns) for row in rows])


async def claim_executemany(session: AsyncSession, consumer: str, ids: list[str]) -> set[str]:
    inbox = tables.messaging.inbox
    now = datetime.now(UTC)
    statement = _insert(session)(inbox).on_conflict_do_nothing().returning(inbox.c.message_id)
    result = await session.execute(
        statement, [{"consumer": consumer, "message_id": mid, "processed_at": now} for mid in ids]
    )
    return set(result.scalars().all())


async def main(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench-upsert-"))
    cleanup = None
    if args.database == "sqlite":
        url = f"sqlite+aiosqlite:///{workdir / 'upsert.db'}"
    else:
        import asyncpg

        prefix = postgres_prefix()
        name = f"bench_upsert_{uuid.uuid4().hex[:8]}"
        dsn = prefix.replace("postgresql+asyncpg", "postgresql") + "postgres"
        admin = await asyncpg.connect(dsn)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        url = prefix + name

        async def drop() -> None:
            admin = await asyncpg.connect(dsn)
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()

        cleanup = drop
    db = Database(url)
    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(tables.metadata.create_all)
        table = tables.usage_entries
        results: dict[str, list[float]] = {}

        async def timed(label: str, work: Any) -> None:
            for round_ in range(args.rounds + 1):
                rows = usage_rows(args.rows)
                ids = [str(uuid.uuid4()) for _ in range(args.rows)]
                started = time.perf_counter()
                async with db.transaction() as session:
                    await work(session, rows, ids)
                if round_:  # the first round warms caches
                    results.setdefault(label, []).append(time.perf_counter() - started)

        await timed(
            "usage upsert, multi-row VALUES (servicekit.sql.upsert)",
            lambda s, rows, ids: upsert(s, table, rows, key=["entry_id"], newer_by="version"),
        )
        await timed(
            "usage upsert, executemany of one statement",
            lambda s, rows, ids: upsert_executemany(s, table, rows, ["entry_id"], "version"),
        )

        await timed(
            "usage upsert, driver executemany of tuples (floor)",
            lambda s, rows, ids: upsert_driver(s, table, rows, ["entry_id"], "version"),
        )

        async def check_claim(session: AsyncSession, fresh: set[str], ids: list[str]) -> None:
            assert fresh == set(ids), "RETURNING lost rows"

        async def claim_now(s: AsyncSession, rows: Any, ids: list[str]) -> None:
            await check_claim(s, await claim_unprocessed(s, tables.messaging, "bench", ids), ids)

        async def claim_new(s: AsyncSession, rows: Any, ids: list[str]) -> None:
            await check_claim(s, await claim_executemany(s, "bench", ids), ids)

        await timed("inbox claim, multi-row VALUES + RETURNING (servicekit.inbox)", claim_now)
        await timed("inbox claim, executemany + RETURNING", claim_new)
        print(f"{args.rows} rows per batch, {args.database}, median of {args.rounds} batches:")
        for label, values in results.items():
            median = sorted(values)[len(values) // 2]
            print(f"  {median * 1000:8.1f} ms  {median / args.rows * 1e6:6.1f} µs/row  {label}")
    finally:
        await db.dispose()
        if cleanup is not None:
            await cleanup()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    arguments = parser.parse_args()
    asyncio.run(asyncio.wait_for(main(arguments), timeout=120))
