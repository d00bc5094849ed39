"""The one place where timetracking's domain meets contracts-schema, in both directions.

In: log commands and REST bodies (what a rep entered), edits, deletions and billable markings,
contract states, calendars, bills. Out: the time-entry events and replies, and the JSON document each
entry is stored as, which is its `TimeEntryState`. A change of the domain is therefore not a change of
the wire, and the other way round.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from contracts_schema.billing import BillMainChanged, BillState, BillStatus, BillStatusChanged
from contracts_schema.contracts import BusinessCalendar as CalendarDocument
from contracts_schema.contracts import ContractState
from contracts_schema.primitives import MoneyAmount, amount_text
from contracts_schema.timetracking import (
    DeleteTimeEntry,
    EditTimeEntry,
    MarkTimeEntriesBillable,
    TimeEntriesMarked,
    TimeEntryChanged,
    TimeEntryDeleted,
    TimeEntryEdits,
    TimeEntryFields,
    TimeEntryLogged,
    TimeEntryRejected,
    TimeEntrySelection,
    TimeEntryState,
)
from servicekit.business_hours import BusinessCalendar, WorkingHours
from servicekit.errors import DomainError
from servicekit.money import Money
from servicekit.uow import EncodedBody
from timetracking.domain.bills import ClosedPeriod, IssuedBill, MainBillChange, PaidBill
from timetracking.domain.commands import BillableMarking, EntryDeletion, EntryEdit, EntrySelection
from timetracking.domain.contracts import AnnouncedContract, CoveringContract
from timetracking.domain.errors import InvalidSpan
from timetracking.domain.time_entries import (
    KEEP,
    Duration,
    EndedAt,
    EntryEdits,
    Keep,
    Span,
    TimeEntry,
    WorkLog,
)

# --- in ---------------------------------------------------------------------------------------------


def work_log(fields: TimeEntryFields) -> WorkLog:
    """What the rep entered, from a log command or a REST body (both are `TimeEntryFields`)."""
    return _work(fields, _span(fields))


def _work(source: TimeEntryFields | TimeEntryState, span: Span) -> WorkLog:
    """What the rep entered, as a log command states it or as it is stored: the fields share names."""
    return WorkLog(
        request_id=source.request_id,
        task_id=source.task_id,
        account_id=source.account_id,
        product=source.product,
        rep_id=source.rep_id,
        started_at=source.started_at,
        span=span,
        time_taken_minutes=source.time_taken_minutes,
        billable=source.billable,
        include_non_operational=source.include_non_operational,
        other_charges=_money(source.other_charges),
        description=source.description,
        work_log_type=source.work_log_type,
        rate_type=source.rate_type,
        custom_fields=dict(source.custom_fields),
    )


def _span(fields: TimeEntryFields) -> Span:
    match fields.ended_at, fields.duration_minutes:
        case datetime() as ended_at, None:
            return EndedAt(ended_at)
        case None, int() as minutes:
            return Duration(minutes)
    # The message model already refuses this; the domain says so too rather than guess.
    raise InvalidSpan("give exactly one of ended_at or duration_minutes")


_CLEARABLE = frozenset(
    {"task_id", "product", "time_taken_minutes", "other_charges", "work_log_type", "rate_type"}
)
"""Fields an edit clears by sending null; null for any other field leaves it as it is."""


def entry_edits(edits: TimeEntryEdits) -> EntryEdits:
    """The fields an edit sent (a REST body or an edit command); those not sent stay as they are."""
    sent = edits.model_fields_set & TimeEntryEdits.model_fields.keys()

    def given(name: str) -> Any:
        value = getattr(edits, name)
        return value if name in sent and (value is not None or name in _CLEARABLE) else KEEP

    charges = given("other_charges")
    custom_fields = given("custom_fields")
    return EntryEdits(
        request_id=given("request_id"),
        task_id=given("task_id"),
        product=given("product"),
        rep_id=given("rep_id"),
        started_at=given("started_at"),
        span=_span_edit(edits),
        time_taken_minutes=given("time_taken_minutes"),
        billable=given("billable"),
        include_non_operational=given("include_non_operational"),
        other_charges=charges if charges is KEEP else _money(charges),
        description=given("description"),
        work_log_type=given("work_log_type"),
        rate_type=given("rate_type"),
        custom_fields=custom_fields if custom_fields is KEEP else dict(custom_fields),
    )


def _span_edit(edits: TimeEntryEdits) -> Span | Keep:
    match edits.ended_at, edits.duration_minutes:
        case None, None:
            return KEEP
        case datetime() as ended_at, None:
            return EndedAt(ended_at)
        case None, int() as minutes:
            return Duration(minutes)
    raise InvalidSpan("give at most one of ended_at or duration_minutes")


def entry_edit(
    edits: TimeEntryEdits, entry_id: UUID, reason: str | None, account_id: str | None = None
) -> EntryEdit:
    return EntryEdit(entry_id, entry_edits(edits), reason, account_id)


def edit_command(command: EditTimeEntry) -> EntryEdit:
    return entry_edit(command, command.entry_id, command.reason, command.account_id)


def delete_command(command: DeleteTimeEntry) -> EntryDeletion:
    return EntryDeletion(command.entry_id, command.reason, command.account_id)


def billable_marking(command: MarkTimeEntriesBillable) -> BillableMarking:
    """A bulk marking, from the command or the REST body (the same model)."""
    return BillableMarking(
        account_id=command.account_id,
        billable=command.billable,
        entry_ids=tuple(dict.fromkeys(command.entry_ids)) if command.entry_ids is not None else None,
        selection=_selection(command.selection, command.account_id) if command.selection else None,
        reason=command.reason,
    )


def _selection(selection: TimeEntrySelection, account_id: str) -> EntrySelection:
    return EntrySelection(
        account_id=account_id,
        rep_id=selection.rep_id,
        request_id=selection.request_id,
        contract_id=selection.contract_id,
        started_from=selection.started_from,
        started_before=selection.started_before,
        billed=selection.billed,
    )


def announced_contract(state: ContractState) -> AnnouncedContract:
    return AnnouncedContract(
        CoveringContract(
            contract_id=state.contract_id,
            account_id=state.account_id,
            all_products=state.scope.all_products,
            products=frozenset(state.scope.products),
            start_date=state.start_date,
            end_date=state.termination_date or state.expiry_date,
            time_zone=state.time_zone,
            currency=state.terms.currency,
            reps_may_override_time_taken=state.terms.reps_may_override_time_taken,
            reps_may_add_other_charges=state.terms.reps_may_add_other_charges,
            version=state.version,
            calendar_id=state.terms.calendar_id,
        ),
        number=state.contract_number,
    )


def business_calendar(calendar: CalendarDocument) -> BusinessCalendar:
    """A calendar in its own zone; summaries read it on the contract's clock."""
    return BusinessCalendar(
        time_zone=calendar.time_zone,
        working_days=frozenset(calendar.working_days),
        working_hours=tuple(WorkingHours(hours.start, hours.end) for hours in calendar.working_hours),
        holidays=frozenset(calendar.holidays),
    )


def paid_bill(event: BillStatusChanged) -> PaidBill | None:
    """What a main bill's payment settles and closes; None for any other change of status."""
    bill = event.bill
    if not (bill.is_main and bill.status is BillStatus.PAID):
        return None
    closes = (
        ClosedPeriod(
            contract_id=bill.contract_id,
            period=bill.period,
            bill_number=bill.bill_number,
            starts_at=bill.usage_starts_at,
            ends_at=bill.usage_ends_at,
        )
        if bill.usage_starts_at is not None and bill.usage_ends_at is not None
        else None
    )
    return PaidBill(time_entry_ids=tuple(bill.time_entry_ids), closes=closes)


def issued_bill(state: BillState) -> IssuedBill:
    return IssuedBill(is_main=state.is_main, time_entry_ids=tuple(state.time_entry_ids))


_BILLING_STATUSES = frozenset({BillStatus.ISSUED, BillStatus.SENT, BillStatus.PAID})
"""A main bill bills its entries once issued; a draft does not yet."""


def main_bill_change(event: BillMainChanged) -> MainBillChange:
    main, previous = event.main, event.previous_main
    return MainBillChange(
        previously_billed=tuple(previous.time_entry_ids) if previous is not None else (),
        billed=tuple(main.time_entry_ids) if main is not None and main.status in _BILLING_STATUSES else (),
    )


# --- out and back: the stored document ---------------------------------------------------------------


def time_entry_state(entry: TimeEntry) -> TimeEntryState:
    # A dict validated rather than keywords: the same validation without BaseModel.__init__'s own cost.
    return TimeEntryState.model_validate(_state_fields(entry))


def _state_fields(entry: TimeEntry) -> dict[str, Any]:
    """The entry's `TimeEntryState` fields in the model's order, as values both the model validates and
    orjson writes as the model would (`time_entry_json`)."""
    work, span, charges = entry.work, entry.work.span, entry.work.other_charges
    return {
        "entry_id": entry.entry_id,
        "account_id": work.account_id,
        "contract_id": entry.contract_id,
        "request_id": work.request_id,
        "task_id": work.task_id,
        "product": work.product,
        "rep_id": work.rep_id,
        "started_at": work.started_at,
        "minutes": entry.minutes,
        "billable": work.billable,
        "include_non_operational": work.include_non_operational,
        "other_charges": None
        if charges is None
        else {"amount": amount_text(charges.amount, charges.currency), "currency": charges.currency},
        "description": work.description,
        "work_log_type": work.work_log_type,
        "billed": entry.billed,
        "version": entry.version,
        "ended_at": span.instant if isinstance(span, EndedAt) else None,
        "duration_minutes": span.minutes if isinstance(span, Duration) else None,
        "time_taken_minutes": work.time_taken_minutes,
        "rate_type": work.rate_type,
        "custom_fields": dict(work.custom_fields),
        "deleted": entry.deleted,
        "settled": entry.settled,
        "note": entry.note,
    }


def time_entry(state: TimeEntryState) -> TimeEntry:
    return TimeEntry(
        entry_id=state.entry_id,
        work=_work(state, _kept_span(state)),
        contract_id=state.contract_id,
        minutes=state.minutes,
        billed=state.billed,
        version=state.version,
        deleted=state.deleted,
        note=state.note,
        settled=state.settled,
    )


def _kept_span(state: TimeEntryState) -> Span:
    if state.ended_at is not None:
        return EndedAt(state.ended_at)
    # Entries stored before the span was kept had only their minutes: the same as a duration.
    return Duration(state.duration_minutes if state.duration_minutes is not None else state.minutes)


def time_entry_document(entry: TimeEntry) -> dict[str, Any]:
    """The JSON an entry is stored as: its `TimeEntryState`, as the events carry it."""
    return time_entry_state(entry).model_dump(mode="json")


def time_entry_json(entry: TimeEntry) -> str:
    """The entry's stored document as JSON text, for a statement that writes it as it is (and for the
    events around it): what `TimeEntryState` writes (tests/unit/test_wire.py holds the two to the same
    bytes), made without the model, whose validation and dump cost twice this on every entry logged.
    The entry's instants are UTC, on whole minutes."""
    return orjson.dumps(_state_fields(entry), option=orjson.OPT_UTC_Z).decode()


def time_entry_of_document(document: Any) -> TimeEntry:
    return time_entry(TimeEntryState.model_validate(document))


def calendar_document(calendar: CalendarDocument) -> dict[str, Any]:
    return calendar.model_dump(mode="json")


def calendar_of_document(document: Any) -> BusinessCalendar:
    return business_calendar(CalendarDocument.model_validate(document))


# --- out: events -----------------------------------------------------------------------------------


def time_entry_subject(entry_id: UUID) -> str:
    """The CloudEvents subject of every event about the entry."""
    return f"time-entry/{entry_id}"


def time_entries_subject(account_id: str) -> str:
    """The CloudEvents subject of a reply about many entries of an account."""
    return f"account/{account_id}/time-entries"


def time_entry_logged_around(document: str) -> EncodedBody:
    """The `TimeEntryLogged` of an entry whose state is written as JSON already (`time_entry_json`): the
    state is serialised once for the entry's row, its audit record and its event."""
    return EncodedBody(TimeEntryLogged, b'{"entry":%s}' % document.encode())


def time_entry_changed(entry: TimeEntry, previous: TimeEntry, reason: str | None) -> TimeEntryChanged:
    return TimeEntryChanged(entry=time_entry_state(entry), previous=time_entry_state(previous), reason=reason)


def time_entry_deleted(entry: TimeEntry, reason: str | None) -> TimeEntryDeleted:
    return TimeEntryDeleted(entry=time_entry_state(entry), reason=reason)


def time_entry_rejected(
    entry_id: UUID | None,
    account_id: str,
    error: DomainError,
    *,
    index: int | None = None,
    command_type: str | None = None,
) -> TimeEntryRejected:
    return TimeEntryRejected(
        entry_id=entry_id,
        account_id=account_id,
        reason=str(error),
        index=index,
        command_type=command_type,
        error=type(error).__name__,
    )


def time_entries_marked(
    account_id: str, billable: bool, changed: list[UUID], refused: dict[UUID, DomainError]
) -> TimeEntriesMarked:
    return TimeEntriesMarked(
        account_id=account_id,
        billable=billable,
        changed=changed,
        refused={str(entry_id): str(error) for entry_id, error in refused.items()},
    )


def _money(amount: MoneyAmount | None) -> Money | None:
    # Not Money.of: an amount with more decimals than its currency has is the domain's to refuse.
    return Money(amount.amount, amount.currency) if amount is not None else None


def money_amount(money: Money | None) -> MoneyAmount | None:
    return MoneyAmount(amount=money.amount, currency=money.currency) if money is not None else None
