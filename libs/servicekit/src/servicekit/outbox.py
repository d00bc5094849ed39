"""Transactional outbox: events are rows written with the change; a relay sends them to Kafka.

The relay looks for rows that are not yet published rather than rows "after the last id it saw":
on PostgreSQL ids are taken before commit, so a lower id can become visible after a higher one.
With several replicas one relay at a time holds an advisory lock, so rows leave in id order.

A row Kafka will never take (larger than a record may be, say) must not stop the relay: it is
parked, with the reason, logged and counted, and so is every later row of the same topic and key, so
that the aggregate's events are never seen out of order; rows of other keys go on. An operator who
has fixed the cause releases the parked rows (`release_parked`) and they are sent in their order.
A broker that is unreachable is not a reason to park: the batch is tried again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any, Protocol

from sqlalchemy import Row, Select, Table, and_, func, select, text, update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit import tracing
from servicekit.db import Database
from servicekit.faults import is_transient
from servicekit.limits import EVENT_MAX_BYTES
from servicekit.metrics import OUTBOX_PARKED
from servicekit.sql import BulkInsert, execute_compiled, values_parameter
from servicekit.tables import MessagingTables

log = logging.getLogger(__name__)

_PRODUCER_OUT_OF_STEP = frozenset(
    {"OutOfOrderSequenceNumber", "InvalidProducerEpoch", "UnknownProducerIdError", "DuplicateSequenceNumber"}
)
"""Refusals that are about the producer, not the record: a new producer sends the record fine."""

BATCH_CHARS = 16 * 1024 * 1024
"""Payload characters one relay cycle reads at most: rows of up to ~1 MB each must not make a batch of
2,000 rows a couple of gigabytes."""

GATHER_SECONDS = 0.005
"""How long the relay, woken by a commit, waits for the commits behind it before it reads the outbox."""

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


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """An event queued for the outbox, already encoded: the JSON its size was checked on is the JSON
    stored and sent, so it is encoded once."""

    message_id: str
    topic: str
    key: str
    payload: str
    headers: Mapping[str, str] | None = None
    """The W3C trace context to send it with, if any."""


@dataclass(frozen=True, slots=True)
class OutboxBacklog:
    pending: int
    oldest_at: datetime | None
    parked: int = 0

    def age_seconds(self, now: datetime) -> float:
        return max(0.0, (now - self.oldest_at).total_seconds()) if self.oldest_at is not None else 0.0


class MessageSender(Protocol):
    async def send_all(self, messages: Sequence[OutgoingMessage]) -> Sequence[BaseException | None] | None:
        """Send every message and return once each is acknowledged or refused: per message, None when
        it was sent, else why not (None for the whole batch: all were sent)."""


async def add_to_outbox(
    session: AsyncSession, tables: MessagingTables, events: Sequence[OutboxEntry]
) -> None:
    """Write the entries' rows in the caller's transaction. (An event too large for a Kafka record never
    gets here: `UnitOfWork.publish` refuses it.)"""
    if not events:
        return
    now = datetime.now(UTC)
    await _outbox_insert(tables.outbox).execute(
        session,
        [(e.message_id, e.topic, e.key, e.payload, tracing.headers_json(e.headers), now) for e in events],
    )


@cache
def _outbox_insert(outbox: Table) -> BulkInsert:
    return BulkInsert(outbox, ("message_id", "topic", "key", "payload", "headers", "created_at"))


class OutboxRelay:
    """Sends unpublished outbox rows in id order, woken at once after a commit, else by polling."""

    def __init__(
        self,
        db: Database,
        tables: MessagingTables,
        sender: MessageSender,
        *,
        batch_size: int = 2000,
        batch_chars: int = BATCH_CHARS,
        poll_seconds: float = 0.5,
    ) -> None:
        self._db = db
        self._outbox = tables.outbox
        self._sender = sender
        self._batch_size = batch_size
        self._batch_chars = batch_chars
        self._poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        # Built once: building a statement costs more than running it, every cycle.
        self._next_batch = self._pending()

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
                    # Woken by a commit: the commits right behind it go in the same cycle. Each cycle
                    # costs two transactions and a round trip to Kafka, whatever it carries.
                    await asyncio.sleep(GATHER_SECONDS)
                except TimeoutError:
                    pass
                self._wake.clear()

    async def relay_once(self) -> int:
        """Send one batch of pending rows; returns how many left the line (sent or parked)."""
        if self._db.is_sqlite:
            return await self._relay_sqlite()
        return await self._relay_postgresql()

    def _pending(self) -> Select[Any]:
        """The next unpublished rows in id order: at most `batch_size` of them, and no more payload than
        `batch_chars` (the row that crosses it included, so one row always goes), counted in the
        database so that a backlog of large events is not read into memory a batch at a time. Each row
        says whether its key has a parked row (`behind_parked`): it then waits behind that row.

        The payload limit gives the batch's last id; the rows are then read in id order through the
        index of unpublished rows. Sorting the rows themselves (for the running sum, for the join)
        copied every payload through a temporary b-tree: twice the database's time per row."""
        c = self._outbox.c
        unsent = and_(c.published_at.is_(None), c.parked_at.is_(None))
        first = (
            select(c.id, func.length(c.payload).label("size"))
            .where(unsent)
            .order_by(c.id)
            .limit(self._batch_size)
            .subquery()
        )
        # Each row's payload characters before it in the batch.
        before = func.sum(first.c.size).over(order_by=first.c.id) - first.c.size
        sized = select(first.c.id, before.label("before")).subquery()
        last = select(func.max(sized.c.id)).where(sized.c.before < self._batch_chars).scalar_subquery()
        # A parked row is unpublished: its partial index holds only parked rows, usually none.
        parked = (
            select(c.topic, c.key)
            .where(c.published_at.is_(None), c.parked_at.is_not(None))
            .distinct()
            .cte("parked")
        )
        return (
            select(
                c.id,
                c.message_id,
                c.topic,
                c.key,
                c.payload,
                c.headers,
                parked.c.key.is_not(None).label("behind_parked"),
            )
            .outerjoin(parked, and_(parked.c.topic == c.topic, parked.c.key == c.key))
            .where(unsent, c.id <= last)
            .order_by(c.id)
            .limit(self._batch_size)
        )

    async def _relay_postgresql(self) -> int:
        async with self._db.transaction() as session:
            locked = await session.scalar(
                text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _RELAY_LOCK_KEY}
            )
            if not locked:
                return 0
            rows = (await session.execute(self._next_batch)).all()
            if not rows:
                return 0
            outcome = await self._send(rows)
            await self._record(session, outcome)
            return outcome.done

    async def _relay_sqlite(self) -> int:
        # Sending outside the write transaction keeps SQLite's single writer free meanwhile; a crash
        # between send and mark re-sends, which consumers' inboxes absorb. One statement, read outside a
        # transaction: one trip to the driver's thread, which a busy event loop answers late each time.
        rows = await self._db.read_rows(self._next_batch)
        if not rows:
            return 0
        outcome = await self._send(rows)
        async with self._db.transaction() as session:
            await self._record(session, outcome)
        return outcome.done

    async def _send(self, rows: Sequence[Row[Any]]) -> _Outcome:
        """Send the batch; park what Kafka will not take and the rows of its key after it. A row that
        could not be sent for a passing reason (the broker out of reach) stays pending, and so do the
        rows of its key after it, to keep the key's order."""
        outcome = _Outcome(parked_keys={(row.topic, row.key) for row in rows if row.behind_parked})
        # Each payload encoded once: for its size, then to be sent.
        outgoing = [(row, _message(row)) for row in rows]
        sendable = [(row, message) for row, message in outgoing if not outcome.held(row, message.payload)]
        if not sendable:
            return outcome
        results = await self._sender.send_all([message for _, message in sendable])
        waiting: set[tuple[str, str]] = set()
        for (row, message), error in zip(sendable, results or [None] * len(sendable), strict=True):
            key = (row.topic, row.key)
            if key in waiting:
                continue
            if error is None:
                outcome.sent.append(row.id)
                if key in outcome.parked_keys:
                    # Kafka refused an earlier event of the key in this batch yet took this one: only
                    # a topic whose limit is below ours does that (see servicekit.limits).
                    log.error("outbox: %s event %s went out ahead of a parked one", row.topic, row.message_id)
            elif is_transient(error) or type(error).__name__ in _PRODUCER_OUT_OF_STEP:
                waiting.add(key)
            elif key in outcome.parked_keys:
                outcome.held(row, message.payload)
            else:
                outcome.park(row, f"{type(error).__name__}: {error}")
        if waiting:
            log.warning("outbox: %d keys wait for Kafka to take their next event", len(waiting))
        return outcome

    async def _record(self, session: AsyncSession, outcome: _Outcome) -> None:
        if outcome.sent:
            await self._mark_published(session, outcome.sent)
        for row_id, reason in outcome.parked.items():
            await session.execute(
                update(self._outbox)
                .where(self._outbox.c.id == row_id)
                .values(parked_at=func.now(), parked_reason=reason[:2000])
            )
        for reason in outcome.parked.values():
            log.error("outbox row parked: %s", reason)
        if outcome.parked:
            OUTBOX_PARKED.inc(len(outcome.parked))

    async def _mark_published(self, session: AsyncSession, ids: list[int]) -> None:
        connection = await session.connection()
        statement, ids_param = _published(connection.dialect, self._outbox)
        await execute_compiled(connection, statement, (ids_param(ids),))

    async def release_parked(self, message_ids: Sequence[str] | None = None) -> int:
        """Put parked rows (all, or these) back in line: the relay sends them, in id order, next."""
        c = self._outbox.c
        statement = update(self._outbox).where(c.parked_at.is_not(None), c.published_at.is_(None))
        if message_ids is not None:
            statement = statement.where(c.message_id.in_(list(message_ids)))
        async with self._db.transaction() as session:
            result = await session.execute(statement.values(parked_at=None, parked_reason=None))
        self.wake()
        return int(getattr(result, "rowcount", 0) or 0)

    async def backlog(self) -> OutboxBacklog:
        """How many rows wait to be sent, and since when the oldest has."""
        c = self._outbox.c
        async with self._db.read() as session:
            row = (
                await session.execute(
                    select(func.count(), func.min(c.created_at)).where(
                        c.published_at.is_(None), c.parked_at.is_(None)
                    )
                )
            ).one()
            parked = await session.scalar(
                select(func.count()).select_from(self._outbox).where(c.parked_at.is_not(None))
            )
        oldest = row[1]
        if oldest is not None and oldest.tzinfo is None:  # SQLite hands back naive UTC
            oldest = oldest.replace(tzinfo=UTC)
        return OutboxBacklog(int(row[0] or 0), oldest, int(parked or 0))

    async def pending_count(self) -> int:
        async with self._db.read() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(self._outbox)
                .where(self._outbox.c.published_at.is_(None), self._outbox.c.parked_at.is_(None))
            )
        return int(count or 0)


@dataclass
class _Outcome:
    """What became of a batch: rows sent, rows parked (with why), and the keys that now wait."""

    parked_keys: set[tuple[str, str]]
    sent: list[int] = field(default_factory=list)
    parked: dict[int, str] = field(default_factory=dict)
    _blocked_by: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def done(self) -> int:
        return len(self.sent) + len(self.parked)

    def held(self, row: Row[Any], payload: bytes) -> bool:
        """Park the row when its key waits behind a parked row, or when it (`payload`, its encoded
        payload) is too large to send."""
        key = (row.topic, row.key)
        if key in self.parked_keys:
            behind = self._blocked_by.get(key, "an earlier event of its key that is parked")
            self.parked[row.id] = f"{row.topic} event {row.message_id} waits behind {behind}"
            return True
        size = len(payload) + len(row.headers or "")
        if size > EVENT_MAX_BYTES:
            self.park(row, f"{size} bytes, more than the {EVENT_MAX_BYTES} a Kafka record of ours may take")
            return True
        return False

    def park(self, row: Row[Any], why: str) -> None:
        self.parked[row.id] = f"{row.topic} event {row.message_id} (key {row.key}) cannot be sent: {why}"
        self.parked_keys.add((row.topic, row.key))
        self._blocked_by[(row.topic, row.key)] = f"event {row.message_id}"


_Published = tuple[str, Callable[[list[int]], Any]]
_PUBLISHED: dict[tuple[str, Table], _Published] = {}


def _published(dialect: Dialect, outbox: Table) -> _Published:
    """The UPDATE that marks rows sent, their ids one parameter (an array on PostgreSQL, a JSON array on
    SQLite), as the inbox claims its ids: an IN list of a parameter per id was rewritten for every
    cycle, and cost more than the update."""
    found = _PUBLISHED.get((dialect.name, outbox))
    if found is not None:
        return found
    table = dialect.identifier_preparer.format_table(outbox)
    if dialect.name == "postgresql":
        statement = f"UPDATE {table} SET published_at = now() WHERE id = ANY($1::bigint[])"
    else:
        where = "id IN (SELECT value FROM json_each(?))"
        statement = f"UPDATE {table} SET published_at = CURRENT_TIMESTAMP WHERE {where}"
    found = _PUBLISHED[dialect.name, outbox] = (statement, values_parameter(dialect))
    return found


def _message(row: Row[Any]) -> OutgoingMessage:
    return OutgoingMessage(
        row.message_id, row.topic, row.key, row.payload.encode(), tracing.headers_of_json(row.headers)
    )
