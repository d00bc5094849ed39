"""What the people who run the stack see: one trace followed from a REST call through Kafka into the
other services, counters on /metrics that move with the work, JSON logs, each service's AsyncAPI part."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Mapping

import httpx
from prometheus_client.parser import text_string_to_metric_families

from contracts_schema import registry
from tests.e2e.stack import Stack
from tests.support.auth import bearer
from tests.support.kafka import eventually, produce
from tests.support.scenario import (
    WORKED_EXAMPLE_1_TERMS,
    billing_knows,
    new_account,
    sign_running_contract,
    usage_reaches,
    work_day,
)
from tests.support.traces import ReceivedSpan, TraceCollector

SERVER, PRODUCER, CONSUMER = 2, 4, 5  # OTLP span kinds


def traceparent() -> tuple[str, str, str]:
    """A trace id, a span id of the caller's, and the W3C header that carries both."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, span_id, f"00-{trace_id}-{span_id}-01"


async def spans_of(
    collector: TraceCollector, trace_id: str, *wanted: tuple[str, int, str]
) -> list[ReceivedSpan]:
    """Wait until the trace has a span of each (service, kind, name fragment)."""

    async def arrived() -> list[ReceivedSpan] | None:
        spans = collector.of_trace(trace_id)
        found = all(
            any(s.service == service and s.kind == kind and fragment in s.name for s in spans)
            for service, kind, fragment in wanted
        )
        return spans if found else None

    found: list[ReceivedSpan] = await eventually(arrived, timeout=30)
    return found


def ancestry(span: ReceivedSpan, spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
    """The span, its parent, its parent's parent... as far as the trace's spans go."""
    by_id = {s.span_id: s for s in spans}
    chain = [span]
    while chain[-1].parent_span_id in by_id:
        chain.append(by_id[chain[-1].parent_span_id])
    return chain


def one(spans: list[ReceivedSpan], service: str, kind: int, fragment: str) -> ReceivedSpan:
    return next(s for s in spans if s.service == service and s.kind == kind and fragment in s.name)


async def test_one_trace_follows_a_rest_call_through_kafka_into_billing_and_timetracking(
    stack: Stack, trace_collector: TraceCollector
) -> None:
    contract_trace, caller_span, header = traceparent()
    async with httpx.AsyncClient(timeout=10, headers={"traceparent": header, **bearer()}) as client:
        contract, start = await sign_running_contract(
            client, stack["contracts"].url, account_id=new_account(), terms=WORKED_EXAMPLE_1_TERMS
        )
        await billing_knows(client, stack["billing"].url, contract["contract_id"])

    topic = registry.CONTRACTS.name
    spans = await spans_of(
        trace_collector,
        contract_trace,
        ("contracts", SERVER, "POST /contracts"),
        ("contracts", PRODUCER, f"{topic} publish"),
        ("billing", CONSUMER, f"{topic} process"),
        ("timetracking", CONSUMER, f"{topic} process"),
    )
    server = one(spans, "contracts", SERVER, "POST /contracts")
    assert server.parent_span_id == caller_span
    billing = one(spans, "billing", CONSUMER, f"{topic} process")
    # REST call -> (FastAPI's endpoint span) -> its outbox row sent by the relay -> billing's processing
    chain = ancestry(billing, spans)
    assert [(s.service, s.kind) for s in chain[:2]] == [("billing", CONSUMER), ("contracts", PRODUCER)]
    assert any(s.service == "contracts" and s.kind == SERVER and "POST /contracts" in s.name for s in chain)
    assert chain[-1].parent_span_id == caller_span
    assert billing.attributes["messaging.consumer.group.name"] == "billing.contract-copy"
    timetracking = one(spans, "timetracking", CONSUMER, f"{topic} process")
    assert ancestry(timetracking, spans)[-1].parent_span_id == caller_span

    entry_trace, _caller, header = traceparent()
    async with httpx.AsyncClient(timeout=10, headers=bearer()) as client:
        response = await client.post(
            f"{stack['timetracking'].url}/time-entries",
            headers={"traceparent": header},
            json={
                "request_id": "R-traced",
                "account_id": contract["account_id"],
                "rep_id": "ann",
                "started_at": work_day(start, 1),
                "duration_minutes": 30,
            },
        )
        assert response.status_code == 201, response.text
    topic = registry.TIME_ENTRIES.name
    spans = await spans_of(
        trace_collector,
        entry_trace,
        ("timetracking", SERVER, "POST /time-entries"),
        ("timetracking", PRODUCER, f"{topic} publish"),  # spans arrive in batches, in any order
        ("billing", CONSUMER, f"{topic} process"),
    )
    accrual = one(spans, "billing", CONSUMER, f"{topic} process")
    assert accrual.attributes["messaging.consumer.group.name"] == "billing.usage-accrual"
    chain = ancestry(accrual, spans)
    assert ("timetracking", PRODUCER) == (chain[1].service, chain[1].kind)
    assert any(s.service == "timetracking" and s.kind == SERVER for s in chain)

    # Concurrent calls are written together (group commit): each event still carries its own call's
    # trace, not the trace of the call that happened to start the group.
    traced = [traceparent() for _ in range(6)]

    async def log_entry(client: httpx.AsyncClient, header: str, index: int) -> None:
        response = await client.post(
            f"{stack['timetracking'].url}/time-entries",
            headers={"traceparent": header},
            json={
                "request_id": f"R-together-{index}",
                "account_id": contract["account_id"],
                "rep_id": "ann",
                "started_at": work_day(start, 2),
                "duration_minutes": 10,
            },
        )
        assert response.status_code == 201, response.text

    async with httpx.AsyncClient(timeout=10, headers=bearer()) as client:
        await asyncio.gather(*(log_entry(client, header, i) for i, (_, _, header) in enumerate(traced)))
    for trace_id, caller, _header in traced:
        spans = await spans_of(
            trace_collector,
            trace_id,
            ("timetracking", SERVER, "POST /time-entries"),
            ("timetracking", PRODUCER, f"{topic} publish"),
            ("billing", CONSUMER, f"{topic} process"),
        )
        chain = ancestry(one(spans, "billing", CONSUMER, f"{topic} process"), spans)
        assert chain[-1].parent_span_id == caller


def scrape(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Mapping[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    """The sum of the series of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, series), v in samples.items() if n == name and wanted <= series)


async def test_metrics_move_with_requests_messages_dead_letters_and_bills(
    stack: Stack, kafka_bootstrap: str
) -> None:
    async with httpx.AsyncClient(timeout=10, headers=bearer()) as client:

        async def metrics(service: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
            response = await client.get(f"{stack[service].url}/metrics")
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/plain")
            return scrape(response.text)

        before = {name: await metrics(name) for name in ("contracts", "billing", "timetracking")}
        contract, start = await sign_running_contract(
            client, stack["contracts"].url, account_id=new_account(), terms=WORKED_EXAMPLE_1_TERMS
        )
        contract_id = contract["contract_id"]
        await billing_knows(client, stack["billing"].url, contract_id)
        for day in (1, 2):
            logged = await client.post(
                f"{stack['timetracking'].url}/time-entries",
                json={
                    "request_id": f"R-{day}",
                    "account_id": contract["account_id"],
                    "rep_id": "ann",
                    "started_at": work_day(start, day),
                    "duration_minutes": 60,
                },
            )
            assert logged.status_code == 201, logged.text
        await usage_reaches(client, stack["billing"].url, contract_id, used=120)
        made = await client.post(
            f"{stack['billing'].url}/contracts/{contract_id}/bills", json={"period": "1"}
        )
        assert made.status_code == 201, made.text
        await produce(kafka_bootstrap, registry.TIME_ENTRY_COMMANDS.name, b"metrics test: not JSON", "acme")

        async def moved() -> dict[str, dict[tuple[str, frozenset[tuple[str, str]]], float]] | None:
            after = {name: await metrics(name) for name in ("contracts", "billing", "timetracking")}
            dead = value(after["timetracking"], "kafka_messages_dead_lettered_total", kind="invalid") - value(
                before["timetracking"], "kafka_messages_dead_lettered_total", kind="invalid"
            )
            ticks = value(after["billing"], "scheduler_ticks_total", outcome="ran") - value(
                before["billing"], "scheduler_ticks_total", outcome="ran"
            )
            return after if dead >= 1 and ticks >= 1 else None  # a tick comes every second here

        after = await eventually(moved)

    def grew(service: str, name: str, by: float = 1, **labels: str) -> bool:
        return value(after[service], name, **labels) - value(before[service], name, **labels) >= by

    assert grew("contracts", "http_requests_total", 3, method="POST", status="201")
    assert grew("timetracking", "http_requests_total", 2, method="POST", route="/time-entries", status="201")
    assert grew("timetracking", "http_request_duration_seconds_count", 2, route="/time-entries")
    assert grew("contracts", "kafka_messages_produced_total", 1, topic=registry.CONTRACTS.name)
    assert grew("timetracking", "kafka_messages_produced_total", 2, topic=registry.TIME_ENTRIES.name)
    usage = {"topic": registry.TIME_ENTRIES.name, "group": "billing.usage-accrual"}
    assert grew("billing", "kafka_messages_consumed_total", 2, **usage)
    assert grew("billing", "kafka_handler_seconds_count", 1, **usage)
    assert grew("billing", "bills_made_total", 1, status="issued")
    assert grew("billing", "scheduler_ticks_total", 1, job="bill-run", outcome="ran")
    assert any(
        name == "kafka_consumer_lag" and ("group", "billing.usage-accrual") in series
        for name, series in after["billing"]
    )
    assert ("outbox_pending_messages", frozenset()) in after["billing"]


async def test_services_log_json_lines_with_the_message_they_were_handling(
    stack: Stack, kafka_bootstrap: str
) -> None:
    await produce(kafka_bootstrap, registry.TIME_ENTRY_COMMANDS.name, b"log test: not JSON", "acme")

    async def dead_letter_line() -> dict[str, object] | None:
        for line in stack["timetracking"].log_path.read_text().splitlines():
            if line.startswith("{") and "dead-lettering" in line:
                logged: dict[str, object] = json.loads(line)
                return logged
        return None

    line = await eventually(dead_letter_line)
    assert line["service"] == "timetracking" and line["level"] == "warning"
    assert line["topic"] == registry.TIME_ENTRY_COMMANDS.name
    assert isinstance(line["offset"], int) and isinstance(line["partition"], int)
    assert str(line["consumer"]).startswith("timetracking.")


async def test_each_service_serves_its_part_of_the_asyncapi_document(stack: Stack) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        billing = (await client.get(f"{stack['billing'].url}/asyncapi.json")).json()
        contracts = (await client.get(f"{stack['contracts'].url}/asyncapi.json")).json()
    assert billing["asyncapi"] == "3.0.0"
    assert {registry.BILLS.name, registry.TIME_ENTRIES.name, registry.CONTRACTS.name} <= set(
        billing["channels"]
    )
    assert registry.TIME_ENTRY_COMMANDS.name not in billing["channels"]
    assert registry.CONTRACT_COMMANDS.name in contracts["channels"]
    assert registry.BILLING_COMMANDS.name not in contracts["channels"]
