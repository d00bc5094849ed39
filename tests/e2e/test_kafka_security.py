"""Who may do what on Kafka, on the real broker started secured: scripts/kafka.sh with KAFKA_SASL=1
(SASL/SCRAM-SHA-512, the KRaft StandardAuthorizer, nothing allowed without an ACL, `admin` the only
super user), on ports of its own (TEST_KAFKA_SASL_PORT, 49092, and the next one).

The broker's admin makes the users, the topics and the declared ACLs as docs/security.md says (and adds
an integration with `python -m servicekit.admin`); then the three services run as processes, each as its
own user and without creating topics. A contract, an integration's commands and their answers go
through all three; a client without the ACL cannot produce to a command topic, forge another's events,
or read another's topic or group.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    KafkaError,
    TopicAuthorizationFailedError,
)

from billing.bootstrap import bootstrap as build_billing
from billing.config import BillingSettings
from contracts_schema import registry
from contracts_schema.billing import GenerateBill
from contracts_schema.timetracking import LogTimeEntry
from servicekit.kafka import ensure_topics
from servicekit.kafka_acls import SUBSCRIPTIONS, declared_bindings
from servicekit.kafka_admin import admin_requests, apply_acls, set_scram_credentials
from servicekit.kafka_security import KafkaSecurity
from tests.e2e.stack import SERVICES, Stack, make_stack
from tests.support.auth import bearer
from tests.support.kafka import eventually, find_record, produce, produce_event
from tests.support.scenario import (
    WORKED_EXAMPLE_1_TERMS,
    billing_knows,
    new_account,
    sign_running_contract,
    usage_reaches,
    work_day,
)

ROOT = Path(__file__).resolve().parents[2]
PORT = int(os.environ.get("TEST_KAFKA_SASL_PORT", "49092"))
USERS = (*SERVICES, "integration", "nobody")
"""`nobody` authenticates, and has no ACL at all."""
NEW_INTEGRATION = "crm"
"""A connected system added by the admin command line during the run."""

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]


@dataclass(frozen=True)
class SecuredBroker:
    bootstrap: str
    passwords: dict[str, str]

    def security(self, user: str, password: str | None = None) -> KafkaSecurity:
        return KafkaSecurity(
            "SASL_PLAINTEXT",
            "SCRAM-SHA-512",
            user,
            password if password is not None else self.passwords[user],
        )

    def client_env(self, user: str) -> dict[str, str]:
        """The KAFKA_* variables of a process that connects as `user`."""
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "KAFKA_SASL_USERNAME": user,
            "KAFKA_SASL_PASSWORD": self.passwords[user],
        }

    def admin(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`python -m servicekit.admin ARGS` as the broker's admin, with the users' passwords at hand."""
        env = {
            **os.environ,
            **self.client_env("admin"),
            **{f"KAFKA_PASSWORD_{user.upper()}": password for user, password in self.passwords.items()},
        }
        return subprocess.run(
            [sys.executable, "-m", "servicekit.admin", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def broker() -> Iterator[SecuredBroker]:
    """A fresh secured broker: its own KAFKA_HOME, formatted with this run's admin password; stopped and
    removed at the end."""
    if _answers(PORT) or _answers(PORT + 1):
        pytest.fail(f"127.0.0.1:{PORT} or {PORT + 1} is taken; set TEST_KAFKA_SASL_PORT to a free pair")
    passwords = {user: secrets.token_urlsafe(12) for user in ("admin", *USERS, NEW_INTEGRATION)}
    home = ROOT / ".cache" / f"kafka-sasl-pytest-{PORT}"
    shutil.rmtree(home, ignore_errors=True)
    env = {
        **os.environ,
        "KAFKA_SASL": "1",
        "KAFKA_PORT": str(PORT),
        "KAFKA_CONTROLLER_PORT": str(PORT + 1),
        "KAFKA_HOME": str(home),
        "KAFKA_ADMIN_PASSWORD": passwords["admin"],
    }
    kafka_sh = [str(ROOT / "scripts" / "kafka.sh")]
    started = time.monotonic()
    subprocess.run([*kafka_sh, "start"], env=env, check=True, timeout=120)
    try:
        print(f"\nsecured broker up in {time.monotonic() - started:.1f} s")
        yield SecuredBroker(f"127.0.0.1:{PORT}", passwords)
    finally:
        subprocess.run([*kafka_sh, "stop"], env=env, check=False, timeout=60)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
async def secured_broker(broker: SecuredBroker) -> SecuredBroker:
    """The broker with the users, the topics and the declared ACLs, made by admin as
    `python -m servicekit.admin users|create-topics|acls apply` make them (that command line is tested
    below, once)."""
    admin = broker.security("admin")
    async with admin_requests(broker.bootstrap, admin) as send:
        await set_scram_credentials(send, {user: broker.passwords[user] for user in USERS})
        await ensure_topics(broker.bootstrap, security=admin)
        await apply_acls(send, declared_bindings())
    return broker


@pytest.fixture(scope="module")
def secured_stack(
    secured_broker: SecuredBroker,
    database_url: Callable[[str], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """The three services, each as its own Kafka user, creating no topics."""
    stack = make_stack(
        secured_broker.bootstrap,
        {name: database_url(name) for name in SERVICES},
        tmp_path_factory.mktemp("secured-logs"),
        {"KAFKA_CREATE_TOPICS": "false", "LOG_FORMAT": "json"},
    )
    for name in SERVICES:
        for replica in stack.replicas(name):
            replica.env.update(secured_broker.client_env(name))
    with stack.running() as ready_in:
        print(f"stack ready in {ready_in:.1f} s")
        yield stack


async def test_admin_commands_check_the_acls_and_add_an_integration_with_its_user(
    secured_broker: SecuredBroker,
) -> None:
    check = secured_broker.admin("acls", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "acls: 0 missing, 0 not declared" in check.stdout

    crm = secured_broker.security(NEW_INTEGRATION)
    command = LogTimeEntry(
        entry_id=uuid.uuid4(),
        request_id="R-crm",
        account_id=new_account(),
        rep_id="ann",
        started_at=datetime.now(UTC) - timedelta(hours=2),
        ended_at=datetime.now(UTC) - timedelta(hours=1),
    )
    users = secured_broker.admin("users", NEW_INTEGRATION)
    assert users.returncode == 0, users.stdout + users.stderr
    # Signed in, but with no ACL yet its idempotent producer is not even given a producer id.
    with pytest.raises(ClusterAuthorizationFailedError):
        await produce_event(
            secured_broker.bootstrap, registry.TIME_ENTRY_COMMANDS.name, command, "crm", security=crm
        )
    applied = secured_broker.admin("acls", "apply", "--integration", NEW_INTEGRATION)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert f"created: User:{NEW_INTEGRATION} may WRITE topic contracts.contract-commands.v1" in applied.stdout
    await produce_event(
        secured_broker.bootstrap, registry.TIME_ENTRY_COMMANDS.name, command, "crm", security=crm
    )


async def test_each_service_works_with_its_own_user_and_an_integrations_commands_are_answered(
    secured_broker: SecuredBroker, secured_stack: Stack
) -> None:
    integration = secured_broker.security("integration")
    bootstrap = secured_broker.bootstrap
    account = new_account()
    async with httpx.AsyncClient(timeout=10, headers=bearer()) as client:
        # contracts writes its events; billing reads them in its own group.
        contract, start = await sign_running_contract(
            client, secured_stack["contracts"].url, account_id=account, terms=WORKED_EXAMPLE_1_TERMS
        )
        contract_id = contract["contract_id"]
        await billing_knows(client, secured_stack["billing"].url, contract_id)

        # An integration's command: timetracking reads it, answers on its events topic, which the
        # integration reads; billing accrues the entry from the same topic.
        started_at = datetime.fromisoformat(work_day(start, 1))
        command = LogTimeEntry(
            entry_id=uuid.uuid4(),
            request_id="R-sasl",
            account_id=account,
            rep_id="bob",
            started_at=started_at,
            ended_at=started_at + timedelta(minutes=90),
        )
        sent = await produce_event(
            bootstrap, registry.TIME_ENTRY_COMMANDS.name, command, account, security=integration
        )
        reply = await find_record(
            bootstrap,
            registry.TIME_ENTRIES.name,
            lambda r: r.json().get("causationid") == str(sent.id),
            security=integration,
        )
        assert reply.json()["type"] == "timetracking.time_entry.logged"
        assert reply.json()["data"]["entry"]["contract_id"] == contract_id
        await usage_reaches(client, secured_stack["billing"].url, contract_id, used=90)

        # A bill command: billing answers on billing.bills.v1, which the integration reads too.
        generate = GenerateBill(contract_id=contract_id, period="1")
        asked = await produce_event(
            bootstrap, registry.BILLING_COMMANDS.name, generate, contract_id, security=integration
        )
        bill = await find_record(
            bootstrap,
            registry.BILLS.name,
            lambda r: r.json().get("causationid") == str(asked.id),
            security=integration,
        )
        assert bill.json()["type"] in ("billing.bill.drafted", "billing.bill.issued"), bill.json()

    # A command that cannot be read is dead-lettered by timetracking on the .dlq twin it may write.
    await produce(bootstrap, registry.TIME_ENTRY_COMMANDS.name, b"not JSON", account, security=integration)
    dead = await find_record(
        bootstrap,
        registry.TIME_ENTRY_COMMANDS.dlq,
        lambda r: r.key == account and r.value == b"not JSON",
        security=secured_broker.security("admin"),
    )
    assert dead.headers["dlq-consumer"] == "timetracking.log-commands"

    # Every subscriber of every service joined its group: none was refused.
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, **secured_broker.security("admin").for_aiokafka()
    )
    await admin.start()
    try:

        async def joined() -> dict[str, int] | None:
            groups = [group for group, _protocol in await admin.list_consumer_groups()]
            counts = {
                service: sum(group.startswith(f"{service}.") for group in groups) for service in SERVICES
            }
            return counts if counts == {s: len(topics) for s, topics in SUBSCRIPTIONS.items()} else None

        await eventually(joined)
    finally:
        await admin.close()


@pytest.mark.parametrize(
    ("user", "topic", "idempotent"),
    [
        ("nobody", registry.CONTRACT_COMMANDS.name, False),
        ("nobody", registry.BILLING_COMMANDS.name, False),
        ("timetracking", registry.CONTRACT_COMMANDS.name, True),
        ("billing", registry.TIME_ENTRY_COMMANDS.name, True),
        ("integration", registry.CONTRACTS.name, True),  # an integration cannot forge a service's events
        ("contracts", registry.BILLS.name, True),
    ],
)
async def test_a_client_without_the_acl_cannot_produce_to_the_topic(
    secured_broker: SecuredBroker, user: str, topic: str, idempotent: bool
) -> None:
    # `nobody` may write nowhere, so an idempotent producer of its would be refused its producer id
    # before it names a topic; a plain one shows the topic itself refused.
    producer = AIOKafkaProducer(
        bootstrap_servers=secured_broker.bootstrap,
        enable_idempotence=idempotent,
        request_timeout_ms=10_000,
        **secured_broker.security(user).for_aiokafka(),
    )
    await producer.start()
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await producer.send_and_wait(topic, b"{}", key=b"k")
    finally:
        await producer.stop()


@pytest.mark.parametrize(
    ("user", "topic", "group", "refusal"),
    [
        ("nobody", registry.TIME_ENTRIES.name, None, TopicAuthorizationFailedError),
        ("billing", registry.TIME_ENTRY_COMMANDS.name, None, TopicAuthorizationFailedError),
        ("integration", registry.CALENDARS.name, None, TopicAuthorizationFailedError),
        ("integration", registry.CONTRACTS.name, "billing.contract-copy", GroupAuthorizationFailedError),
        ("timetracking", registry.CONTRACTS.name, "billing.contract-copy", GroupAuthorizationFailedError),
    ],
)
async def test_a_client_without_the_acl_cannot_read_another_services_topic_or_group(
    secured_broker: SecuredBroker, user: str, topic: str, group: str | None, refusal: type[KafkaError]
) -> None:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=secured_broker.bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **secured_broker.security(user).for_aiokafka(),
    )
    try:
        with pytest.raises(refusal):  # the topic is refused as the consumer starts, the group as it joins
            await consumer.start()
            await consumer.getmany(timeout_ms=5000)
    finally:
        await consumer.stop()


async def test_a_wrong_password_is_refused(
    secured_broker: SecuredBroker, caplog: pytest.LogCaptureFixture
) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=secured_broker.bootstrap,
        **secured_broker.security("integration", password="not-its-password").for_aiokafka(),
    )
    with pytest.raises(KafkaConnectionError, match="Unable to bootstrap"):
        await producer.start()
    await producer.stop()
    assert "invalid credentials with SASL mechanism SCRAM-SHA-512" in caplog.text


async def test_a_service_that_may_not_create_topics_stops_at_start_when_its_topics_are_not_there(
    secured_broker: SecuredBroker, database_url: Callable[[str], str]
) -> None:
    # `nobody` sees no topic at all, as a service would before the admin created them.
    settings = BillingSettings(
        database_url=database_url("billing"),
        **{key.lower(): value for key, value in secured_broker.client_env("nobody").items()},
        kafka_create_topics=False,
    )
    service = build_billing(settings).service
    try:
        with pytest.raises(
            RuntimeError, match="topics missing or not readable by nobody: .*contracts.contracts.v1"
        ):
            await service.start()
    finally:
        await service.db.dispose()
