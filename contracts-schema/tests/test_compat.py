"""The breaking-change check, on schemas of small pydantic models written side by side: old and new."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from contracts_schema.compat import (
    BreakingChange,
    TopicContract,
    catalog_breaking_changes,
    schema_breaking_changes,
    topic_breaking_changes,
)


def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema(mode="serialization")


def changes(old: type[BaseModel], new: type[BaseModel]) -> list[str]:
    return [str(change) for change in schema_breaking_changes(schema_of(old), schema_of(new))]


# --- breaking ---------------------------------------------------------------------------------------


def test_removing_a_property_is_breaking() -> None:
    class Old(BaseModel):
        contract_id: str
        reason: str = ""

    class New(BaseModel):
        contract_id: str

    assert changes(Old, New) == ["reason: property removed"]


def test_changing_a_property_type_is_breaking() -> None:
    class Old(BaseModel):
        units: int

    class New(BaseModel):
        units: str

    assert changes(Old, New) == ["units: type changed from integer to string"]


def test_narrowing_a_number_to_an_integer_is_breaking() -> None:
    class Old(BaseModel):
        units: float

    class New(BaseModel):
        units: int

    assert changes(Old, New) == ["units: type changed from number to integer"]


def test_no_longer_accepting_null_is_breaking() -> None:
    class Old(BaseModel):
        task_id: str | None = None

    class New(BaseModel):
        task_id: str = ""

    assert changes(Old, New) == ["task_id: no longer accepts null"]


def test_dropping_one_type_of_a_union_is_breaking() -> None:
    class Old(BaseModel):
        period: int | str

    class New(BaseModel):
        period: str

    assert changes(Old, New) == ["period: no longer accepts integer"]


def test_adding_a_required_property_is_breaking() -> None:
    class Old(BaseModel):
        contract_id: str

    class New(BaseModel):
        contract_id: str
        account_id: str

    assert changes(Old, New) == ["account_id: new required property"]


def test_making_an_optional_property_required_is_breaking() -> None:
    class Old(BaseModel):
        reason: str = ""

    class New(BaseModel):
        reason: str

    assert changes(Old, New) == ["reason: optional property made required"]


def test_removing_an_enum_value_is_breaking() -> None:
    class OldStatus(StrEnum):
        ISSUED = "issued"
        PAID = "paid"
        VOID = "void"

    class NewStatus(StrEnum):
        ISSUED = "issued"
        PAID = "paid"

    class Old(BaseModel):
        status: OldStatus

    class New(BaseModel):
        status: NewStatus

    assert changes(Old, New) == ["status: enum values removed: 'void'"]


def test_changing_a_constant_is_breaking() -> None:
    class Old(BaseModel):
        specversion: Literal["1.0"] = "1.0"

    class New(BaseModel):
        specversion: Literal["2.0"] = "2.0"

    assert changes(Old, New) == ["specversion: value changed from '1.0' to '2.0'"]


def test_restricting_a_free_value_to_an_enum_is_breaking() -> None:
    class Old(BaseModel):
        kind: str

    class New(BaseModel):
        kind: Literal["base_charge", "overage"]

    assert changes(Old, New) == ["kind: now restricted to 'base_charge', 'overage'"]


@pytest.mark.parametrize(
    ("old_field", "new_field", "expected"),
    [
        (Field(max_length=200), Field(max_length=100), "maxLength lowered from 200 to 100"),
        (Field(min_length=1), Field(min_length=3), "minLength raised from 1 to 3"),
        (Field(), Field(max_length=100), "maxLength added: 100"),
        (
            Field(pattern=r"^[A-Z]+$"),
            Field(pattern=r"^[A-Z]{3}$"),
            "pattern changed from '^[A-Z]+$' to '^[A-Z]{3}$'",
        ),
        (Field(), Field(pattern=r"^[A-Z]{3}$"), "pattern added: '^[A-Z]{3}$'"),
    ],
)
def test_tightening_a_string_constraint_is_breaking(old_field: Any, new_field: Any, expected: str) -> None:
    class Old(BaseModel):
        value: str = old_field

    class New(BaseModel):
        value: str = new_field

    assert changes(Old, New) == [f"value: {expected}"]


@pytest.mark.parametrize(
    ("old_field", "new_field", "expected"),
    [
        (Field(le=100), Field(le=50), "maximum lowered from 100 to 50"),
        (Field(ge=0), Field(ge=1), "minimum raised from 0 to 1"),
        (Field(ge=0), Field(gt=0), "minimum raised from 0 to 0 (exclusive)"),
        (Field(lt=10), Field(lt=5), "maximum lowered from 10 (exclusive) to 5 (exclusive)"),
        (Field(), Field(ge=0), "minimum added: 0"),
        (Field(multiple_of=5), Field(multiple_of=10), "multipleOf changed from 5 to 10"),
    ],
)
def test_tightening_a_number_constraint_is_breaking(old_field: Any, new_field: Any, expected: str) -> None:
    class Old(BaseModel):
        value: int = old_field

    class New(BaseModel):
        value: int = new_field

    assert changes(Old, New) == [f"value: {expected}"]


def test_tightening_an_array_constraint_is_breaking() -> None:
    class Old(BaseModel):
        working_days: list[int] = Field(max_length=7)

    class New(BaseModel):
        working_days: list[int] = Field(min_length=1, max_length=5)

    assert changes(Old, New) == [
        "working_days: minItems added: 1",
        "working_days: maxItems lowered from 7 to 5",
    ]


def test_forbidding_additional_properties_is_breaking() -> None:
    class Old(BaseModel):
        contract_id: str

    class New(BaseModel):
        model_config = ConfigDict(extra="forbid")
        contract_id: str

    assert changes(Old, New) == ["additionalProperties: false added"]


def test_changes_inside_referenced_models_are_found_with_their_path() -> None:
    class OldMoney(BaseModel):
        amount: str
        currency: str

    class NewMoney(BaseModel):
        amount: float
        currency: str = Field(pattern=r"^[A-Z]{3}$")

    class OldLine(BaseModel):
        price: OldMoney

    class NewLine(BaseModel):
        price: NewMoney

    class Old(BaseModel):
        lines: list[OldLine]
        totals: dict[str, OldMoney]
        discount: OldMoney | None = None

    class New(BaseModel):
        lines: list[NewLine]
        totals: dict[str, NewMoney]
        discount: NewMoney | None = None

    assert changes(Old, New) == [
        "lines[].price.amount: type changed from string to number",
        "lines[].price.currency: pattern added: '^[A-Z]{3}$'",
        "totals.*.amount: type changed from string to number",
        "totals.*.currency: pattern added: '^[A-Z]{3}$'",
        "discount.amount: type changed from string to number",
        "discount.currency: pattern added: '^[A-Z]{3}$'",
    ]


def test_recursive_models_are_compared_without_looping() -> None:
    class OldNode(BaseModel):
        name: str
        children: list[OldNode] = []

    class NewNode(BaseModel):
        name: str = Field(max_length=10)
        children: list[NewNode] = []

    assert changes(OldNode, NewNode) == ["name: maxLength added: 10"]


def test_refs_with_siblings_and_all_of_are_resolved() -> None:
    old = {
        "$defs": {"Money": {"type": "object", "properties": {"amount": {"type": "string"}}}},
        "type": "object",
        "properties": {"price": {"allOf": [{"$ref": "#/$defs/Money"}], "description": "unit price"}},
    }
    new = {
        "$defs": {"Price": {"type": "object", "properties": {"amount": {"type": "integer"}}}},
        "type": "object",
        "properties": {"price": {"$ref": "#/$defs/Price", "description": "unit price"}},
    }

    assert [str(change) for change in schema_breaking_changes(old, new)] == [
        "price.amount: type changed from string to integer"
    ]


def test_an_unresolvable_ref_is_an_error_not_a_pass() -> None:
    broken = {"type": "object", "properties": {"price": {"$ref": "#/$defs/Missing"}}}

    with pytest.raises(ValueError, match="does not resolve"):
        schema_breaking_changes(broken, broken)


def test_changes_name_their_message_type() -> None:
    class Old(BaseModel):
        reason: str

    class New(BaseModel):
        pass

    assert schema_breaking_changes(schema_of(Old), schema_of(New), "contracts.contract.terminated") == [
        BreakingChange("contracts.contract.terminated", "reason", "property removed")
    ]


# --- not breaking -----------------------------------------------------------------------------------


def test_adding_an_optional_property_is_not_breaking() -> None:
    class Old(BaseModel):
        model_config = ConfigDict(extra="forbid")
        contract_id: str

    class New(BaseModel):
        model_config = ConfigDict(extra="forbid")
        contract_id: str
        reason: str | None = None

    assert changes(Old, New) == []


def test_adding_an_enum_value_is_not_breaking() -> None:
    class Old(BaseModel):
        status: Literal["issued", "paid"]

    class New(BaseModel):
        status: Literal["issued", "paid", "void"]

    assert changes(Old, New) == []


def test_loosening_constraints_is_not_breaking() -> None:
    class Old(BaseModel):
        model_config = ConfigDict(extra="forbid")
        name: str = Field(min_length=3, max_length=100, pattern=r"^[a-z]+$")
        units: int = Field(gt=0, le=10)
        tags: list[str] = Field(min_length=1, max_length=3)

    class New(BaseModel):
        name: str = Field(min_length=1, max_length=200)
        units: int = Field(ge=0)
        tags: list[str]

    assert changes(Old, New) == []


def test_widening_a_type_is_not_breaking() -> None:
    class Old(BaseModel):
        units: int
        task_id: str

    class New(BaseModel):
        units: float
        task_id: str | None

    assert changes(Old, New) == []


def test_making_a_required_property_optional_and_rewording_is_not_breaking() -> None:
    class Old(BaseModel):
        reason: str = Field(description="why")

    class New(BaseModel):
        reason: str = Field(default="", description="why it ended")

    assert changes(Old, New) == []


def test_an_unchanged_schema_has_no_breaking_changes() -> None:
    class Message(BaseModel):
        model_config = ConfigDict(extra="forbid")
        contract_id: str
        units: int = Field(ge=1)
        status: Literal["a", "b"] | None = None

    assert changes(Message, Message) == []


# --- message types and topics -----------------------------------------------------------------------


def test_removing_a_message_type_is_breaking_and_adding_one_is_not() -> None:
    message = {"type": "object"}
    old = {"billing.bill.issued": message, "billing.bill.voided": message}
    new = {"billing.bill.issued": message, "billing.bill.paid": message}

    assert catalog_breaking_changes(old, new) == [
        BreakingChange("billing.bill.voided", "", "message type removed")
    ]


def test_catalog_reports_changes_per_message_type() -> None:
    old = {"billing.bill.issued": {"type": "object", "properties": {"bill_id": {"type": "string"}}}}
    new = {"billing.bill.issued": {"type": "object"}}

    assert [str(change) for change in catalog_breaking_changes(old, new)] == [
        "billing.bill.issued bill_id: property removed"
    ]


def test_topic_removed_rekeyed_or_losing_a_message_type_is_breaking() -> None:
    old = {
        "billing.bills.v1": TopicContract(
            "contract id", frozenset({"billing.bill.issued", "billing.bill.paid"})
        ),
        "billing.usage.v1": TopicContract("contract id", frozenset({"billing.usage.exhausted"})),
        "billing.legacy.v1": TopicContract("contract id", frozenset({"billing.legacy.thing"})),
    }
    new = {
        "billing.bills.v1": TopicContract("contract id", frozenset({"billing.bill.issued"})),
        "billing.usage.v1": TopicContract("account id", frozenset({"billing.usage.exhausted"})),
        "billing.payments.v1": TopicContract("contract id", frozenset({"billing.bill.paid"})),
    }

    assert [str(change) for change in topic_breaking_changes(old, new)] == [
        "topic billing.bills.v1: billing.bill.paid moved to another topic",
        "topic billing.legacy.v1: topic removed",
        "topic billing.usage.v1: key changed from 'contract id' to 'account id'",
    ]


def test_adding_a_topic_or_a_message_type_to_a_topic_is_not_breaking() -> None:
    old = {"billing.bills.v1": TopicContract("contract id", frozenset({"billing.bill.issued"}))}
    new = {
        "billing.bills.v1": TopicContract(
            "contract id", frozenset({"billing.bill.issued", "billing.bill.paid"})
        ),
        "billing.bills.v2": TopicContract("contract id", frozenset({"billing.bill.issued.v2"})),
    }

    assert topic_breaking_changes(old, new) == []
