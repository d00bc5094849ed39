"""Transactional outbox: events are rows written with the change; a relay sends them to Kafka.

The relay looks for rows that are not yet published rather than rows "after the last id it saw":
on PostgreSQL ids are taken before commit, so a lower id can become visible after a higher one.
With several replicas one relay at a time holds an advisory lock, so rows leave in id order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Row, Select, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts_schema import CloudEvent
from servicekit import tracing
from servicekit.db import Database
from servicekit.tables import MessagingTables

log = logging.getLogger(__name__)

# pg_advisory_xact_lock key space is shared by the whole database; one service owns one database.
_RELAY_LOCK_KEY = 7_301_001


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    message_id: str
    topic: str
    key: str
    payload: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    """Kafka headers to send besides our own (the W3C trace context the row was written with)."""


OutboxEntry = tuple[str, str, CloudEvent] | tuple[str, str, CloudEvent, Mapping[str, str] | None]
"""(topic, key, event) and, optionally, the headers to send it with."""


@dataclass(frozen=True, slots=True)
class OutboxBacklog:
    pending: int
    oldest_at: datetime | None

    def age_seconds(self, now: datetime) -> float:
        return max(0.0, (now - self.oldest_at).total_seconds()) if self.oldest_at is not None else 0.0


class MessageSender(Protocol):
    async def send_all(self, messages: Sequence[OutgoingMessage]) -> None:
        """Send every message and return only once all are acknowledged by the broker."""


async def add_to_outbox(
    session: AsyncSession, tables: MessagingTables, events: Sequence[OutboxEntry]
) -> None:
    """Write (topic, key, event[, headers]) rows in the caller's transaction."""
    if not events:
        return
    now = datetime.now(UTC)
    await session.execute(
        insert(tables.outbox),
        [
            {
                "message_id": str(entry[2].id),
                "topic": entry[0],
                "key": entry[1],
                "payload": entry[2].model_dump_json(),
                "headers": tracing.headers_json(entry[3]) if len(entry) > 3 else None,
                "created_at": now,
            }
            for entry in events
        ],
    )


class OutboxRelay:
    """Sends unpublished outbox rows in id order, woken at once after a commit, else by polling."""

    def __init__(
        self,
        db: Database,
        tables: MessagingTables,
        sender: MessageSender,
        *,
        batch_size: int = 500,
        poll_seconds: float = 0.5,
    ) -> None:
        self._db = db
        self._outbox = tables.outbox
        self._sender = sender
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                sent = await self.relay_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay failed; retrying")
                sent = 0
                await asyncio.sleep(self._poll_seconds)
            if sent < self._batch_size:
                # Not asyncio.wait_for: on Python 3.11 it swallows a cancellation that arrives as the
                # wake-up does (a commit just before shutdown), and the relay would never stop.
                try:
                    async with asyncio.timeout(self._poll_seconds):
                        await self._wake.wait()
                except TimeoutError:
                    pass
                self._wake.clear()

    async def relay_once(self) -> int:
        """Send one batch of pending rows; returns how many were sent."""
        if self._db.is_sqlite:
            return await self._relay_sqlite()
        return await self._relay_postgresql()

    def _pending(self) -> Select[Any]:
        return (
            select(
                self._outbox.c.id,
                self._outbox.c.message_id,
                self._outbox.c.topic,
                self._outbox.c.key,
                self._outbox.c.payload,
                self._outbox.c.headers,
            )
            .where(self._outbox.c.published_at.is_(None))
            .order_by(self._outbox.c.id)
            .limit(self._batch_size)
        )

    async def _relay_postgresql(self) -> int:
        async with self._db.transaction() as session:
            locked = await session.scalar(
                text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _RELAY_LOCK_KEY}
            )
            if not locked:
                return 0
            rows = (await session.execute(self._pending())).all()
            if rows:
                await self._sender.send_all([_message(row) for row in rows])
                await self._mark_published(session, [row.id for row in rows])
            return len(rows)

    async def _relay_sqlite(self) -> int:
        # Sending outside the write transaction keeps SQLite's single writer free meanwhile; a crash
        # between send and mark re-sends, which consumers' inboxes absorb.
        async with self._db.read() as session:
            rows = (await session.execute(self._pending())).all()
        if not rows:
            return 0
        await self._sender.send_all([_message(row) for row in rows])
        async with self._db.transaction() as session:
            await self._mark_published(session, [row.id for row in rows])
        return len(rows)

    async def _mark_published(self, session: AsyncSession, ids: list[int]) -> None:
        await session.execute(
            update(self._outbox).where(self._outbox.c.id.in_(ids)).values(published_at=func.now())
        )

    async def backlog(self) -> OutboxBacklog:
        """How many rows wait to be sent, and since when the oldest has."""
        async with self._db.read() as session:
            row = (
                await session.execute(
                    select(func.count(), func.min(self._outbox.c.created_at)).where(
                        self._outbox.c.published_at.is_(None)
                    )
                )
            ).one()
        oldest = row[1]
        if oldest is not None and oldest.tzinfo is None:  # SQLite hands back naive UTC
            oldest = oldest.replace(tzinfo=UTC)
        return OutboxBacklog(int(row[0] or 0), oldest)

    async def pending_count(self) -> int:
        async with self._db.read() as session:
            count = await session.scalar(
                select(func.count()).select_from(self._outbox).where(self._outbox.c.published_at.is_(None))
            )
        return int(count or 0)


def _message(row: Row[Any]) -> OutgoingMessage:
    return OutgoingMessage(
        row.message_id, row.topic, row.key, row.payload.encode(), tracing.headers_of_json(row.headers)
    )
