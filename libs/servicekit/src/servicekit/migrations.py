"""Alembic, shared: each service's env.py calls `run_migrations(metadata)`; start-up calls `upgrade`."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from alembic import command, context, op
from alembic.config import Config
from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    pool,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from servicekit.tables import Id64, MessagingTables

# Replicas starting together must not run the same migration twice.
_MIGRATION_LOCK_KEY = 7_301_002
_MIGRATION_LOCK_POLL_SECONDS = 0.5


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
        # Polled rather than waited for: a session waiting in pg_advisory_lock holds a snapshot, and an
        # index built concurrently by the replica that holds the lock would wait for it (a deadlock).
        while not connection.execute(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
        ).scalar():
            connection.commit()
            time.sleep(_MIGRATION_LOCK_POLL_SECONDS)
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


def _first_messaging_tables(metadata: MetaData) -> None:
    """The outbox, inbox and idempotency tables as every service's first revision made them. Frozen
    here: later shapes come by later revision steps (below), as the tables in servicekit.tables change."""
    Table(
        "outbox",
        metadata,
        Column("id", Id64, primary_key=True, autoincrement=True),
        Column("message_id", String(36), nullable=False, unique=True),
        Column("topic", String(200), nullable=False),
        Column("key", String(200), nullable=False),
        Column("payload", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("published_at", DateTime(timezone=True), nullable=True),
        Index(
            "ix_outbox_unpublished",
            "id",
            postgresql_where=text("published_at IS NULL"),
            sqlite_where=text("published_at IS NULL"),
        ),
    )
    Table(
        "inbox",
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("message_id", String(36), primary_key=True),
        Column("processed_at", DateTime(timezone=True), nullable=False),
    )
    Table(
        "idempotency_keys",
        metadata,
        Column("key", String(200), primary_key=True),
        Column("request_fingerprint", String(64), nullable=False),
        Column("status_code", Integer, nullable=False),
        Column("response_body", LargeBinary, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
    )


def create_messaging_tables() -> None:
    """In a service's first revision: the outbox, inbox and idempotency tables, the same in every service."""
    metadata = MetaData()
    _first_messaging_tables(metadata)
    metadata.create_all(op.get_bind())


def drop_messaging_tables() -> None:
    metadata = MetaData()
    _first_messaging_tables(metadata)
    metadata.drop_all(op.get_bind())


def scope_idempotency_keys_to_callers() -> None:
    """A revision step of every service: idempotency keys belong to a caller and remember the response's
    content type; inbox rows are found by age, for the purge. Stored keys are dropped: a key lives for a
    day anyway, and one without its caller cannot be replayed to the right one."""
    op.drop_table("idempotency_keys")
    metadata = MetaData()
    MessagingTables(metadata).idempotency.create(op.get_bind())
    op.create_index("ix_inbox_processed_at", "inbox", ["processed_at"])


def add_outbox_headers() -> None:
    """A revision step of every service: outbox rows keep the Kafka headers they are sent with (the W3C
    trace context of the change that wrote them)."""
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(Column("headers", Text(), nullable=True))


def drop_outbox_headers() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("headers")


def add_outbox_parking() -> None:
    """A revision step of every service: an outbox row Kafka will not take is parked with the reason."""
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(Column("parked_at", DateTime(timezone=True), nullable=True))
        batch_op.add_column(Column("parked_reason", Text(), nullable=True))


def drop_outbox_parking() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("parked_reason")
        batch_op.drop_column("parked_at")


def outbox_for_the_relay() -> None:
    """A revision step of every service: the relay finds the keys of parked rows from an index of parked
    rows alone, not by reading every row waiting to be sent; and message ids are no longer a unique
    index. They are random ids made by `UnitOfWork.publish`, and keeping the index cost each event a
    write to a random page of it."""
    if op.get_bind().dialect.name == "postgresql":
        # Built beside the writes of replicas still running, not holding them through a scan of every
        # row the outbox ever sent (kept until this release's purge). A build that failed leaves an
        # invalid index behind: dropped first, so that starting again builds it again. The constraint
        # goes after, in the revision's own transaction, with its version.
        with op.get_context().autocommit_block():
            op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_outbox_parked")
            op.create_index(
                "ix_outbox_parked",
                "outbox",
                ["topic", "key"],
                postgresql_where=_PARKED,
                postgresql_concurrently=True,
            )
        op.drop_constraint("outbox_message_id_key", "outbox", type_="unique")
        return
    # SQLite keeps the constraint in the table's own definition: the table is made again without it.
    with op.batch_alter_table("outbox", copy_from=_outbox_for_the_relay(), recreate="always"):
        pass


def outbox_before_the_relay_indexes() -> None:
    """Undoes `outbox_for_the_relay`: no index of parked rows, message ids unique again."""
    op.drop_index("ix_outbox_parked", table_name="outbox")
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.create_unique_constraint("outbox_message_id_key", ["message_id"])


_PARKED = text("published_at IS NULL AND parked_at IS NOT NULL")


def _outbox_for_the_relay() -> Table:
    """The outbox as `outbox_for_the_relay` leaves it (frozen here, like `_first_messaging_tables`)."""
    unpublished = text("published_at IS NULL")
    return Table(
        "outbox",
        MetaData(),
        Column("id", Id64, primary_key=True, autoincrement=True),
        Column("message_id", String(36), nullable=False),
        Column("topic", String(200), nullable=False),
        Column("key", String(200), nullable=False),
        Column("payload", Text, nullable=False),
        Column("headers", Text, nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("published_at", DateTime(timezone=True), nullable=True),
        Column("parked_at", DateTime(timezone=True), nullable=True),
        Column("parked_reason", Text, nullable=True),
        Index("ix_outbox_unpublished", "id", sqlite_where=unpublished, postgresql_where=unpublished),
        Index("ix_outbox_parked", "topic", "key", sqlite_where=_PARKED, postgresql_where=_PARKED),
    )
