"""Group commit: writes that arrive together are applied in one batch, each answered with its own
outcome once the batch is done; a batch that fails is written again one request at a time."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Sequence

import pytest

from servicekit.group_commit import GroupCommit


class Recorder:
    def __init__(self, fail_on: str | None = None) -> None:
        self.batches: list[list[str]] = []
        self.fail_on = fail_on

    async def apply(self, requests: Sequence[str]) -> list[str]:
        await asyncio.sleep(0.01)  # a transaction in flight while others arrive
        self.batches.append(list(requests))
        if self.fail_on in requests:
            raise RuntimeError(f"{self.fail_on} broke the batch")
        return [request.upper() for request in requests]


async def test_requests_that_arrive_while_a_batch_is_written_go_together_in_the_next() -> None:
    recorder = Recorder()
    writer = GroupCommit(recorder.apply)

    first = asyncio.create_task(writer.submit("a"))
    await asyncio.sleep(0)  # "a" is being written alone
    rest = [asyncio.create_task(writer.submit(name)) for name in ("b", "c", "d")]

    assert [await first, *await asyncio.gather(*rest)] == ["A", "B", "C", "D"]
    assert recorder.batches == [["a"], ["b", "c", "d"]]


async def test_a_failed_batch_is_written_again_one_by_one_and_only_the_culprit_fails() -> None:
    recorder = Recorder(fail_on="bad")
    writer = GroupCommit(recorder.apply)

    first = asyncio.create_task(writer.submit("x"))
    await asyncio.sleep(0)
    good, bad = asyncio.create_task(writer.submit("good")), asyncio.create_task(writer.submit("bad"))

    assert await first == "X"
    assert await good == "GOOD"
    with pytest.raises(RuntimeError, match="bad broke the batch"):
        await bad
    assert recorder.batches == [["x"], ["good", "bad"], ["good"], ["bad"]]


async def test_a_batch_is_never_larger_than_its_maximum() -> None:
    recorder = Recorder()
    writer = GroupCommit(recorder.apply, max_batch=2)

    first = asyncio.create_task(writer.submit("0"))
    await asyncio.sleep(0)
    outcomes = await asyncio.gather(*(writer.submit(str(n)) for n in range(1, 6)))

    assert [await first, *outcomes] == [str(n) for n in range(6)]
    assert [len(batch) for batch in recorder.batches] == [1, 2, 2, 1]


REQUEST: contextvars.ContextVar[str] = contextvars.ContextVar("request", default="none")


async def test_the_writer_works_in_no_requests_context_since_it_writes_for_many() -> None:
    """It used to inherit the context of the request that started it: its logs and the trace of
    every event it wrote were that request's."""
    seen: list[str] = []

    async def apply(requests: Sequence[str]) -> list[str]:
        seen.append(REQUEST.get())
        return list(requests)

    writer = GroupCommit(apply)

    async def submit_as(name: str) -> str:
        REQUEST.set(name)
        return await writer.submit(name)

    assert await asyncio.gather(*(submit_as(name) for name in ("a", "b"))) == ["a", "b"]
    assert seen and set(seen) == {"none"}


async def test_requests_queued_behind_a_cancelled_writer_are_cancelled_not_left_waiting() -> None:
    started = asyncio.Event()

    async def apply(requests: Sequence[str]) -> list[str]:
        started.set()
        await asyncio.sleep(3600)
        return list(requests)

    writer = GroupCommit(apply)
    first = asyncio.create_task(writer.submit("first"))
    await started.wait()
    queued = asyncio.create_task(writer.submit("queued"))
    await asyncio.sleep(0)
    assert writer._writer is not None
    writer._writer.cancel()  # the service shutting down

    for request in (first, queued):
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(request, timeout=5)


async def test_under_concurrency_the_writer_waits_for_the_requests_right_behind_a_batch() -> None:
    recorder = Recorder()
    writer = GroupCommit(recorder.apply, gather_seconds=0.05)

    lone = await writer.submit("lone")  # alone: written at once, nothing waited for
    first = [asyncio.create_task(writer.submit(name)) for name in ("a", "b")]
    await asyncio.sleep(0)
    behind = asyncio.create_task(writer.submit("c"))  # queued while "a" and "b" are written

    async def answered_then_next() -> str:
        await first[0]
        await asyncio.sleep(0.01)  # a client answered sends its next request
        return await writer.submit("d")

    assert [lone, *await asyncio.gather(*first, behind, answered_then_next())] == ["LONE", "A", "B", "C", "D"]
    assert recorder.batches == [["lone"], ["a", "b"], ["c", "d"]]
