"""Each service's Alembic revisions build exactly the tables its code declares, on either database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import create_async_engine

from billing.adapters.tables import metadata as billing_tables
from contracts.adapters.tables import metadata as contracts_tables
from servicekit import migrations
from timetracking.adapters.tables import metadata as timetracking_tables

ROOT = Path(__file__).resolve().parents[1]
SERVICES = {"contracts": contracts_tables, "billing": billing_tables, "timetracking": timetracking_tables}


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_migrations_build_the_declared_tables(service: str, database_url: Callable[[str], str]) -> None:
    url = database_url(service)
    await asyncio.to_thread(migrations.upgrade, url, ROOT / "services" / service / "migrations")
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(_differences, SERVICES[service])
    finally:
        await engine.dispose()
    assert differences == []


def _differences(connection: Any, metadata: MetaData) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return [
        diff
        for diff in compare_metadata(context, metadata)
        if diff[0] != "remove_table" or diff[1].name != "alembic_version"
    ]
