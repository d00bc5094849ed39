"""Group commit: writes that arrive together are applied in one batch, each answered with its own
outcome once the batch is done; a batch that fails is written again one request at a time."""

from __future__ import annotations

import asyncio
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
