"""The scheduler's batches: it goes on while a batch is full and got work done, and stops at a batch
of items that all defer (review finding: 200 drafts that could not be issued spun the tick forever)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from billing.entrypoints.scheduler import _in_batches
from billing.service_layer.bill_schedule import BatchDone


class Units:
    @asynccontextmanager
    async def _unit(self) -> AsyncIterator[object]:
        yield object()

    def write(self) -> Any:
        return self._unit()


async def run_batches(results: list[BatchDone]) -> tuple[int, int]:
    calls = 0

    async def run(_uow: object) -> BatchDone:
        nonlocal calls
        calls += 1
        return results[min(calls, len(results)) - 1]

    done = await _in_batches(Units(), 10, run)  # type: ignore[arg-type]
    return done, calls


async def test_full_batches_that_get_work_done_go_on_until_one_is_not_full() -> None:
    assert await run_batches([BatchDone(10, 10), BatchDone(10, 7), BatchDone(4, 4)]) == (21, 3)


async def test_a_full_batch_of_items_that_all_defer_ends_the_tick() -> None:
    assert await run_batches([BatchDone(10, 0)]) == (0, 1)
