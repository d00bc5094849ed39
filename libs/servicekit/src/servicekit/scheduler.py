"""Scheduled work: a job that runs every interval, and each item of it (a contract) on its own.

An item's failure stays its own. A broken business rule or missing data (a `DomainError`), or a row
another writer made first (an `IntegrityError`), defers the item to a later tick. Anything else is a
bug: it is logged with its traceback, counted, and the item is parked, so it is not retried every tick
forever; the job goes on with the other items. The database being out of reach fails the whole tick,
which simply runs again at the next interval.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import Generic, TypeVar

from sqlalchemy.exc import IntegrityError

from servicekit.errors import DomainError
from servicekit.faults import is_transient
from servicekit.metrics import SCHEDULER_ITEMS, SCHEDULER_TICKS
from servicekit.uow import UnitOfWork

log = logging.getLogger(__name__)
T = TypeVar("T")


class Outcome(StrEnum):
    DONE = "done"
    DEFERRED = "deferred"
    PARKED = "parked"


@dataclass(frozen=True, slots=True)
class ItemResult(Generic[T]):
    """How an item went, what its work returned when it was done, and the error when it was not."""

    outcome: Outcome
    value: T | None = None
    error: Exception | None = None

    @property
    def reason(self) -> str:
        return f"{type(self.error).__name__}: {self.error}" if self.error is not None else ""


async def run_item(uow: UnitOfWork, job: str, item: str, work: Callable[[], Awaitable[T]]) -> ItemResult[T]:
    """Run one item of a job inside `uow`, in a savepoint: a failure undoes its changes and events only."""
    try:
        async with uow.savepoint():
            value = await work()
    except DomainError as error:
        log.warning("%s: %s deferred: %s", job, item, error)
        result: ItemResult[T] = ItemResult(Outcome.DEFERRED, error=error)
    except IntegrityError as error:
        # Another replica or a consumer wrote the same row first: the next tick sees what it wrote.
        log.warning("%s: %s deferred, it met a concurrent change: %s", job, item, error.orig)
        result = ItemResult(Outcome.DEFERRED, error=error)
    except Exception as error:
        if is_transient(error):
            raise
        log.exception("%s: %s failed and is parked until it is looked at", job, item)
        result = ItemResult(Outcome.PARKED, error=error)
    else:
        result = ItemResult(Outcome.DONE, value)
    uow.after_commit(partial(count_items, job, result.outcome))  # counted once the outcome is kept
    return result


def count_items(job: str, outcome: Outcome, count: int = 1) -> None:
    """Items of a job done, deferred or parked: for work done in bulk rather than by `run_item`."""
    SCHEDULER_ITEMS.labels(job, outcome.value).inc(count)


def every(
    interval_seconds: float, tick: Callable[[], Awaitable[int]], *, job: str
) -> Callable[[], Awaitable[None]]:
    """A background loop that runs `tick` (which returns how much it did) every interval."""

    ran = SCHEDULER_TICKS.labels(job, "ran")
    skipped = SCHEDULER_TICKS.labels(job, "skipped")

    async def run() -> None:
        while True:
            try:
                done = await tick()
            except Exception as error:
                if not is_transient(error):
                    raise  # a bug in the tick itself: the service's supervisor logs it and restarts
                skipped.inc()
                log.warning("%s: tick skipped, a dependency is out of reach: %r", job, error)
            else:
                ran.inc()
                if done:
                    log.info("%s: %d done", job, done)
            await asyncio.sleep(interval_seconds)

    return run
