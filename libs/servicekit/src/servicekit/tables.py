"""The outbox and inbox tables every service keeps in its own database, in its own metadata."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    and_,
)

# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL wants 64 bits for a busy outbox.
Id64 = BigInteger().with_variant(Integer(), "sqlite")


def outbox_table(metadata: MetaData) -> Table:
    """Events written in the same transaction as the change they describe, until the relay sends them."""
    table = Table(
        "outbox",
        metadata,
        Column("id", Id64, primary_key=True, autoincrement=True),
        # Random ids (`UnitOfWork.publish`): a unique index cost every event a write to a random page.
        Column("message_id", String(36), nullable=False),
        Column("topic", String(200), nullable=False),
        Column("key", String(200), nullable=False),
        Column("payload", Text, nullable=False),
        # Kafka headers sent with the event (W3C trace context), as a JSON object; none for most rows.
        Column("headers", Text, nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("published_at", DateTime(timezone=True), nullable=True),
        # A row Kafka will not take (too large, say) is parked, with the reason, and so is every later
        # row of its key, so the key's order holds; rows of other keys go on.
        Column("parked_at", DateTime(timezone=True), nullable=True),
        Column("parked_reason", Text, nullable=True),
    )
    # Only unpublished rows are ever looked up; a partial index keeps that cheap as the table grows.
    Index(
        "ix_outbox_unpublished",
        table.c.id,
        postgresql_where=table.c.published_at.is_(None),
        sqlite_where=table.c.published_at.is_(None),
    )
    # The keys a relay cycle must hold back: found without reading every row waiting to be sent.
    parked = and_(table.c.published_at.is_(None), table.c.parked_at.is_not(None))
    Index("ix_outbox_parked", table.c.topic, table.c.key, postgresql_where=parked, sqlite_where=parked)
    return table


def inbox_table(metadata: MetaData) -> Table:
    """Messages a consumer has applied, recorded in the same transaction as their effect."""
    return Table(
        "inbox",
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("message_id", String(36), primary_key=True),
        Column("processed_at", DateTime(timezone=True), nullable=False, index=True),
    )


def idempotency_table(metadata: MetaData) -> Table:
    """Responses to REST writes that carried an Idempotency-Key, replayed on a retry by the same caller."""
    return Table(
        "idempotency_keys",
        metadata,
        Column("owner", String(200), primary_key=True),
        Column("key", String(200), primary_key=True),
        Column("request_fingerprint", String(64), nullable=False),
        Column("status_code", Integer, nullable=False),
        Column("response_body", LargeBinary, nullable=False),
        Column("content_type", String(200), nullable=False, server_default=""),
        Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    )


class MessagingTables:
    """The shared tables, bound to one service's metadata."""

    def __init__(self, metadata: MetaData) -> None:
        self.outbox = outbox_table(metadata)
        self.inbox = inbox_table(metadata)
        self.idempotency = idempotency_table(metadata)
