"""Every supportctl command on the real broker: topics, lag and dead letters on topics and groups of the
test's own; the stack, outboxes and bills on a stack that `supportctl stack up` starts (services named
apart, so their consumer groups are their own, and billing's scheduler idle so that `bills run` is
what makes the bills)."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner
from typer.testing import CliRunner, Result

from contracts_schema import CloudEvent
from contracts_schema.billing import GenerateBill
from contracts_schema.registry import Topic
from servicekit import dev_token
from servicekit.auth import AuthSettings, Role, TokenVerifier
from servicekit.kafka import ensure_topics
from supportctl import cli
from supportctl.cli import app
from supportctl.settings import Settings
from tests.support.auth import bearer, token
from tests.support.kafka import eventually, find_record
from tests.support.scenario import WORKED_EXAMPLE_1_TERMS, billing_knows, new_account, sign_contract

pytestmark = pytest.mark.kafka


async def supportctl(*args: str, env: Mapping[str, str] | None = None) -> Result:
    """Run a command in-process (in a thread: the command runs its own event loop) with wide output."""
    runner = CliRunner()
    wide = {"COLUMNS": "250", "NO_COLOR": "1", **(env or {})}
    return await asyncio.to_thread(runner.invoke, app, list(args), env=wide, catch_exceptions=False)


def own_topic(partitions: int = 1) -> Topic:
    return Topic(
        f"supportctl-tests.t-{uuid.uuid4().hex[:10]}.v1",
        partitions,
        "contract id",
        "a topic of the test's own",
        {"billing.bill.generate": GenerateBill},
    )


async def produce(
    bootstrap: str,
    topic: str,
    values: list[bytes],
    key: bytes = b"k",
    headers: list[tuple[str, bytes]] | None = None,
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=key, headers=headers or [])
    finally:
        await producer.stop()


async def test_topics_create_makes_ours_and_describe_counts_what_a_topic_holds(kafka_bootstrap: str) -> None:
    created = await supportctl("--bootstrap", kafka_bootstrap, "topics", "create")
    assert created.exit_code == 0, created.output
    assert (
        "billing.bills.v1" in created.output and "timetracking.time-entry-commands.v1.dlq" in created.output
    )

    topic = own_topic(partitions=2)
    await ensure_topics(kafka_bootstrap, [topic])
    await produce(kafka_bootstrap, topic.name, [b"1", b"2", b"3"])
    described = await supportctl("--bootstrap", kafka_bootstrap, "topics", "describe", topic.name, topic.dlq)
    assert described.exit_code == 0, described.output
    assert _cells(described.output, topic.name) == [topic.name, "2", "3", "3"]
    assert _cells(described.output, topic.dlq) == [topic.dlq, "1", "0", "0"]

    missing = await supportctl("--bootstrap", kafka_bootstrap, "topics", "describe", "no-such-topic.v1")
    assert missing.exit_code == 1 and "no topic" in missing.output


def _cells(output: str, first: str) -> list[str]:
    """The cells of the table row that starts with `first`."""
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.replace("┃", "│").split("│") if cell.strip()]
        if cells and cells[0] == first:
            return cells
    raise AssertionError(f"no row {first!r} in:\n{output}")


async def test_lag_shows_what_a_group_has_not_read(kafka_bootstrap: str) -> None:
    topic = own_topic()
    await ensure_topics(kafka_bootstrap, [topic])
    await produce(kafka_bootstrap, topic.name, [f"{n}".encode() for n in range(5)])
    group = f"supportctl-tests.g-{uuid.uuid4().hex[:10]}"
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic.name, 0)])
        await consumer.commit({TopicPartition(topic.name, 0): 2})
    finally:
        await consumer.stop()

    result = await supportctl("--bootstrap", kafka_bootstrap, "lag", "--group", group)
    assert result.exit_code == 0, result.output
    assert _cells(result.output, group) == [group, topic.name, "0", "2", "5", "3"]
    assert f"{group}: lag 3" in result.output


async def test_dead_letters_are_listed_once_per_original_position_filtered_shown_and_replayed(
    kafka_bootstrap: str,
) -> None:
    topic = own_topic(partitions=6)
    await ensure_topics(kafka_bootstrap, [topic])

    def dead_letter(offset: int, reason: str, consumer: str) -> list[tuple[str, bytes]]:
        return [
            ("traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
            ("dlq-reason", reason.encode()),
            ("dlq-consumer", consumer.encode()),
            ("dlq-original-topic", topic.name.encode()),
            ("dlq-original-partition", b"2"),
            ("dlq-original-offset", str(offset).encode()),
        ]

    broken = b'{"specversion": "1.0", "id": "broken'
    await produce(kafka_bootstrap, topic.dlq, [broken], b"c-1", dead_letter(7, "not JSON: EOF", "billing"))
    # The same record dead-lettered by a second consumer group: one dead letter, two consumers.
    await produce(
        kafka_bootstrap, topic.dlq, [broken], b"c-1", dead_letter(7, "not JSON: EOF", "timetracking")
    )
    rule = CloudEvent.wrap(
        GenerateBill(contract_id=uuid.uuid4(), period="9"), source="t", subject="s", actor="a"
    )
    await produce(
        kafka_bootstrap, topic.dlq, [rule.to_json()], b"c-2", dead_letter(8, "NoSuchPeriod: 9", "billing")
    )

    listed = await supportctl("--bootstrap", kafka_bootstrap, "dlq", "list", topic.name)
    assert listed.exit_code == 0, listed.output
    assert "2 dead letters" in listed.output
    assert _cells(listed.output, "0:0")[1:6] == ["2:7", "(not JSON)", "c-1", "billing, timetracking", "2"]
    assert _cells(listed.output, "0:2")[1:3] == ["2:8", "billing.bill.generate"]
    filtered = await supportctl(
        "--bootstrap", kafka_bootstrap, "dlq", "list", topic.name, "--reason", "nosuchperiod"
    )
    assert "1 dead letters" in filtered.output and "2:8" in filtered.output and "2:7" not in filtered.output

    shown = await supportctl("--bootstrap", kafka_bootstrap, "dlq", "show", topic.name, "--offset", "2")
    assert shown.exit_code == 0, shown.output
    assert "dlq-reason: NoSuchPeriod: 9" in shown.output and '"billing.bill.generate"' in shown.output

    dry = await supportctl("--bootstrap", kafka_bootstrap, "dlq", "replay", topic.name, "--dry-run")
    assert "would replay" in dry.output
    replayed = await supportctl(
        "--bootstrap", kafka_bootstrap, "dlq", "replay", topic.name, "--reason", "json", "--yes"
    )
    assert replayed.exit_code == 0, replayed.output
    assert "replayed 1 dead letters" in replayed.output
    record = await find_record(kafka_bootstrap, topic.name, lambda r: "dlq-replayed-from" in r.headers)
    assert record.value == broken and record.key == "c-1"
    # Back to the partition it came from, which the key need not hash to with our partitioner (kcat's
    # default differs): a replay must not overtake or trail its key's other records elsewhere.
    assert record.partition == 2 != DefaultPartitioner()(b"c-1", list(range(6)), list(range(6)))
    assert record.headers["dlq-replayed-from"] == f"{topic.dlq}:0:0"
    assert record.headers["traceparent"].startswith("00-0af7651916cd43dd8448eb211c80319c-")
    assert not any(name.startswith("dlq-reason") for name in record.headers)


async def test_events_tail_prints_readable_cloud_events(kafka_bootstrap: str) -> None:
    topic = own_topic()
    await ensure_topics(kafka_bootstrap, [topic])
    body = GenerateBill(contract_id=uuid.uuid4(), period="3")
    event = CloudEvent.wrap(
        body, source="tests", subject=f"contract/{body.contract_id}", actor="ann@example.com"
    )
    await produce(kafka_bootstrap, topic.name, [event.to_json()], str(body.contract_id).encode())
    await produce(kafka_bootstrap, topic.name, [b"plain text"], b"x")

    result = await supportctl(
        "--bootstrap",
        kafka_bootstrap,
        "events",
        "tail",
        topic.name,
        "--from-beginning",
        "--limit",
        "2",
        "--idle",
        "10",
    )
    assert result.exit_code == 0, result.output
    first, *_ = [line for line in result.output.splitlines() if "billing.bill.generate" in line]
    assert f"key={body.contract_id}" in first
    assert f"subject=contract/{body.contract_id}" in first and "actor=ann@example.com" in first
    assert '{"contract_id":"' + str(body.contract_id) + '","period":"3","bill_id":null}' in result.output
    assert "(not a CloudEvent)" in result.output and "plain text" in result.output


# --- on a stack that supportctl starts ----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
async def cli_stack(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, str]]:
    """`supportctl stack up` on free ports; `stack down` (the broker left running) at the end."""
    run = uuid.uuid4().hex[:8]
    var = tmp_path_factory.mktemp("stack")
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "LOG_FORMAT": "json"}
    for name in ("contracts", "billing", "timetracking"):
        port = _free_port()
        env |= {
            f"{name.upper()}_HTTP_PORT": str(port),
            f"{name.upper()}_SERVICE_NAME": f"{name}-cli-{run}",
            f"{name.upper()}_RELAY_POLL_SECONDS": "0.2",
            f"SUPPORTCTL_{name.upper()}_URL": f"http://127.0.0.1:{port}",
        }
    env["BILLING_SCHEDULER_INTERVAL_SECONDS"] = "3600"  # bills are made by `bills run` here
    env["SUPPORTCTL_TOKEN"] = token("admin")  # the services verify the tests' key set (AUTH_JWKS_FILE)
    env["KAFKA_PORT"] = kafka_bootstrap.rpartition(":")[2]
    env["STACK_VAR"] = str(var)
    up = await supportctl("stack", "up", "--no-demo", "--var", str(var), env=env)
    assert f"Kafka: {kafka_bootstrap}" in up.output  # the test's broker, from KAFKA_PORT
    assert up.exit_code == 0, up.output + _logs(var)
    try:
        yield env
    finally:
        await supportctl("stack", "down", "--no-kafka", "--var", str(var), env=env)


def _logs(var: Path) -> str:
    return "\n".join(path.read_text()[-3000:] for path in (var / "log").glob("*.log"))


async def test_stack_status_shows_each_service_ready_and_down_stops_them(cli_stack: dict[str, str]) -> None:
    var = cli_stack["STACK_VAR"]
    status = await supportctl("stack", "status", "--var", var, env=cli_stack)
    assert status.exit_code == 0, status.output
    for name in ("contracts", "billing", "timetracking"):
        cells = _cells(status.output, name)
        assert cells[2] == "running" and cells[3] == "started=ok, database=ok, kafka=ok", status.output
    assert "kafka 127.0.0.1:" in status.output and ": up" in status.output
    lines = (Path(var) / "log" / "billing.log").read_text().splitlines()
    logged = [json.loads(line) for line in lines if line.startswith("{")]  # LOG_FORMAT=json
    assert logged and all(line["service"].startswith("billing-cli-") for line in logged)


async def test_outbox_shows_each_services_backlog(cli_stack: dict[str, str]) -> None:
    result = await supportctl("outbox", env=cli_stack)
    assert result.exit_code == 0, result.output
    for name in ("contracts", "billing", "timetracking"):
        assert _cells(result.output, name)[1].isdigit()
        assert _cells(result.output, name)[4] == "0"  # parked: none
    one = await supportctl("outbox", "--service", "billing", "--release", env=cli_stack)
    assert "billing: 0 parked rows released" in one.output and "contracts" not in one.output


async def test_bills_run_makes_the_bills_due_and_reconcile_finds_them_right(
    cli_stack: dict[str, str],
) -> None:
    start = date.today().replace(day=1) - timedelta(days=70)
    start = start.replace(day=1)  # three monthly cycles back: two of them ended
    async with httpx.AsyncClient(timeout=10, headers=bearer()) as client:
        contract = await sign_contract(
            client,
            cli_stack["SUPPORTCTL_CONTRACTS_URL"],
            account_id=new_account(),
            terms=WORKED_EXAMPLE_1_TERMS,
            start_date=start.isoformat(),
            expiry_date=(start + timedelta(days=364)).isoformat(),
        )
        contract_id = contract["contract_id"]
        await billing_knows(client, cli_stack["SUPPORTCTL_BILLING_URL"], contract_id)

        ran = await supportctl("bills", "run", "--due-before", "now", "--batch", "5", env=cli_stack)
        assert ran.exit_code == 0, ran.output
        made = [line for line in ran.output.splitlines() if contract_id in line]
        assert len(made) >= 2, ran.output  # the back-dated contract's ended cycles

        async def listed() -> bool:
            response = await client.get(
                f"{cli_stack['SUPPORTCTL_BILLING_URL']}/bills", params={"contract_id": contract_id}
            )
            return bool(response.json()["total"] == len(made))

        await eventually(listed)
        again = await supportctl("bills", "run", "--due-before", datetime.now(UTC).isoformat(), env=cli_stack)
        assert contract_id not in again.output  # nothing is billed twice

    checked = await supportctl("bills", "reconcile", "--contract", contract_id, env=cli_stack)
    assert checked.exit_code == 0, checked.output
    assert f"{len(made)} bills reconciled, 0 with differences" in checked.output

    future = await supportctl(
        "bills", "run", "--due-before", (datetime.now(UTC) + timedelta(days=1)).isoformat(), env=cli_stack
    )
    assert future.exit_code == 1 and "422" in future.output


async def test_stack_down_stops_the_services(cli_stack: dict[str, str]) -> None:
    var = cli_stack["STACK_VAR"]
    down = await supportctl("stack", "down", "--no-kafka", "--var", var, env=cli_stack)
    assert down.exit_code == 0, down.output
    assert all(f"{name}: stopped" in down.output for name in ("contracts", "billing", "timetracking"))
    status = await supportctl("stack", "status", "--var", var, env=cli_stack)
    assert all(
        _cells(status.output, name)[2] == "stopped" for name in ("contracts", "billing", "timetracking")
    )
    assert ": up" in status.output  # the broker was left running


async def test_rest_calls_carry_the_bearer_token(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: list[str | None] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        return httpx.Response(
            200, json={"pending": 0, "oldest_pending_at": None, "oldest_pending_seconds": 0.0, "parked": 0}
        )

    def client(settings: Settings) -> httpx.Client:
        return httpx.Client(headers=settings.headers(), transport=httpx.MockTransport(record))

    monkeypatch.setattr(cli, "_client", client)
    keys = tmp_path / "dev-keys"
    jwks = dev_token.init(keys)  # what `supportctl stack up` makes for the dev stack
    by_option = await supportctl("--token", "t0ken", "outbox", "--service", "billing")
    by_env = await supportctl("outbox", "--service", "billing", env={"SUPPORTCTL_TOKEN": "fr0m-env"})
    by_dev_key = await supportctl("outbox", "--service", "billing", env={"SUPPORTCTL_DEV_KEYS": str(keys)})
    assert by_option.exit_code == by_env.exit_code == by_dev_key.exit_code == 0
    assert seen[:2] == ["Bearer t0ken", "Bearer fr0m-env"]
    # Without a token, the dev stack's own key signs an admin token the stack's services accept.
    caller = await TokenVerifier(
        AuthSettings(issuer=dev_token.ISSUER, audience=dev_token.AUDIENCE, leeway_seconds=0, jwks_file=jwks)
    ).verify(str(seen[2]).removeprefix("Bearer "))
    assert caller.subject == "supportctl" and Role.ADMIN in caller.roles and caller.accounts is None


def test_kafka_clients_take_the_services_kafka_security_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "ops",
        "KAFKA_SASL_PASSWORD": "s3cret",
    }.items():
        monkeypatch.setenv(name, value)
    options = Settings(bootstrap="broker:9092").kafka.client_options()
    assert options["bootstrap_servers"] == "broker:9092" and options["client_id"] == "supportctl"
    assert (options["security_protocol"], options["sasl_mechanism"]) == ("SASL_PLAINTEXT", "SCRAM-SHA-512")
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("ops", "s3cret")
