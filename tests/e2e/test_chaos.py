"""Nothing wedges and nothing is lost silently: time-entry commands produced while billing and
timetracking are killed (SIGKILL) and restarted and the broker is stopped and started again, with
duplicates, conflicting commands and poison mixed in, are each accrued exactly once.

The test has a broker of its own, which it restarts, and a stack of its own on it; the other
end-to-end tests' broker and stack are left alone. `bench/chaos.py` is the same run at full size.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from tests.e2e.stack import SERVICES, Stack, make_stack
from tests.support.broker import LocalBroker
from tests.support.chaos import (
    FAULTS,
    ChaosRun,
    ChaosSize,
    build_workload,
    chaos_accounts,
    chaos_client,
    sign_chaos_contracts,
)

CHAOS_KAFKA_PORT = int(os.environ.get("CHAOS_KAFKA_PORT", "31092"))
SIZE = ChaosSize(entries=3000, contracts=6, poison=40)
SMALL_BATCHES = {"TIMETRACKING_CONSUMER_BATCH_SIZE": "100", "BILLING_CONSUMER_BATCH_SIZE": "100"}
"""A burst before a fault (a tenth of the records) spans several batches, so the crash falls amid them."""


@pytest.fixture(scope="module")
def chaos_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    with LocalBroker(CHAOS_KAFKA_PORT, tmp_path_factory.mktemp("chaos-kafka")) as broker:
        yield broker


@pytest.fixture(scope="module")
def chaos_stack(
    chaos_broker: LocalBroker,
    database_url: Callable[[str], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    stack = make_stack(
        chaos_broker.bootstrap,
        {name: database_url(name) for name in SERVICES},
        tmp_path_factory.mktemp("chaos-logs"),
        SMALL_BATCHES,
    )
    with stack.running():
        yield stack


@pytest.mark.timeout(300)
async def test_commands_sent_through_crashes_and_a_broker_restart_are_each_accrued_once(
    chaos_stack: Stack, chaos_broker: LocalBroker
) -> None:
    async with chaos_client() as client:
        accounts = chaos_accounts(uuid.uuid4().hex[:8], SIZE.contracts)
        contracts = await sign_chaos_contracts(client, chaos_stack, accounts)
        workload = build_workload(contracts, SIZE, datetime.now(UTC))
        figures = await ChaosRun(chaos_stack, chaos_broker, client, workload, stall_seconds=60).run()
    print("\n" + "\n".join(figures.lines()))

    assert figures.problems == []
    assert [struck.fault for struck in figures.struck] == [fault.name for fault in FAULTS]
    assert (figures.lost, figures.double_counted, figures.unexpected) == (0, 0, 0)
    assert figures.accepted == figures.accrued == SIZE.entries
    assert figures.minutes_in_timetracking == figures.minutes_in_billing == figures.minutes_expected
    assert figures.dead_lettered >= SIZE.poison
    assert figures.conflicts_answered == SIZE.conflicts
    # The broker's outage is told once per kind a minute, not per retry (aiokafka tries hundreds a
    # second): a process's log holds a few such lines however long the broker was away.
    for process in chaos_stack.processes():
        unreachable = process.log_path.read_text(errors="replace").count("Unable connect to node")
        assert unreachable <= 10, f"{process.name}: {unreachable} lines of an unreachable broker"
