"""Fixtures of servicekit's tests: the shared tables in a fresh database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import MetaData

from servicekit.db import Database
from servicekit.tables import MessagingTables


@pytest.fixture
async def kit(database_url: Callable[[str], str]) -> AsyncIterator[tuple[Database, MessagingTables]]:
    metadata = MetaData()
    tables = MessagingTables(metadata)
    db = Database(database_url("kit"))
    async with db.engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield db, tables
    await db.dispose()
