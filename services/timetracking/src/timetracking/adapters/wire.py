"""The one place where timetracking's domain meets contracts-schema, in both directions.

In: log commands and REST bodies (what a rep entered), contract states, bills. Out: the time-entry
events, and the JSON document each entry is stored as, which is its `TimeEntryState`. A change of the
domain is therefore not a change of the wire, and the other way round.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from contracts_schema.billing import BillMainChanged, BillState, BillStatus
from contracts_schema.contracts import ContractState
from contracts_schema.primitives import MoneyAmount
from contracts_schema.timetracking import (
    TimeEntryChanged,
    TimeEntryFields,
    TimeEntryLogged,
    TimeEntryRejected,
    TimeEntryState,
)
from servicekit.errors import DomainError
from servicekit.money import Money
from timetracking.domain.errors import InvalidTimeEntry
from timetracking.domain.time_entries import (
    AnnouncedContract,
    CoveringContract,
    Duration,
    EndedAt,
    IssuedBill,
    MainBillChange,
    Span,
    TimeEntry,
    WorkLog,
)

# --- in ---------------------------------------------------------------------------------------------


def work_log(fields: TimeEntryFields) -> WorkLog:
    """What the rep entered, from a log command or a REST body (both are `TimeEntryFields`)."""
    return WorkLog(
        request_id=fields.request_id,
        task_id=fields.task_id,
        account_id=fields.account_id,
        product=fields.product,
        rep_id=fields.rep_id,
        started_at=fields.started_at,
        span=_span(fields),
        time_taken_minutes=fields.time_taken_minutes,
        billable=fields.billable,
        include_non_operational=fields.include_non_operational,
        other_charges=_money(fields.other_charges),
        description=fields.description,
        work_log_type=fields.work_log_type,
    )


def _span(fields: TimeEntryFields) -> Span:
    match fields.ended_at, fields.duration_minutes:
        case datetime() as ended_at, None:
            return EndedAt(ended_at)
        case None, int() as minutes:
            return Duration(minutes)
    # The message model already refuses this; the domain says so too rather than guess.
    raise InvalidTimeEntry("give exactly one of ended_at or duration_minutes")


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
        ),
        number=state.contract_number,
    )


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
    return TimeEntryState(
        entry_id=entry.entry_id,
        account_id=entry.account_id,
        contract_id=entry.contract_id,
        request_id=entry.request_id,
        task_id=entry.task_id,
        product=entry.product,
        rep_id=entry.rep_id,
        started_at=entry.started_at,
        minutes=entry.minutes,
        billable=entry.billable,
        include_non_operational=entry.include_non_operational,
        other_charges=_money_amount(entry.other_charges),
        description=entry.description,
        work_log_type=entry.work_log_type,
        billed=entry.billed,
        version=entry.version,
    )


def time_entry(state: TimeEntryState) -> TimeEntry:
    return TimeEntry(
        entry_id=state.entry_id,
        account_id=state.account_id,
        contract_id=state.contract_id,
        request_id=state.request_id,
        task_id=state.task_id,
        product=state.product,
        rep_id=state.rep_id,
        started_at=state.started_at,
        minutes=state.minutes,
        billable=state.billable,
        include_non_operational=state.include_non_operational,
        other_charges=_money(state.other_charges),
        description=state.description,
        work_log_type=state.work_log_type,
        billed=state.billed,
        version=state.version,
    )


def time_entry_document(entry: TimeEntry) -> dict[str, Any]:
    """The JSON an entry is stored as: its `TimeEntryState`, as the events carry it."""
    return time_entry_state(entry).model_dump(mode="json")


def time_entry_of_document(document: Any) -> TimeEntry:
    return time_entry(TimeEntryState.model_validate(document))


# --- out: events -----------------------------------------------------------------------------------


def time_entry_subject(entry_id: UUID) -> str:
    """The CloudEvents subject of every event about the entry."""
    return f"time-entry/{entry_id}"


def time_entry_logged(entry: TimeEntry) -> TimeEntryLogged:
    return TimeEntryLogged(entry=time_entry_state(entry))


def time_entry_changed(entry: TimeEntry, previous: TimeEntry, reason: str) -> TimeEntryChanged:
    return TimeEntryChanged(entry=time_entry_state(entry), previous=time_entry_state(previous), reason=reason)


def time_entry_rejected(entry_id: UUID, account_id: str, error: DomainError) -> TimeEntryRejected:
    return TimeEntryRejected(entry_id=entry_id, account_id=account_id, reason=str(error))


def _money(amount: MoneyAmount | None) -> Money | None:
    # Not Money.of: an amount with more decimals than its currency has is the domain's to refuse.
    return Money(amount.amount, amount.currency) if amount is not None else None


def _money_amount(money: Money | None) -> MoneyAmount | None:
    return MoneyAmount(amount=money.amount, currency=money.currency) if money is not None else None
