"""Two processes of each service on one PostgreSQL database per service and one broker: what must
happen once happens once. Entries are accrued once, each automatic bill is made once although both
billing schedulers look for due contracts, and each outbox row is published once although both relays
run.

The module has a broker of its own, so that the session's stack (one process per service, on the
other tests' broker) consumes none of its messages and its topics hold only what this stack did.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka.partitioner import DefaultPartitioner

from contracts_schema import TOPICS, registry
from supportctl.broker import Kafka, read_all, reader
from tests.e2e.stack import SERVICES, Stack, make_stack
from tests.support.broker import LocalBroker
from tests.support.chaos import (
    ChaosRun,
    ChaosSize,
    build_workload,
    chaos_accounts,
    chaos_client,
    sign_chaos_contracts,
)
from tests.support.kafka import eventually
from tests.support.scenario import WORKED_EXAMPLE_1_TERMS, make_contract, make_plan, new_account

pytestmark = pytest.mark.skipif(
    os.environ.get("TEST_DATABASE", "sqlite") != "postgresql",
    reason="replicas need PostgreSQL: SQLite is single-writer by design, one process per database file",
)

REPLICAS_KAFKA_PORT = int(os.environ.get("REPLICAS_KAFKA_PORT", "31094"))
REPLICAS = 2


@dataclass
class ReplicatedStack:
    stack: Stack
    broker: LocalBroker
    database_urls: dict[str, str]


@pytest.fixture(scope="module")
def replicated(
    database_url: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ReplicatedStack]:
    urls = {name: database_url(name) for name in SERVICES}
    with LocalBroker(REPLICAS_KAFKA_PORT, tmp_path_factory.mktemp("replicas-kafka")) as broker:
        stack = make_stack(
            broker.bootstrap, urls, tmp_path_factory.mktemp("replicas-logs"), replicas=REPLICAS
        )
        with stack.running():
            yield ReplicatedStack(stack, broker, urls)


async def metric(client: httpx.AsyncClient, url: str, name: str, **labels: str) -> float:
    """The sum of a counter's samples on one process whose labels include `labels`."""
    text = (await client.get(f"{url}/metrics")).text
    total = 0.0
    for line in text.splitlines():
        found = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if found and all(f'{key}="{value}"' in found.group(1) for key, value in labels.items()):
            total += float(found.group(2))
    return total


def accounts_on_every_partition(run: str) -> list[str]:
    """An account keyed onto each partition of the time-entry topics (by the producers' default
    partitioner), so that every replica has entries to take, whichever partitions it is given."""
    partitions = list(range(registry.TIME_ENTRY_COMMANDS.partitions))
    assert registry.TIME_ENTRIES.partitions == len(partitions)
    chosen: dict[int, str] = {}
    for account in chaos_accounts(run, 1000):
        chosen.setdefault(DefaultPartitioner()(account.encode(), partitions, partitions), account)
        if len(chosen) == len(partitions):
            return list(chosen.values())
    raise LookupError("no account name found for some partition")


async def test_entries_sent_to_two_replicas_of_each_service_are_accrued_once(
    replicated: ReplicatedStack,
) -> None:
    stack = replicated.stack
    accounts = accounts_on_every_partition(uuid.uuid4().hex[:8])
    size = ChaosSize(entries=2000, contracts=len(accounts), poison=8)
    async with chaos_client() as client:
        contracts = await sign_chaos_contracts(client, stack, accounts)
        workload = build_workload(contracts, size, datetime.now(UTC))
        figures = await ChaosRun(stack, replicated.broker, client, workload, faults=()).run()
        consumed = {
            name: [
                await metric(client, process.url, "kafka_messages_consumed_total", topic=topic)
                for process in stack.replicas(name)
            ]
            for name, topic in (
                ("timetracking", registry.TIME_ENTRY_COMMANDS.name),
                ("billing", registry.TIME_ENTRIES.name),
            )
        }
    print("\n" + "\n".join(figures.lines()))

    assert figures.problems == []
    assert (figures.lost, figures.double_counted, figures.unexpected) == (0, 0, 0)
    assert figures.accepted == figures.accrued == size.entries
    assert figures.minutes_in_timetracking == figures.minutes_in_billing == figures.minutes_expected
    for name, counts in consumed.items():
        assert all(count > 0 for count in counts), f"each {name} replica takes a share: {counts}"


async def test_two_billing_schedulers_make_each_bill_of_back_dated_contracts_once(
    replicated: ReplicatedStack,
) -> None:
    stack = replicated.stack
    billing = stack.replicas("billing")
    first_of_month = datetime.now(UTC).date().replace(day=1)
    start = (first_of_month - timedelta(days=80)).replace(day=1)  # three whole months ago
    async with chaos_client() as client:
        made_before = sum([await metric(client, process.url, "bills_made_total") for process in billing])
        plan = await make_plan(
            client,
            stack["contracts"].url,
            name="Back-dated",
            terms=WORKED_EXAMPLE_1_TERMS,
            time_zone="Etc/UTC",
        )
        contract_ids = [
            (
                await make_contract(
                    client,
                    stack.replicas("contracts")[n % REPLICAS].url,
                    account_id=new_account(),
                    plan_id=plan["plan_id"],
                    start_date=start.isoformat(),
                    expiry_date=(start + timedelta(days=364)).isoformat(),
                )
            )["contract_id"]
            for n in range(6)
        ]

        async def bills_of(contract_id: str) -> list[dict[str, Any]]:
            response = await client.get(
                f"{billing[0].url}/bills", params={"contract_id": contract_id, "limit": 100}
            )
            items: list[dict[str, Any]] = response.json()["items"]
            return items

        async def all_made() -> bool:
            return all([len(await bills_of(contract_id)) >= 3 for contract_id in contract_ids])

        await eventually(all_made, timeout=60)
        ticks = [await metric(client, p.url, "scheduler_ticks_total", outcome="ran") for p in billing]
        await eventually(  # both schedulers tick again at least twice: any second bill would be made by then
            lambda: _ticked_twice_more(client, billing, ticks), timeout=30
        )
        bills = {contract_id: await bills_of(contract_id) for contract_id in contract_ids}
        made_after = sum([await metric(client, process.url, "bills_made_total") for process in billing])
    announced = await _issued_bills_on_topic(replicated.broker.bootstrap, set(contract_ids))

    for contract_id, made in bills.items():
        assert sorted(bill["period"] for bill in made) == ["1", "2", "3"], contract_id
        for bill in made:
            assert bill["is_main"] and bill["status"] == "issued" and bill["version"] == 1
            assert bill["total"] == {"amount": "500.00", "currency": "USD"}
            day_after = datetime.fromisoformat(bill["period_end"]) + timedelta(days=1)
            assert bill["bill_date"] == day_after.date().isoformat()
        assert sorted(announced[contract_id]) == sorted(bill["bill_id"] for bill in made)
    assert made_after - made_before == 3 * len(contract_ids), "each bill made by one replica, once"


async def _ticked_twice_more(client: httpx.AsyncClient, billing: list[Any], before: list[float]) -> bool:
    now = [await metric(client, p.url, "scheduler_ticks_total", outcome="ran") for p in billing]
    return all(after >= earlier + 2 for after, earlier in zip(now, before, strict=True))


async def _issued_bills_on_topic(bootstrap: str, contract_ids: set[str]) -> dict[str, list[str]]:
    """The bill ids of each `billing.bill.issued` event on the bills topic, by contract."""
    issued: dict[str, list[str]] = {contract_id: [] for contract_id in contract_ids}
    async with reader(Kafka(bootstrap)) as consumer:
        async for record in read_all(consumer, registry.BILLS.name):
            event = _event(record.value)
            bill = event.get("data", {}).get("bill", {})
            if event.get("type") == "billing.bill.issued" and bill.get("contract_id") in contract_ids:
                issued[bill["contract_id"]].append(bill["bill_id"])
    return issued


async def test_the_outbox_relays_of_two_replicas_publish_each_event_once(replicated: ReplicatedStack) -> None:
    """Run after the tests above, over every event their work wrote: each outbox row of each service is
    marked sent, and its event is on its topic exactly once."""
    service_topics = [topic.name for topic in TOPICS if topic.kind != "commands"]
    on_topics: Counter[str] = Counter()
    for topic in service_topics:
        # A reader of its own per topic: one that was assigned a topic's partitions looks no further.
        async with reader(Kafka(replicated.broker.bootstrap)) as consumer:
            async for record in read_all(consumer, topic):
                on_topics[str(_event(record.value).get("id"))] += 1
    for name, url in replicated.database_urls.items():
        connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            rows = await connection.fetch("SELECT message_id, published_at FROM outbox")
        finally:
            await connection.close()
        assert rows, f"{name} wrote events"
        assert [row["message_id"] for row in rows if row["published_at"] is None] == [], (
            f"{name}: unsent rows"
        )
        counts = Counter(on_topics[row["message_id"]] for row in rows)
        assert counts == {1: len(rows)}, f"{name}: events by times published: {dict(counts)}"


def _event(value: bytes | None) -> dict[str, Any]:
    try:
        event = json.loads(value or b"{}")
    except ValueError:
        return {}
    return event if isinstance(event, dict) else {}
