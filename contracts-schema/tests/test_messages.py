"""Every registered message travels in the envelope and back, and the topics describe it consistently."""

from __future__ import annotations

import json
import re
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest

from contracts_schema import CloudEvent, model_of, topic_of
from contracts_schema.cli import build_asyncapi, owning_service
from contracts_schema.primitives import MoneyAmount
from contracts_schema.registry import MESSAGE_TYPES, TOPICS

# Sample values for what a JSON Schema says only by format or pattern. The decimal is also a valid
# percentage: the 0-100 range of `Percentage` is not in its schema.
_FORMAT_SAMPLES = {
    "uuid": "0b9e3c1e-5d0a-4f43-9a55-3f1f3c9a7d21",
    "date-time": "2025-03-31T09:15:00Z",
    "date": "2025-03-31",
    "time": "09:00:00",
}
_PATTERN_SAMPLES = {
    r"^[A-Z]{3}$": "USD",
    r"^-?\d+(\.\d+)?$": "12.50",
    r"^\d{1,9}(\.\d{1,4})?$": "12.50",
    r"^(100(\.0{1,4})?|\d{1,2}(\.\d{1,4})?)$": "8.5",
    r"^[^@ ]+@[^@ ]+$": "billing@example.com",
    r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$": "Europe/Berlin",
}
# What model validators need beyond the schema, by the model's schema title.
_VALIDATOR_OVERRIDES: dict[str, dict[str, Any]] = {
    "WorkingHours": {"start": "09:00:00", "end": "17:00:00"},
    "LogTimeEntry": {"ended_at": None},
    "MarkTimeEntriesBillable": {"selection": None},
}


def sample_from_schema(schema: dict[str, Any], root: dict[str, Any]) -> Any:
    """A value with every property filled in, built from a message's published JSON Schema alone."""
    if "$ref" in schema:
        return sample_from_schema(root["$defs"][schema["$ref"].removeprefix("#/$defs/")], root)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema:
        branch = next(branch for branch in schema["anyOf"] if branch.get("type") != "null")
        return sample_from_schema(branch, root)
    kind = schema["type"]
    if kind == "object":
        value = {name: sample_from_schema(prop, root) for name, prop in schema.get("properties", {}).items()}
        return value | _VALIDATOR_OVERRIDES.get(schema.get("title", ""), {})
    if kind == "array":
        return [sample_from_schema(schema["items"], root)]
    if kind == "string":
        if "format" in schema:
            return _FORMAT_SAMPLES[schema["format"]]
        if "pattern" in schema:
            return _PATTERN_SAMPLES[schema["pattern"]]
        return "s" * max(schema.get("minLength", 1), 1)
    if kind in ("integer", "number"):
        return max(schema.get("minimum", 1), schema.get("exclusiveMinimum", 0) + 1)
    if kind == "boolean":
        return True
    raise AssertionError(f"no sample for schema {schema}")


@pytest.mark.parametrize("message_type", sorted(MESSAGE_TYPES))
def test_message_round_trips_through_the_cloudevent_envelope(message_type: str) -> None:
    model = model_of(message_type)
    schema = model.model_json_schema(mode="serialization")
    body = model.model_validate(sample_from_schema(schema, schema))

    event = CloudEvent.wrap(body, source="/tests", subject="subject-1", actor="rep-1")
    parsed = CloudEvent.model_validate_json(event.to_json())

    assert parsed.type == message_type
    assert parsed == event
    assert model_of(parsed.type).model_validate(parsed.data) == body
    assert topic_of(parsed.type).messages[message_type] is model


def test_money_and_percentages_travel_as_decimal_strings() -> None:
    model = model_of("billing.bill.issued")
    schema = model.model_json_schema(mode="serialization")
    body = model.model_validate(sample_from_schema(schema, schema))

    data = CloudEvent.model_validate_json(
        CloudEvent.wrap(body, source="/t", subject="s", actor=None).to_json()
    ).data

    assert data["bill"]["total"] == {"amount": "12.50", "currency": "USD"}
    assert data["bill"]["tax_percent"] == "12.50"


def test_each_message_type_is_registered_on_one_topic_only() -> None:
    registrations = Counter(message_type for topic in TOPICS for message_type in topic.messages)

    assert [message_type for message_type, count in registrations.items() if count > 1] == []


def test_each_model_is_registered_under_one_message_type() -> None:
    models = Counter(model for topic in TOPICS for model in topic.messages.values())

    assert [model.__name__ for model, count in models.items() if count > 1] == []


def test_topics_are_named_service_aggregate_version_and_carry_their_service_messages() -> None:
    names = [topic.name for topic in TOPICS]

    assert len(set(names)) == len(names)
    for topic in TOPICS:
        assert re.fullmatch(r"[a-z]+\.[a-z][a-z-]*\.v[0-9]+", topic.name), topic.name
        assert topic.kind in ("events", "commands")
        assert topic.partitions >= 1
        assert topic.messages, f"{topic.name} carries no messages"
        for message_type in topic.messages:
            assert message_type.startswith(owning_service(topic) + "."), message_type


def test_each_command_topic_is_answered_on_an_event_topic_of_its_own_service() -> None:
    by_name = {topic.name: topic for topic in TOPICS}

    for topic in TOPICS:
        if topic.kind == "events":
            assert topic.answered_on is None, topic.name
            continue
        answers = by_name[topic.answered_on or ""]
        assert answers.kind == "events", topic.name
        assert owning_service(answers) == owning_service(topic), topic.name
        assert answers.name in topic.description, topic.name


def test_asyncapi_names_every_topic_with_its_key_partitions_and_dlq() -> None:
    channels = build_asyncapi()["channels"]

    for topic in TOPICS:
        channel = channels[topic.name]
        assert channel["address"] == topic.name
        assert channel["description"] == topic.description
        assert channel["x-key"] == topic.key
        assert channel["bindings"]["kafka"]["partitions"] == topic.partitions
        assert sorted(channel["messages"]) == sorted(topic.messages)
        assert channel["x-dlq"] == topic.dlq == f"{topic.name}.dlq"
        assert channels[topic.dlq]["address"] == topic.dlq
        assert channels[topic.dlq]["x-dlq-of"] == topic.name
    assert len(channels) == 2 * len(TOPICS)


def test_asyncapi_says_which_service_sends_and_receives() -> None:
    operations = build_asyncapi()["operations"]

    for topic in TOPICS:
        send = operations[f"{topic.name}.send"]
        assert send["action"] == "send"
        assert send["channel"] == {"$ref": f"#/channels/{topic.name}"}
        if topic.kind == "events":
            assert send["x-service"] == owning_service(topic)
        else:
            assert send["x-service"] == "integrations"
            assert operations[f"{topic.name}.receive"]["x-service"] == owning_service(topic)


def test_asyncapi_message_payload_is_the_envelope_with_the_body_as_data() -> None:
    messages = build_asyncapi()["components"]["messages"]

    payload = messages["contracts.contract.created"]["payload"]
    assert payload["allOf"][0] == {"$ref": "#/components/schemas/CloudEvent"}
    assert payload["allOf"][1]["properties"] == {
        "type": {"const": "contracts.contract.created"},
        "data": {"$ref": "#/components/schemas/ContractCreated"},
    }
    assert messages["contracts.contract.created"]["bindings"]["kafka"]["key"]["description"] == "contract id"


def test_every_ref_in_the_asyncapi_document_resolves() -> None:
    document = build_asyncapi()

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return own + [ref for value in node.values() for ref in refs(value)]
        if isinstance(node, list):
            return [ref for value in node for ref in refs(value)]
        return []

    found = refs(document)
    assert found
    for ref in found:
        target: Any = document
        for token in ref.removeprefix("#/").split("/"):
            assert token in target, f"{ref} does not resolve"
            target = target[token]


@pytest.mark.parametrize(
    ("amount", "currency", "written"),
    [
        ("50", "USD", "50.00"),  # a plan's base charge as typed: on the wire as on a bill
        ("0", "USD", "0.00"),
        ("12.5", "EUR", "12.50"),
        ("5000", "JPY", "5000"),
        ("1.5", "BHD", "1.500"),
        ("0.8333", "USD", "0.8333"),  # more decimals than the currency's are kept, never rounded
    ],
)
def test_money_is_written_with_at_least_its_currencys_minor_units(
    amount: str, currency: str, written: str
) -> None:
    money = MoneyAmount(amount=Decimal(amount), currency=currency)
    assert json.loads(money.model_dump_json())["amount"] == written
    assert MoneyAmount.model_validate_json(money.model_dump_json()) == money  # the same amount read back
