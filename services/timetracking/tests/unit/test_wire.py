"""The mapping between timetracking's domain and contracts-schema: what goes in, what is stored and sent."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError
from pydantic_core import to_json

from contracts_schema import timetracking as schema
from contracts_schema.billing import BillStatus, BillStatusChanged
from contracts_schema.contracts import ContractScope
from contracts_schema.timetracking import (
    EditTimeEntry,
    MarkTimeEntriesBillable,
    TimeEntryEdits,
    TimeEntrySelection,
    TimeEntryState,
)
from servicekit.money import Money
from timetracking.adapters import wire
from timetracking.domain.bills import ClosedPeriod
from timetracking.domain.commands import MAX_BATCH
from timetracking.domain.errors import InvalidSpan, ReasonRequired
from timetracking.domain.time_entries import KEEP, Duration, EndedAt, new_time_entry

from ..conftest import NOW, bill, covering_contract, work


def test_a_log_command_gives_its_end_or_its_duration_as_the_span(make_log_command) -> None:
    command = make_log_command()
    assert wire.work_log(command).span == EndedAt(command.ended_at)
    assert wire.work_log(make_log_command(ended_at=None, duration_minutes=45)).span == Duration(45)


def test_other_charges_come_in_as_money_with_their_decimals_kept(make_log_command) -> None:
    command = make_log_command(other_charges={"amount": "12.50", "currency": "USD"})

    assert wire.work_log(command).other_charges == Money(Decimal("12.50"), "USD")


def test_other_charges_in_more_decimals_than_their_currency_has_are_refused_at_the_edge(
    make_log_command,
) -> None:
    with pytest.raises(ValidationError, match="USD has 2 decimals"):
        make_log_command(other_charges={"amount": "12.345", "currency": "USD"})


def test_rate_type_and_custom_fields_come_in_as_given(make_log_command) -> None:
    work = wire.work_log(make_log_command(rate_type="expedited", custom_fields={"ticket": "T-9"}))
    assert (work.rate_type, work.custom_fields) == ("expedited", {"ticket": "T-9"})


def test_an_edit_changes_only_the_fields_it_sent() -> None:
    edits = wire.entry_edits(TimeEntryEdits(description="jam", billable=False))

    assert (edits.description, edits.billable) == ("jam", False)
    assert (edits.request_id, edits.span, edits.custom_fields, edits.time_taken_minutes) == (KEEP,) * 4


def test_null_clears_an_optional_field_and_leaves_a_required_one_as_it_is() -> None:
    edits = wire.entry_edits(
        TimeEntryEdits.model_validate({"time_taken_minutes": None, "product": None, "rep_id": None})
    )

    assert (edits.time_taken_minutes, edits.product, edits.rep_id) == (None, None, KEEP)


def test_an_edit_gives_a_new_end_or_a_new_duration_not_both() -> None:
    ended_at = datetime(2026, 3, 2, 16, tzinfo=UTC)
    assert wire.entry_edits(TimeEntryEdits(ended_at=ended_at)).span == EndedAt(ended_at)
    assert wire.entry_edits(TimeEntryEdits(duration_minutes=20)).span == Duration(20)
    with pytest.raises(InvalidSpan, match="at most one"):
        wire.entry_edits(TimeEntryEdits(ended_at=ended_at, duration_minutes=20))


def test_an_edit_command_carries_its_entry_account_and_reason_but_they_are_no_edits() -> None:
    entry_id = uuid.uuid4()
    command = EditTimeEntry(entry_id=entry_id, account_id="acme", reason="typo", duration_minutes=30)

    edit = wire.edit_command(command)

    assert (edit.entry_id, edit.account_id, edit.reason, edit.edits.span) == (
        entry_id,
        "acme",
        "typo",
        Duration(30),
    )


def test_a_marking_by_selection_is_of_the_commands_account_and_ids_are_counted_once() -> None:
    selection = TimeEntrySelection(rep_id="ann", billed=False)
    by_selection = wire.billable_marking(
        MarkTimeEntriesBillable(account_id="acme", billable=False, selection=selection)
    )
    entry_id = uuid.uuid4()
    by_ids = wire.billable_marking(
        MarkTimeEntriesBillable(account_id="acme", billable=True, entry_ids=[entry_id, entry_id])
    )

    assert by_selection.selection is not None
    assert (by_selection.selection.account_id, by_selection.selection.rep_id) == ("acme", "ann")
    assert by_ids.entry_ids == (entry_id,)


def test_the_batch_limit_is_the_schemas() -> None:
    assert MAX_BATCH == schema.MAX_BATCH


def test_a_contract_is_kept_with_its_scope_calendar_and_the_terms_reps_work_under(
    make_contract_state, make_plan_terms
) -> None:
    state = make_contract_state(
        scope=ContractScope(all_products=False, products=["printer"]),
        terms=make_plan_terms(currency="EUR", reps_may_add_other_charges=True),
        time_zone="Europe/Berlin",
        version=3,
    )

    announced = wire.announced_contract(state)

    contract = announced.contract
    assert (contract.contract_id, contract.account_id, announced.number) == (
        state.contract_id,
        state.account_id,
        state.contract_number,
    )
    assert (contract.all_products, contract.products) == (False, frozenset({"printer"}))
    assert (contract.currency, contract.reps_may_add_other_charges) == ("EUR", True)
    assert (contract.reps_may_override_time_taken, contract.version) == (False, 3)
    assert (contract.calendar_id, contract.time_zone) == (state.terms.calendar_id, "Europe/Berlin")


def test_a_terminated_contract_covers_up_to_its_termination_date(make_contract_state) -> None:
    state = make_contract_state(termination_date=date(2026, 6, 30))

    contract = wire.announced_contract(state).contract

    assert (contract.start_date, contract.end_date) == (date(2026, 1, 1), date(2026, 6, 30))


def test_a_stored_entry_reads_back_as_it_was_written() -> None:
    entry = new_time_entry(
        uuid.uuid4(),
        work(
            other_charges=Money(Decimal("12.30"), "USD"),
            product="printer",
            task_id="T1",
            rate_type="on-site",
            custom_fields={"ticket": "T-9"},
            time_taken_minutes=60,
        ),
        covering_contract(reps_may_add_other_charges=True, reps_may_override_time_taken=True),
        now=NOW,
    )

    assert wire.time_entry_of_document(wire.time_entry_document(entry)) == entry
    deleted = entry.marked_deleted(reason=None)
    assert wire.time_entry_of_document(wire.time_entry_document(deleted)) == deleted


def test_an_entry_is_stored_as_the_time_entry_state_its_events_carry() -> None:
    entry = new_time_entry(
        uuid.uuid4(),
        work(other_charges=Money(Decimal("12.30"), "USD"), time_taken_minutes=60),
        covering_contract(reps_may_add_other_charges=True, reps_may_override_time_taken=True),
        now=NOW,
    )

    document = wire.time_entry_document(entry)

    assert (
        document
        == schema.TimeEntryLogged(entry=wire.time_entry_state(entry)).model_dump(mode="json")["entry"]
    )
    assert (document["started_at"], document["ended_at"], document["duration_minutes"]) == (
        "2026-03-02T14:00:00Z",
        "2026-03-02T15:30:00Z",
        None,
    )
    assert (document["minutes"], document["time_taken_minutes"], document["note"]) == (60, 60, None)
    assert document["other_charges"] == {"amount": "12.30", "currency": "USD"}


def test_an_entry_waiting_for_its_contract_says_so_on_the_wire() -> None:
    document = wire.time_entry_document(new_time_entry(uuid.uuid4(), work(), None, now=NOW))
    assert (document["contract_id"], document["note"]) == (None, "no covering contract known yet")


def test_an_entry_stored_before_its_span_was_kept_reads_as_a_duration_of_its_minutes() -> None:
    old = TimeEntryState(
        entry_id=uuid.uuid4(),
        account_id="acme",
        contract_id=None,
        request_id="R1",
        rep_id="ann",
        started_at=datetime(2026, 3, 2, 14, tzinfo=UTC),
        minutes=90,
        billable=True,
        include_non_operational=True,
        version=1,
    )
    assert wire.time_entry(old).work.span == Duration(90)


def test_a_rejection_names_the_rule_broken_and_where_in_a_batch() -> None:
    entry_id = uuid.uuid4()

    rejected = wire.time_entry_rejected(
        entry_id,
        "acme",
        ReasonRequired("give a reason"),
        index=3,
        command_type="timetracking.time_entries.log",
    )

    assert (rejected.entry_id, rejected.account_id, rejected.reason) == (entry_id, "acme", "give a reason")
    assert (rejected.index, rejected.command_type, rejected.error) == (
        3,
        "timetracking.time_entries.log",
        "ReasonRequired",
    )


def test_a_paid_main_bill_settles_its_entries_and_closes_the_usage_cycle_it_carries() -> None:
    starts, ends = datetime(2026, 3, 1, 5, tzinfo=UTC), datetime(2026, 4, 1, 4, tzinfo=UTC)
    entry_ids = [uuid.uuid4()]
    paid = bill(status=BillStatus.PAID, time_entry_ids=entry_ids, usage_starts_at=starts, usage_ends_at=ends)

    settled = wire.paid_bill(BillStatusChanged(bill=paid, previous_status=BillStatus.SENT))

    assert settled is not None and settled.time_entry_ids == tuple(entry_ids)
    assert settled.closes == ClosedPeriod(paid.contract_id, "3", paid.bill_number, starts, ends)


def test_a_paid_bill_without_usage_closes_nothing_and_other_status_changes_settle_nothing() -> None:
    """A prepaid contract's first bill carries no usage; a bill that is not main, or is sent or voided,
    is not what a period's payment is."""
    prepaid_first = bill(status=BillStatus.PAID, period="1")
    paid = wire.paid_bill(BillStatusChanged(bill=prepaid_first, previous_status=BillStatus.SENT))
    assert paid is not None and paid.closes is None

    usage = {"usage_starts_at": NOW, "usage_ends_at": NOW}
    for other in (
        bill(status=BillStatus.SENT, **usage),
        bill(status=BillStatus.VOID, **usage),
        bill(status=BillStatus.PAID, is_main=False, **usage),
    ):
        assert wire.paid_bill(BillStatusChanged(bill=other, previous_status=BillStatus.ISSUED)) is None


_ENTRIES = [
    {},
    {"span": Duration(45), "time_taken_minutes": 30, "product": "Gold", "task_id": "T-1"},
    {"other_charges": Money(Decimal("12.5"), "USD"), "billable": False, "work_log_type": "onsite"},
    {
        "description": 'ein "Ärger" \\ \u2028 ✓\n\tline two \x7e </script>',
        "rate_type": "expedited",
        "custom_fields": {"b": "2", "a": "1", "ü": '"quoted"'},
    },
    {"other_charges": Money(Decimal("1000.00"), "USD"), "include_non_operational": False},
    {"other_charges": Money(Decimal("0.1"), "USD"), "span": Duration(1)},
    {"other_charges": Money(Decimal("7"), "JPY")},
    {"started_at": datetime(2000, 1, 1, tzinfo=UTC), "span": EndedAt(datetime(2000, 1, 1, 0, 1, tzinfo=UTC))},
]


@pytest.mark.parametrize("changes", _ENTRIES)
@pytest.mark.parametrize("covered", [True, False])
def test_an_entry_s_stored_document_and_its_logged_event_are_what_the_models_write(changes, covered) -> None:
    contract = (
        covering_contract(reps_may_override_time_taken=True, reps_may_add_other_charges=True, currency="JPY")
        if changes.get("other_charges") and changes["other_charges"].currency == "JPY"
        else covering_contract(reps_may_override_time_taken=True, reps_may_add_other_charges=True)
    )
    entry = new_time_entry(uuid.uuid4(), work(**changes), contract if covered else None, now=NOW)
    entry = dataclasses.replace(
        entry, version=3, billed=covered, settled=covered, note=None if covered else "why"
    )
    document = wire.time_entry_json(entry)
    assert document == wire.time_entry_state(entry).model_dump_json()

    encoded = wire.time_entry_logged_around(document)
    assert encoded.model is schema.TimeEntryLogged
    assert encoded.json == to_json(schema.TimeEntryLogged(entry=wire.time_entry_state(entry)))
