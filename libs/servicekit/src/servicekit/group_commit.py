"""Group commit: writes that arrive together are applied together, in one transaction, and each is
answered only after that transaction has committed.

A REST write on SQLite spends most of its time queued behind the one writer, and every statement of
the writer's transaction waits for the event loop, which the queued requests keep busy. Handing the
writes of concurrent requests to one use case that takes a batch (as Kafka consumers do) turns many
small transactions into one, with the same guarantees per request: its change and its events are
committed before it is answered, and a request the use case refuses (a rule broken) is refused alone.

While one batch is being written, the next requests queue; the next batch takes all of them. A lone
request is written at once, alone: nothing waits for company. Under concurrency (the batch just
written had company) the writer waits `gather_seconds` before it takes the next batch: the clients it
has just answered send their next requests meanwhile, and they go in that batch rather than in a
small one of their own right after it. Each batch costs a transaction (and the outbox relay a cycle)
whatever it carries, so at 20 clients that is some 20 requests a batch rather than 10.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from servicekit.faults import is_transient

log = logging.getLogger(__name__)

R = TypeVar("R")
Out = TypeVar("Out")


class GroupCommit(Generic[R, Out]):
    """`apply(requests)` opens its unit of work, applies the requests and returns one outcome per
    request (a refusal is an outcome, not an exception); it returns once the work has committed."""

    def __init__(
        self,
        apply: Callable[[Sequence[R]], Awaitable[Sequence[Out]]],
        *,
        max_batch: int = 200,
        gather_seconds: float = 0.0,
    ) -> None:
        self._apply = apply
        self._max_batch = max_batch
        self._gather_seconds = gather_seconds
        self._queue: list[tuple[R, asyncio.Future[Out]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, request: R) -> Out:
        """The request's outcome, once the transaction that applied it has committed."""
        future: asyncio.Future[Out] = asyncio.get_running_loop().create_future()
        self._queue.append((request, future))
        if self._writer is None or self._writer.done():
            # A task of its own: a request that goes away (its client hung up) does not take the
            # transaction of the others with it. In a context of its own, too: it writes for many
            # requests, so it must not log (or trace) as the one that happened to start it. Each
            # request's trace context travels with the request itself (`Origin.trace`).
            self._writer = asyncio.create_task(self._write_all(), context=contextvars.Context())
        return await future

    async def _write_all(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
                await self._write(batch)
                if len(batch) > 1 and len(self._queue) < self._max_batch and self._gather_seconds:
                    await asyncio.sleep(self._gather_seconds)
        except asyncio.CancelledError:
            # Shutting down: the requests still queued would otherwise wait for a writer that no
            # request will start.
            queued, self._queue = self._queue, []
            for _, future in queued:
                future.cancel()
            raise

    async def _write(self, batch: list[tuple[R, asyncio.Future[Out]]]) -> None:
        try:
            outcomes = await self._apply([request for request, _ in batch])
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as error:
            if len(batch) == 1 or is_transient(error):
                for _, future in batch:
                    _fail(future, error)
                return
            # Nothing of the batch was committed. One request's fault (a bug, a lost race) must not be
            # every request's: each is written again on its own and gets its own answer.
            log.info("a group of %d writes failed (%r); writing each alone", len(batch), error)
            for one in batch:
                await self._write([one])
            return
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if not future.done():
                future.set_result(outcome)


def _fail(future: asyncio.Future[Out], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)
