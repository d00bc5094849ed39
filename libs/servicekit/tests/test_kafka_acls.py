"""The declared Kafka ACLs give each principal its own topics and groups and nothing else, and every
Kafka client reads the broker's security from the same KAFKA_* variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts_schema import TOPICS
from contracts_schema.cli import owning_service
from servicekit import admin
from servicekit.kafka_acls import (
    INTEGRATION,
    SUBSCRIPTIONS,
    AclBinding,
    Operation,
    PatternType,
    ResourceType,
    declared_access,
    declared_bindings,
    integration_access,
    service_access,
)
from servicekit.kafka_security import from_environment

EVENT_TOPICS = {topic.name for topic in TOPICS if topic.kind == "events"}
COMMAND_TOPICS = {topic.name for topic in TOPICS if topic.kind == "commands"}


def test_an_integration_writes_only_command_topics_and_reads_their_answers() -> None:
    access = integration_access()

    assert set(access.writes) == COMMAND_TOPICS
    assert set(access.reads) == {"contracts.contracts.v1", "timetracking.time-entries.v1", "billing.bills.v1"}
    assert access.group_prefix == "integration."
    assert integration_access("crm").principal == "User:crm"
    assert integration_access("crm").group_prefix == "crm."


@pytest.mark.parametrize("service", sorted(SUBSCRIPTIONS))
def test_a_service_writes_its_own_event_topics_and_the_dead_letters_of_what_it_reads(service: str) -> None:
    access = service_access(service)
    own_events = {
        topic.name for topic in TOPICS if owning_service(topic) == service and topic.kind == "events"
    }

    assert set(access.writes) == own_events | {name + ".dlq" for name in access.reads}
    assert not set(access.writes) & COMMAND_TOPICS, "commands come from integrations only"
    assert not set(access.writes) & (EVENT_TOPICS - own_events), "another service's events"
    assert access.group_prefix == f"{service}."


def test_every_event_topic_has_one_writer_and_every_command_topic_one_reader() -> None:
    accesses = declared_access()
    for topic in TOPICS:
        writers = {access.user for access in accesses if topic.name in access.writes}
        readers = {access.user for access in accesses if topic.name in access.reads}
        if topic.kind == "events":
            assert writers == {owning_service(topic)}, topic.name
        else:
            assert writers == {INTEGRATION}, topic.name
            assert readers == {owning_service(topic)}, topic.name


def test_bindings_allow_read_and_write_on_literal_topics_and_read_on_the_group_prefix() -> None:
    bindings = service_access("timetracking").bindings()

    assert (
        AclBinding(
            "User:timetracking",
            ResourceType.TOPIC,
            "timetracking.time-entry-commands.v1",
            PatternType.LITERAL,
            Operation.READ,
        )
        in bindings
    )
    assert (
        AclBinding(
            "User:timetracking", ResourceType.GROUP, "timetracking.", PatternType.PREFIXED, Operation.READ
        )
        in bindings
    )
    groups = [binding for binding in declared_bindings() if binding.resource_type is ResourceType.GROUP]
    assert {binding.resource_name for binding in groups} == {
        "contracts.",
        "billing.",
        "timetracking.",
        "integration.",
    }
    assert len(set(declared_bindings())) == len(declared_bindings())


def test_kafka_security_comes_from_the_services_variables() -> None:
    plain = from_environment({})
    assert (plain.protocol, plain.uses_sasl, plain.for_aiokafka()) == (
        "PLAINTEXT",
        False,
        {"security_protocol": "PLAINTEXT"},
    )
    scram = from_environment(
        {
            "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "KAFKA_SASL_USERNAME": "billing",
            "KAFKA_SASL_PASSWORD": "pw",
            "KAFKA_SSL_CAFILE": "",
        }
    )
    assert scram.for_aiokafka() == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "billing",
        "sasl_plain_password": "pw",
    }
    assert from_environment({"KAFKA_SSL_CAFILE": "/ca.pem"}).cafile == Path("/ca.pem")
    with pytest.raises(ValueError, match="KAFKA_SECURITY_PROTOCOL"):
        from_environment({"KAFKA_SECURITY_PROTOCOL": "SASL"})
    with pytest.raises(ValueError, match="KAFKA_SASL_MECHANISM"):
        from_environment({"KAFKA_SASL_MECHANISM": "GSSAPI"})
    with pytest.raises(ValueError, match="KAFKA_SASL_USERNAME"):
        from_environment({"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"}).for_aiokafka()


def test_the_admin_command_lists_the_acls_and_takes_passwords_only_from_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert admin.main(["acls", "list", "--integration", "crm"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed == [binding.describe() for binding in declared_bindings(["crm"])]
    assert "User:crm may WRITE topic billing.bill-commands.v1" in listed

    monkeypatch.delenv("KAFKA_PASSWORD_BILLING", raising=False)
    assert admin.main(["users", "billing", "--bootstrap", "127.0.0.1:1"]) == 2
    assert "set KAFKA_PASSWORD_BILLING" in capsys.readouterr().err
