"""Alembic, shared: each service's env.py calls `run_migrations(metadata)`; start-up calls `upgrade`."""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context, op
from alembic.config import Config
from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from servicekit.tables import MessagingTables

# Replicas starting together must not run the same migration twice.
_MIGRATION_LOCK_KEY = 7_301_002


def alembic_config(database_url: str, script_location: Path) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, script_location: Path) -> None:
    """Bring the database to the newest revision (blocking; call it from a worker thread)."""
    command.upgrade(alembic_config(database_url, script_location), "head")


def run_migrations(target_metadata: MetaData) -> None:
    """The body of every service's env.py (online mode, async engine)."""
    url = context.config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("alembic: sqlalchemy.url is not set")
    asyncio.run(_run_async(url, target_metadata))


async def _run_async(url: str, target_metadata: MetaData) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_sync, target_metadata)
    finally:
        await engine.dispose()


def _run_sync(connection: Connection, target_metadata: MetaData) -> None:
    is_postgresql = connection.dialect.name == "postgresql"
    if is_postgresql:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
        connection.commit()
    try:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    finally:
        if is_postgresql:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK_KEY})
            connection.commit()


def create_messaging_tables() -> None:
    """In a service's first revision: the outbox, inbox and idempotency tables, defined once in
    servicekit.tables so that every service gets the same ones, as they were then (later revisions
    add what came after, such as `add_outbox_headers`)."""
    metadata = MetaData()
    MessagingTables(metadata, outbox_headers=False)
    metadata.create_all(op.get_bind())


def add_outbox_headers() -> None:
    """The revision that gives outbox rows the Kafka headers they are sent with (trace context)."""
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("headers", sa.Text(), nullable=True))


def drop_outbox_headers() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("headers")


def drop_messaging_tables() -> None:
    metadata = MetaData()
    MessagingTables(metadata)
    metadata.drop_all(op.get_bind())
