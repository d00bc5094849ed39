"""The edge limits: every input text, list and batch is bounded, the largest events they allow fit a
message, and the shared types refuse what no service could store or read."""

from __future__ import annotations

import json
from datetime import date, time
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from contracts_schema import edge, limits, sizes
from contracts_schema.cli import ENVELOPE_SCHEMA, build_documents
from contracts_schema.contracts import BusinessCalendar, CalendarFields, PlanTermsFields
from contracts_schema.envelope import CloudEvent
from contracts_schema.registry import TOPICS

COMMANDS = [message_type for topic in TOPICS if topic.kind == "commands" for message_type in topic.messages]
BOUNDED_FORMATS = frozenset({"uuid", "date", "date-time"})


@pytest.mark.parametrize("message_type", sorted(sizes.largest_events()))
def test_the_largest_event_the_limits_allow_fits_a_message(message_type: str) -> None:
    assert sizes.event_bytes(sizes.largest_events()[message_type]) <= limits.MAX_EVENT_BYTES


def test_a_bill_of_the_entries_the_readme_promises_fits_a_message() -> None:
    plain = sizes.largest_bill_main_changed(entries=12_000, entries_with_other_charges=0)
    charged = sizes.largest_bill_main_changed(entries=1_250, entries_with_other_charges=1_250)

    assert sizes.event_bytes(plain) <= limits.MAX_EVENT_BYTES
    assert sizes.event_bytes(charged) <= limits.MAX_EVENT_BYTES


def _unbounded(schema: Any, root: dict[str, Any], path: str) -> list[str]:
    """Paths of strings, lists and maps in a JSON Schema that have no maximum."""
    if not isinstance(schema, dict):
        return []
    if "$ref" in schema:
        return _unbounded(root["$defs"][schema["$ref"].removeprefix("#/$defs/")], root, path)
    found: list[str] = []
    for branch in schema.get("anyOf", []):
        found += _unbounded(branch, root, path)
    kind = schema.get("type")
    if kind == "string" and not (
        "maxLength" in schema or "enum" in schema or "const" in schema or "pattern" in schema
    ):
        if schema.get("format") not in BOUNDED_FORMATS:
            found.append(path)
    if kind == "array":
        if "maxItems" not in schema:
            found.append(path)
        found += _unbounded(schema.get("items"), root, f"{path}[]")
    if kind == "object":
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            if "maxProperties" not in schema:
                found.append(path)
            found += _unbounded(extra, root, f"{path}.*")
            found += _unbounded(schema.get("propertyNames"), root, f"{path}.<name>")
        for name, child in schema.get("properties", {}).items():
            found += _unbounded(child, root, f"{path}.{name}" if path else name)
    return found


@pytest.mark.parametrize("message_type", COMMANDS)
def test_every_text_list_and_batch_of_a_command_has_a_maximum(message_type: str) -> None:
    schema = build_documents()[f"schemas/{message_type}.json"]
    assert _unbounded(schema, schema, "") == []


def test_the_envelope_schema_requires_specversion() -> None:
    assert "specversion" in build_documents()[ENVELOPE_SCHEMA]["required"]
    event = json.loads(
        sizes.CloudEvent.wrap(
            sizes.contracts.CalendarSaved(calendar=sizes.largest_calendar()),
            source="s",
            subject="s",
            actor=None,
        ).to_json()
    )
    del event["specversion"]
    with pytest.raises(ValidationError):
        CloudEvent.model_validate(event)


def test_no_published_calendar_time_claims_an_offset() -> None:
    """JSON Schema's `format: time` is RFC 3339's full-time, which has an offset; ours have none."""
    text = json.dumps(build_documents()["schemas/contracts.calendar.saved.json"])
    assert '"format": "time"' not in text


# --- the shared types -----------------------------------------------------------------------------

CALENDAR: dict[str, Any] = {
    "name": "Berlin office",
    "time_zone": "Europe/Berlin",
    "working_hours": [{"start": "09:00", "end": "17:00"}],
}


@pytest.mark.parametrize(
    "changes",
    [
        {"time_zone": ""},
        {"time_zone": "localtime"},
        {"time_zone": "Factory"},
        {"time_zone": "Mars/Olympus"},
        {"time_zone": "../../etc/passwd"},
        {"working_hours": [{"start": "09:00+05:00", "end": "17:00+05:00"}]},
        {
            "working_hours": [
                {"start": "09:00+05:00", "end": "12:00+05:00"},
                {"start": "13:00", "end": "17:00"},
            ]
        },
        {"working_hours": [{"start": "09:00", "end": "12:00"}, {"start": "11:00", "end": "17:00"}]},
        {"working_hours": [{"start": "24:00", "end": "24:00"}]},
        {"working_hours": [{"start": "17:00", "end": "09:00"}]},
        {"working_hours": [{"start": "09:00:30", "end": "17:00"}]},
        {"working_hours": []},
        {"working_days": [1, 1]},
        {"holidays": ["9999-12-31"]},
        {"name": "\ud800"},
        {"name": "tab\tin a name"},
        {"name": "x" * (limits.NAME_LENGTH + 1)},
    ],
)
def test_a_calendar_no_service_could_read_is_refused_at_the_edge(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        CalendarFields.model_validate({**CALENDAR, **changes})


def test_a_calendar_day_may_end_at_midnight_and_is_published_so() -> None:
    fields = CalendarFields.model_validate(
        {
            **CALENDAR,
            "working_hours": [{"start": "18:00", "end": "24:00"}, {"start": "08:00", "end": "12:00"}],
        }
    )
    published = BusinessCalendar(calendar_id=sizes._id(), **fields.model_dump())

    assert [(hours.start, hours.end) for hours in fields.working_hours] == [
        (time(18), time(0)),
        (time(8), time(12)),
    ]
    assert json.loads(published.model_dump_json())["working_hours"][0] == {
        "start": "18:00:00",
        "end": "24:00:00",
    }


def test_a_calendar_published_with_offsets_is_read_on_the_wall_clock() -> None:
    """Contracts accepted `09:00+05:00` before the edge checked calendars: readers ignore the offset."""
    published = BusinessCalendar.model_validate(
        {
            "calendar_id": str(sizes._id()),
            "name": "old",
            "time_zone": "Asia/Tashkent",
            "working_days": [1, 2, 3, 4, 5],
            "working_hours": [
                {"start": "09:00:00+05:00", "end": "13:00:00+05:00"},
                {"start": "14:00", "end": "18:00"},
            ],
        }
    )
    assert [(hours.start, hours.end) for hours in published.working_hours] == [
        (time(9), time(13)),
        (time(14), time(18)),
    ]


@pytest.mark.parametrize(
    "money",
    [
        {"amount": "1.234", "currency": "USD"},
        {"amount": "1.5", "currency": "JPY"},
        {"amount": "-1", "currency": "USD"},
        {"amount": "1000000000", "currency": "USD"},
        {"amount": "1", "currency": "ABC"},
        {"amount": "1", "currency": "XXX"},
        {"amount": "NaN", "currency": "USD"},
    ],
)
def test_money_outside_its_currency_or_bounds_is_refused(money: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        edge.Money.model_validate(money)


def test_money_in_an_iso_currency_and_its_minor_units_is_taken() -> None:
    assert str(edge.Money.model_validate({"amount": "1.234", "currency": "BHD"}).amount) == "1.234"


@pytest.mark.parametrize("value", ["-1", "100.01", "1.23456", "Infinity"])
def test_percentages_are_from_0_to_100(value: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(edge.Percent).validate_python(value)


@pytest.mark.parametrize("value", ["1999-12-31", "2100-01-01", "9999-12-31"])
def test_dates_outside_the_century_are_refused(value: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(edge.CalendarDate).validate_python(value)
    with pytest.raises(ValidationError):
        TypeAdapter(edge.Instant).validate_python(f"{value}T23:59:59-01:00")


def test_dates_inside_the_century_are_taken() -> None:
    assert TypeAdapter(edge.CalendarDate).validate_python("2099-12-31") == date(2099, 12, 31)


def test_a_plans_bill_rules_are_bounded_as_a_whole() -> None:
    terms = sizes.largest_terms().model_dump(mode="json")
    PlanTermsFields.model_validate(terms)
    terms["bill_rules"][0]["criteria"][1]["values"] = ["x"]

    with pytest.raises(ValidationError, match="criterion values"):
        PlanTermsFields.model_validate(terms)
