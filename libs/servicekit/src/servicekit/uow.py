"""Unit of work: one database transaction, plus the events it will publish through the outbox."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from types import TracebackType
from typing import Self

import orjson
from pydantic_core import to_json
from sqlalchemy.ext.asyncio import AsyncSession

from contracts_schema import WireModel, message_type_of, topic_of
from contracts_schema.envelope import event_time
from contracts_schema.limits import MAX_EVENT_BYTES
from servicekit import tracing
from servicekit.consumers import Delivery
from servicekit.db import Database
from servicekit.errors import DomainError
from servicekit.inbox import claim_unprocessed
from servicekit.origin import Origin
from servicekit.outbox import OutboxEntry, OutboxRelay, add_to_outbox
from servicekit.tables import MessagingTables

log = logging.getLogger(__name__)


class MessageTooLarge(DomainError):
    """An event larger than a topic takes: the change it describes is not made, rather than an event
    that the relay could never deliver (and that would hold back every event behind it)."""


@dataclass(frozen=True, slots=True)
class EncodedBody:
    """A message body given as its JSON already: what `model` would write, built without it where the
    model costs more than the rest of the message (a service's test holds the two to the same value)."""

    model: type[WireModel]
    json: bytes


class UnitOfWork:
    """Services subclass this to add their repositories in `_start`; `read_only` ones only query.

    Leaving the block without an error writes the collected events to the outbox in the same
    transaction, commits, and wakes the relay; an error rolls back both the change and its events.
    """

    session: AsyncSession

    def __init__(
        self,
        db: Database,
        tables: MessagingTables,
        relay: OutboxRelay | None,
        *,
        source: str,
        read_only: bool = False,
    ) -> None:
        self._db = db
        self.read_only = read_only
        self._tables = tables
        self._relay = relay
        self.source = source
        self._events: list[OutboxEntry] = []
        self._after_commit: list[Callable[[], None]] = []

    async def __aenter__(self) -> Self:
        self._transaction = self._db.read() if self.read_only else self._db.transaction()
        self.session = await self._transaction.__aenter__()
        self._events = []
        self._after_commit = []
        self._start()
        return self

    def _start(self) -> None:
        """Hook for repositories bound to `self.session`."""

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            try:
                await add_to_outbox(self.session, self._tables, self._events)
            except BaseException as write_error:
                await self._transaction.__aexit__(type(write_error), write_error, write_error.__traceback__)
                raise
        await self._transaction.__aexit__(exc_type, exc, tb)
        if exc is None:
            if self._events and self._relay is not None:
                self._relay.wake()
            for action in self._after_commit:
                try:
                    action()
                except Exception:  # the work is committed: a failed count must not look like it failed
                    log.exception("an action after a commit failed")

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run `action` once the work has committed (counting what was made): never for work undone,
        by a failed savepoint or a rolled-back transaction."""
        self._after_commit.append(action)

    @property
    def tables(self) -> MessagingTables:
        return self._tables

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A part of the work that can fail alone: its changes and its events are undone together."""
        queued, actions = len(self._events), len(self._after_commit)
        try:
            async with self.session.begin_nested():
                yield
        except BaseException:
            del self._events[queued:]
            del self._after_commit[actions:]
            raise

    async def unprocessed(self, deliveries: Sequence[Delivery]) -> list[Delivery]:
        """Record the deliveries in their consumer's inbox; keep those it has not applied before."""
        kept: list[Delivery] = []
        for consumer in dict.fromkeys(d.consumer for d in deliveries):
            of_consumer = [(str(d.event.id), d) for d in deliveries if d.consumer == consumer]
            fresh = await claim_unprocessed(
                self.session, self._tables, consumer, (message_id for message_id, _ in of_consumer)
            )
            for message_id, delivery in of_consumer:
                if message_id in fresh:
                    fresh.discard(message_id)  # a duplicate inside one batch is applied once
                    kept.append(delivery)
        return kept

    def publish(self, body: WireModel | EncodedBody, *, key: str, subject: str, origin: Origin) -> None:
        """Queue an event for the outbox, signed by `origin` and linked to the message that caused it."""
        if self.read_only:
            raise RuntimeError("a read-only unit of work cannot publish events")
        cause = origin.cause
        cause_id = str(cause.id) if cause is not None else None
        if isinstance(body, EncodedBody):
            message_type, data = message_type_of(body.model), body.json
        else:
            message_type, data = message_type_of(type(body)), to_json(body)
        event_id = _new_event_id()
        payload = _event_json(
            data,
            message_type,
            event_id=event_id,
            source=self.source,
            subject=subject,
            actor=origin.actor,
            correlationid=(cause.correlationid if cause is not None else None) or event_id,
            causationid=cause_id,
        )
        if len(payload) > MAX_EVENT_BYTES:
            raise MessageTooLarge(
                f"{message_type} would be {len(payload)} bytes, more than the {MAX_EVENT_BYTES} a message "
                "may have"
            )
        # The trace context goes with it: the REST call's, or its cause's when a consumer is
        # processing that message.
        headers = origin.trace or tracing.outbox_headers(cause_id)
        self._events.append(OutboxEntry(event_id, _topic_name(message_type), key, payload.decode(), headers))


@cache
def _topic_name(message_type: str) -> str:
    return topic_of(message_type).name


def _event_json(
    data: bytes,
    message_type: str,
    *,
    event_id: str,
    source: str,
    subject: str,
    actor: str,
    correlationid: str,
    causationid: str | None,
) -> bytes:
    """The event's CloudEvent as JSON: the JSON value `CloudEvent.wrap(body, ...).to_json()` writes,
    made without the envelope's model, whose construction and serialisation cost more than the rest of
    an event (tests/test_outbox_inbox.py holds the two to the same value). `data` is the body's JSON,
    put in as it is."""
    envelope = orjson.dumps(
        {
            "specversion": "1.0",
            "id": event_id,
            "type": message_type,
            "source": source,
            "time": event_time(datetime.now(UTC)),
            "subject": subject,
            "datacontenttype": "application/json",
            "correlationid": correlationid,
            "causationid": causationid,
            "actor": actor,
        }
    )
    return b"".join((envelope[:-1], b',"data":', data, b"}"))


_IDS_AT_ONCE = 256
_random_bytes = bytearray()
os.register_at_fork(after_in_child=_random_bytes.clear)  # a child must not make its parent's ids


def _new_event_id() -> str:
    """A random UUID (version 4) as text, as `str(uuid4())` makes one from `os.urandom`; the random
    bytes are read for 256 ids at a time, as a call of urandom per event cost more than the rest of
    the id."""
    if not _random_bytes:
        _random_bytes.extend(os.urandom(16 * _IDS_AT_ONCE))
    value = int.from_bytes(_random_bytes[-16:])
    del _random_bytes[-16:]
    value = value & ~(0xF000 << 64) | (0x4000 << 64)  # version 4
    value = value & ~(0xC000 << 48) | (0x8000 << 48)  # the RFC 4122 variant
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
