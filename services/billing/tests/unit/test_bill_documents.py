"""A bill's document and its events as billing writes them without the models: the same JSON values
the models write (`wire.bill_state`, the event bodies), whatever the bill says."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pydantic
import pytest

from billing.adapters import wire as adapters
from billing.domain.bill_versions import Bill, BillIssued, BillMade, BillStatus, BillStatusChanged
from billing.domain.bills import compose_bill
from billing.domain.terms import BillRule, DifferentialRates, EntryTraits, RuleCriterion, RuleField
from billing.domain.usage import TopUpPurchase, UsageEntry, calculate_cycle_usage
from contracts_schema import billing as bills_wire
from servicekit.money import Money
from servicekit.uow import EncodedBody

from ..builders import billing_contract, hour_terms, local, made_bill, office


def uuid_entry(day: date, minutes: int, **details: object) -> UsageEntry:
    start = local("Europe/Berlin", day.year, day.month, day.day, 16)
    return UsageEntry(str(uuid.uuid4()), "R1", start, minutes=minutes, **details)  # type: ignore[arg-type]


def every_kind_of_line(currency: str) -> Bill:
    """Base charge, top-up, overage by category, a bill rule's line and other charges, in `currency`,
    with a discount and tax that leave remainders to round."""
    rule = BillRule(
        "Migration",
        (RuleCriterion(RuleField.PRODUCT, frozenset({"migration"}), None),),
        True,
        Money.of(90, currency),
    )
    terms = hour_terms(
        currency,
        base_charge=Money.of("123.45", currency),
        allowance_units=60,
        overage_rate=DifferentialRates(
            *(Money.of(rate, currency) for rate in ("50", "75.5", "100", "150.125"))
        ),
        discount_percent=Decimal("7.5"),
        tax_percent=Decimal("19"),
        bill_rules=(rule,),
    )
    contract = billing_contract()
    period = contract.period("1")
    assert period.usage_cycle is not None
    entries = [
        uuid_entry(date(2026, 1, 5), 155),  # Monday 16:00: operational, then non-operational
        uuid_entry(date(2026, 1, 10), 61, other_charges=Money.of("7.5", currency)),  # a Saturday
        uuid_entry(date(2026, 1, 1), 30),  # a holiday
        uuid_entry(date(2026, 1, 7), 45, traits=EntryTraits(product="migration")),
    ]
    holidays = frozenset({date(2026, 1, 1)})
    usage = calculate_cycle_usage(
        terms,
        period.usage_cycle,
        entries,
        office("Europe/Berlin", holidays=holidays),
        top_ups=[TopUpPurchase("Top-up bought 2026-01-09", 60, Money.of("33.333", currency))],
    )
    draft = compose_bill(terms, base_charge_cycle=period.usage_cycle, usage=usage)
    at = period.usage_cycle.ends_at
    return Bill.make(contract, period, draft, bill_id=uuid.uuid4(), version=2, made_at=at, draft_from=at)


def bills_of_every_shape() -> list[Bill]:
    worked_example = made_bill(
        billing_contract(), "1", uuid_entry(date(2026, 1, 5), 270), uuid_entry(date(2026, 1, 6), 405)
    )
    prepaid_first = made_bill(billing_contract(mode="prepaid"), "1")
    draft = made_bill(
        billing_contract(grace_period_days=3), "1", uuid_entry(date(2026, 1, 6), 30), automatic=True
    )
    return [
        worked_example,
        prepaid_first,
        draft,
        *(every_kind_of_line(currency) for currency in ("USD", "JPY", "BHD", "EUR")),
        replace(
            worked_example,
            status=BillStatus.VOID,
            is_main=True,
            void_reason='naïve ✓ "quoted" \\ \n\t\x01 \u2028',
            notes="<b>&</b> 💶",
            billing_email=None,
            needs_regeneration=True,
            regeneration_reasons=("time entries edited after the bill was made", "terms changed"),
        ),
        replace(draft, grace_ends_at=datetime(2026, 2, 3, 4, 5, 6, 789, tzinfo=UTC)),
        replace(draft, grace_ends_at=datetime(2026, 2, 3, 4, 5, tzinfo=ZoneInfo("Europe/Berlin"))),
        replace(worked_example, usage_starts_at=None, usage_ends_at=None, time_entry_ids=()),
        replace(worked_example, discount_percent=Decimal("0.000"), tax_percent=Decimal(100)),
        replace(worked_example, total=Money(Decimal("632.5"), "USD")),  # fewer places than the currency's
    ]


def same_json(text: str | bytes, value: Any) -> bool:
    """The same JSON value, types included: Python's == takes true for 1 and 1 for 1.0."""
    return orjson.dumps(json.loads(text), option=orjson.OPT_SORT_KEYS) == orjson.dumps(
        value, option=orjson.OPT_SORT_KEYS
    )


@pytest.mark.parametrize("bill", bills_of_every_shape())
def test_a_bills_document_is_the_json_value_its_model_writes(bill: Bill) -> None:
    assert same_json(adapters.bill_document(bill), adapters.bill_state(bill).model_dump(mode="json"))


def test_entry_ids_not_written_as_str_of_a_uuid_are_read_by_the_model_as_before() -> None:
    bill = made_bill(billing_contract(), "1", uuid_entry(date(2026, 1, 5), 270))
    upper = replace(bill, time_entry_ids=tuple(entry_id.upper() for entry_id in bill.time_entry_ids))
    assert same_json(adapters.bill_document(upper), adapters.bill_state(bill).model_dump(mode="json"))
    with pytest.raises(pydantic.ValidationError):
        adapters.bill_document(replace(bill, time_entry_ids=("e1",)))


@pytest.mark.parametrize("bill", bills_of_every_shape()[:4])
def test_a_new_or_issued_bills_event_is_the_json_value_of_its_model(bill: Bill) -> None:
    issued = replace(bill, status=BillStatus.ISSUED, grace_ends_at=None)
    made = bills_wire.BillDrafted if bill.is_draft else bills_wire.BillIssued
    for event, model in ((BillMade(bill), made), (BillIssued(issued), bills_wire.BillIssued)):
        encoded = adapters.bill_event(event, {bill.bill_id: adapters.bill_document(event.bill)})
        assert isinstance(encoded, EncodedBody) and encoded.model is model
        assert same_json(encoded.json, model(bill=adapters.bill_state(event.bill)).model_dump(mode="json"))


def test_other_events_of_a_bill_are_their_models() -> None:
    bill = bills_of_every_shape()[0]
    event = adapters.bill_event(BillStatusChanged(bill, BillStatus.ISSUED), {})
    assert event == bills_wire.BillStatusChanged(
        bill=adapters.bill_state(bill), previous_status=bills_wire.BillStatus.ISSUED
    )
