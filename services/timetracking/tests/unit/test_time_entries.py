"""Time entry rules: whole minutes, the covering contract, what a rep may enter, and every change of an
entry (edit, deletion, billable marking, attachment to a contract that arrives later)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from servicekit.money import Money
from timetracking.domain.bills import ClosedPeriod, IssuedBill, check_period_open
from timetracking.domain.contracts import find_covering_contract
from timetracking.domain.errors import (
    FieldTooLong,
    InvalidOtherCharges,
    InvalidSpan,
    PeriodClosed,
    PlanForbidsOtherCharges,
    PlanForbidsOverride,
    ReasonRequired,
    StartOutOfRange,
    TimeEntryIsDeleted,
)
from timetracking.domain.time_entries import (
    NO_CONTRACT_YET,
    Duration,
    EndedAt,
    EntryEdits,
    contract_after_edit,
    new_time_entry,
    plan_forbids,
    same_entry,
)

from ..conftest import ENDED_AT, NOW, STARTED_AT, covering_contract, work

ALLOWING = {"reps_may_override_time_taken": True, "reps_may_add_other_charges": True}


def log(contract=None, **changes):
    """Ann's 90 minutes as a new entry, on `contract` (none by default), logged at NOW."""
    return new_time_entry(uuid.uuid4(), work(**changes), contract, now=NOW)


def billed(entry):
    return entry.billed_by_main_bill()


# --- minutes ------------------------------------------------------------------------------------------


def test_minutes_are_counted_between_start_and_end_cut_down_to_the_minute() -> None:
    assert work().elapsed_minutes() == 90
    assert log().minutes == 90


def test_minutes_are_real_elapsed_minutes_across_a_daylight_saving_change() -> None:
    new_york = timezone(timedelta(hours=-5))
    across = work(
        started_at=datetime(2026, 3, 8, 1, 30, tzinfo=new_york),  # 01:30 EST, clocks jump at 02:00
        span=EndedAt(datetime(2026, 3, 8, 8, 30, tzinfo=UTC)),  # 04:30 EDT
    )
    assert across.elapsed_minutes() == 120


def test_a_duration_stands_in_for_the_end() -> None:
    assert log(span=Duration(45)).minutes == 45


def test_an_overridden_time_taken_is_what_the_entry_counts() -> None:
    entry = log(covering_contract(**ALLOWING), time_taken_minutes=30)
    assert (entry.minutes, entry.work.time_taken_minutes, entry.work.span) == (
        30,
        30,
        EndedAt(ENDED_AT.replace(second=0)),
    )


def test_an_entry_needs_exactly_one_of_end_and_duration(make_log_command) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        make_log_command(duration_minutes=45)
    with pytest.raises(ValueError, match="exactly one"):
        make_log_command(ended_at=None)


def test_an_entry_keeps_start_and_end_in_utc_on_the_whole_minute() -> None:
    plus_two = timezone(timedelta(hours=2))
    entry = log(
        started_at=datetime(2026, 3, 2, 16, 0, 59, tzinfo=plus_two),
        span=EndedAt(datetime(2026, 3, 2, 17, 30, 1, tzinfo=plus_two)),
    )
    assert entry.started_at == datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
    assert entry.work.span == EndedAt(datetime(2026, 3, 2, 15, 30, tzinfo=UTC))


@pytest.mark.parametrize(
    "started_at",
    [
        datetime(2026, 1, 10, 10, 0, tzinfo=ZoneInfo("Europe/London")),  # zero offset, but a zone's
        datetime(2026, 1, 10, 10, 0, 30, tzinfo=UTC),
        datetime(2026, 1, 10, 11, 0, tzinfo=timezone(timedelta(hours=1))),
    ],
)
def test_work_not_on_the_whole_minute_in_utc_is_kept_so(started_at: datetime) -> None:
    kept = work(started_at=started_at, span=Duration(30)).on_whole_minutes().started_at
    assert kept == datetime(2026, 1, 10, 10, 0, tzinfo=UTC) and kept.tzinfo is UTC


def test_work_on_the_whole_minute_in_utc_is_kept_as_it_is() -> None:
    given = work(started_at=datetime(2026, 1, 10, 10, 0, tzinfo=UTC), span=Duration(30))
    assert given.on_whole_minutes() is given


def test_an_entry_on_the_whole_minute_keeps_everything_else_the_rep_entered() -> None:
    entered = work(
        started_at=datetime(2026, 3, 2, 16, 0, 59, tzinfo=timezone(timedelta(hours=2))),
        task_id="T-1",
        product="desk",
        time_taken_minutes=30,
        other_charges=Money(Decimal("12.50"), "USD"),
        work_log_type="call",
        rate_type="on-site",
        custom_fields={"ticket": "42"},
    )
    kept = entered.on_whole_minutes()
    assert kept == replace(entered, started_at=datetime(2026, 3, 2, 14, 0, tzinfo=UTC), span=kept.span)


def test_an_entry_keeps_the_duration_the_rep_gave_rather_than_an_end() -> None:
    assert log(span=Duration(45)).work.span == Duration(45)


# --- time rules ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("span", "message"),
    [
        (Duration(0), "at least one minute"),
        (Duration(-5), "at least one minute"),
        (EndedAt(STARTED_AT), "at or before its start"),
        (EndedAt(STARTED_AT - timedelta(minutes=5)), "at or before its start"),
        (EndedAt(STARTED_AT.replace(second=59, microsecond=1)), "within one minute"),
        (Duration(60 * 24 * 31 + 1), "more than 44640 minutes"),
        (EndedAt(STARTED_AT + timedelta(days=32)), "more than 44640 minutes"),
    ],
)
def test_work_of_no_whole_minute_or_of_more_than_31_days_is_refused(span, message) -> None:
    with pytest.raises(InvalidSpan, match=message):
        log(span=span)


@pytest.mark.parametrize("minutes", [0, -1, 60 * 24 * 31 + 1])
def test_an_override_counts_from_one_minute_to_31_days(minutes) -> None:
    with pytest.raises(InvalidSpan, match="time taken"):
        log(covering_contract(**ALLOWING), time_taken_minutes=minutes)


def test_work_starting_more_than_a_day_from_now_is_refused() -> None:
    tomorrow = NOW + timedelta(days=1)
    assert log(started_at=tomorrow, span=Duration(30)).started_at == tomorrow
    with pytest.raises(StartOutOfRange, match="more than a day from now"):
        log(started_at=tomorrow + timedelta(minutes=1), span=Duration(30))


def test_work_before_2000_is_refused() -> None:
    assert log(started_at=datetime(2000, 1, 1, tzinfo=UTC), span=Duration(30)).minutes == 30
    with pytest.raises(StartOutOfRange, match="before 2000-01-01"):
        log(started_at=datetime(1999, 12, 31, 23, 59, tzinfo=UTC), span=Duration(30))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"product": "p" * 101}, "product is longer than 100"),
        ({"task_id": "t" * 101}, "task_id is longer than 100"),
        ({"work_log_type": "w" * 101}, "work_log_type is longer than 100"),
        ({"rate_type": "r" * 101}, "rate_type is longer than 100"),
        ({"description": "d" * 4001}, "description is longer than 4000"),
        ({"custom_fields": {f"f{n}": "x" for n in range(21)}}, "at most 20 custom fields"),
        ({"custom_fields": {"n" * 65: "x"}}, "name has 1 to 64"),
        ({"custom_fields": {"ticket": "x" * 501}}, "ticket is longer than 500"),
    ],
)
def test_oversized_fields_are_refused(changes, message) -> None:
    with pytest.raises(FieldTooLong, match=message):
        log(**changes)


def test_rate_type_and_custom_fields_are_kept_as_given() -> None:
    entry = log(rate_type="on-site", custom_fields={"ticket": "T-9"})
    assert (entry.work.rate_type, entry.work.custom_fields) == ("on-site", {"ticket": "T-9"})


# --- the covering contract and its plan ---------------------------------------------------------------


def test_the_contract_is_chosen_by_the_local_day_of_the_start() -> None:
    # 2026-01-01 03:00 UTC is still 31 December in New York: the contract has not started.
    contract = covering_contract()
    assert not contract.covers(None, datetime(2026, 1, 1, 3, 0, tzinfo=UTC))
    assert contract.covers(None, datetime(2026, 1, 1, 6, 0, tzinfo=UTC))


def test_a_product_scoped_contract_wins_over_an_all_products_one() -> None:
    broad = covering_contract()
    narrow = covering_contract(all_products=False, products=frozenset({"printer"}))
    at = datetime(2026, 5, 1, 15, tzinfo=UTC)
    assert find_covering_contract([broad, narrow], "printer", at) is narrow
    assert find_covering_contract([broad, narrow], "router", at) is broad
    assert find_covering_contract([narrow], "router", at) is None


def test_overriding_the_time_taken_needs_a_plan_that_allows_it() -> None:
    with pytest.raises(PlanForbidsOverride, match="override the time taken"):
        log(covering_contract(), time_taken_minutes=30)
    assert log(covering_contract(reps_may_override_time_taken=True), time_taken_minutes=30).minutes == 30


def test_other_charges_need_a_plan_that_allows_them_in_the_contracts_currency() -> None:
    charges = Money(Decimal("12.34"), "USD")
    with pytest.raises(PlanForbidsOtherCharges, match="other charges"):
        log(covering_contract(), other_charges=charges)
    with pytest.raises(InvalidOtherCharges, match="in EUR, the contract bills in USD"):
        log(covering_contract(**ALLOWING), other_charges=Money(Decimal(5), "EUR"))
    assert log(covering_contract(**ALLOWING), other_charges=charges).work.other_charges == charges


def test_other_charges_are_whole_minor_units_of_their_currency_and_of_a_plausible_size() -> None:
    with pytest.raises(InvalidOtherCharges, match="more decimals than USD"):
        log(covering_contract(**ALLOWING), other_charges=Money(Decimal("12.345"), "USD"))
    with pytest.raises(InvalidOtherCharges, match="more decimals than JPY"):
        log(None, other_charges=Money(Decimal("100.5"), "JPY"))  # no contract needed to know that
    with pytest.raises(InvalidOtherCharges, match="up to"):
        log(covering_contract(**ALLOWING), other_charges=Money(Decimal("1e13"), "USD"))
    with pytest.raises(InvalidOtherCharges, match="from 0"):
        log(covering_contract(**ALLOWING), other_charges=Money(Decimal("-1.00"), "USD"))
    assert log(covering_contract(**ALLOWING), other_charges=Money(Decimal("12.30"), "USD")) is not None


def test_an_entry_no_known_contract_covers_is_kept_unattached_and_says_why() -> None:
    entry = log()
    assert (entry.contract_id, entry.minutes, entry.note) == (None, 90, NO_CONTRACT_YET)


def test_an_override_or_charges_without_a_known_contract_are_accepted_not_blamed_on_the_plan() -> None:
    entry = log(time_taken_minutes=30, other_charges=Money(Decimal("9.99"), "EUR"))
    assert (entry.contract_id, entry.minutes, entry.note) == (None, 30, NO_CONTRACT_YET)


def test_an_attached_entry_has_no_note() -> None:
    contract = covering_contract()
    entry = log(contract)
    assert (entry.contract_id, entry.note) == (contract.contract_id, None)


def test_what_a_plan_forbids_is_named_for_an_entry_waiting_for_its_contract() -> None:
    waiting = log(time_taken_minutes=30)
    assert isinstance(plan_forbids(waiting.work, covering_contract()), PlanForbidsOverride)
    assert plan_forbids(waiting.work, covering_contract(**ALLOWING)) is None


# --- a contract that arrives after the entry ----------------------------------------------------------


def test_an_entry_attached_to_a_contract_learned_of_later_is_its_next_version() -> None:
    logged = log()
    contract = covering_contract()

    attached = logged.attached_to(contract)

    assert (attached.contract_id, attached.version, attached.note) == (contract.contract_id, 2, None)
    assert same_entry(logged, attached)


def test_an_entry_held_back_by_its_plan_says_why_once() -> None:
    logged = log(time_taken_minutes=30)

    held = logged.held_back("not attached to contract C-1: no override")

    assert (held.contract_id, held.version, held.note) == (
        None,
        2,
        "not attached to contract C-1: no override",
    )
    assert held.held_back("not attached to contract C-1: no override") is held


def test_a_held_back_entry_edited_into_what_the_plan_allows_is_attached() -> None:
    contract = covering_contract()
    held = log(time_taken_minutes=30).held_back("not attached to contract C-1: no override")
    without_override = EntryEdits(time_taken_minutes=None).applied_to(held.work)

    with pytest.raises(PlanForbidsOverride):
        held.edited(held.work, contract_after_edit(held, held.work, [contract]), reason=None, now=NOW)
    edited = held.edited(
        without_override, contract_after_edit(held, without_override, [contract]), reason=None, now=NOW
    )

    assert (edited.contract_id, edited.minutes, edited.note, edited.version) == (
        contract.contract_id,
        90,
        None,
        3,
    )


# --- edits --------------------------------------------------------------------------------------------


def test_an_unbilled_entry_is_edited_freely_into_its_next_version() -> None:
    entry = log()
    work = EntryEdits(description="printer jam", span=Duration(30), rate_type="remote").applied_to(entry.work)

    edited = entry.edited(work, None, reason=None, now=NOW)

    assert (edited.minutes, edited.version, edited.work.description) == (30, 2, "printer jam")
    assert (edited.work.span, edited.work.rate_type, edited.entry_id) == (
        Duration(30),
        "remote",
        entry.entry_id,
    )


def test_fields_an_edit_keeps_stay_as_they_were() -> None:
    entry = log(task_id="T1", custom_fields={"ticket": "T-9"})

    work = EntryEdits(billable=False).applied_to(entry.work)

    assert work == replace(entry.work, billable=False)


def test_an_edit_that_changes_nothing_is_no_new_version() -> None:
    entry = log()
    assert (
        entry.edited(EntryEdits(description="").applied_to(entry.work), None, reason=None, now=NOW) is entry
    )


def test_an_edit_is_held_to_every_rule_of_a_new_entry() -> None:
    entry = log(span=Duration(30))
    with pytest.raises(InvalidSpan):
        entry.edited(EntryEdits(span=Duration(0)).applied_to(entry.work), None, reason=None, now=NOW)
    with pytest.raises(StartOutOfRange):
        entry.edited(
            EntryEdits(started_at=NOW + timedelta(days=2)).applied_to(entry.work), None, reason=None, now=NOW
        )
    with pytest.raises(InvalidSpan, match="at or before its start"):  # the end kept, the start moved past it
        ended = log()
        ended.edited(EntryEdits(started_at=ENDED_AT).applied_to(ended.work), None, reason=None, now=NOW)


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_billed_entry_is_not_edited_without_a_reason(reason) -> None:
    entry = billed(log())
    with pytest.raises(ReasonRequired, match="billed"):
        entry.edited(EntryEdits(span=Duration(30)).applied_to(entry.work), None, reason=reason, now=NOW)


def test_a_billed_entry_edited_with_a_reason_stays_billed_until_its_bill_is_regenerated() -> None:
    entry = billed(log())

    edited = entry.edited(
        EntryEdits(span=Duration(30)).applied_to(entry.work), None, reason="typo in the end", now=NOW
    )

    assert (edited.minutes, edited.version, edited.billed) == (30, 2, True)


def test_an_edit_keeps_the_entrys_contract_unless_it_moves_its_start_or_product() -> None:
    march = covering_contract(end_date=datetime(2026, 3, 31).date())
    april = covering_contract(start_date=datetime(2026, 4, 1).date())
    entry = log(march)
    same_day = EntryEdits(description="more detail").applied_to(entry.work)
    to_april = EntryEdits(started_at=datetime(2026, 4, 2, 14, tzinfo=UTC), span=Duration(30)).applied_to(
        entry.work
    )

    assert contract_after_edit(entry, same_day, [march, april]) is march
    assert contract_after_edit(entry, to_april, [march, april]) is april
    assert contract_after_edit(entry, to_april, [march]) is None


def test_a_printer_entry_moved_to_a_product_no_contract_covers_loses_its_contract() -> None:
    printers = covering_contract(all_products=False, products=frozenset({"printer"}))
    entry = log(printers, product="printer")
    to_router = EntryEdits(product="router").applied_to(entry.work)

    edited = entry.edited(to_router, contract_after_edit(entry, to_router, [printers]), reason=None, now=NOW)

    assert (edited.contract_id, edited.note, edited.version) == (None, NO_CONTRACT_YET, 2)


def test_an_edit_is_checked_against_the_plan_of_the_contract_that_covers_it() -> None:
    contract = covering_contract()
    entry = log(contract)
    with pytest.raises(PlanForbidsOtherCharges):
        entry.edited(
            EntryEdits(other_charges=Money(Decimal("5.00"), "USD")).applied_to(entry.work),
            contract,
            reason=None,
            now=NOW,
        )


# --- deletion and billable marking --------------------------------------------------------------------


def test_a_deleted_entry_is_its_next_version_and_changes_no_more() -> None:
    deleted = log().marked_deleted(reason=None)

    assert (deleted.deleted, deleted.version) == (True, 2)
    with pytest.raises(TimeEntryIsDeleted):
        deleted.marked_deleted(reason="again")
    with pytest.raises(TimeEntryIsDeleted):
        deleted.marked_billable(False, reason=None)
    with pytest.raises(TimeEntryIsDeleted):
        deleted.edited(deleted.work, None, reason=None, now=NOW)


def test_a_billed_entry_is_deleted_only_with_a_reason() -> None:
    entry = billed(log())
    with pytest.raises(ReasonRequired):
        entry.marked_deleted(reason=" ")
    assert entry.marked_deleted(reason="logged twice").deleted


def test_marking_an_entry_non_billable_is_its_next_version_and_marking_it_again_changes_nothing() -> None:
    entry = log()

    marked = entry.marked_billable(False, reason=None)

    assert (marked.work.billable, marked.version) == (False, 2)
    assert marked.marked_billable(False, reason=None) is marked


def test_a_billed_entry_is_marked_non_billable_only_with_a_reason() -> None:
    entry = billed(log())
    with pytest.raises(ReasonRequired):
        entry.marked_billable(False, reason=None)
    assert not entry.marked_billable(False, reason="goodwill").work.billable


# --- idempotent logging and bills ---------------------------------------------------------------------


def test_a_repeated_log_of_an_entry_is_the_same_entry_only_with_the_same_values() -> None:
    entry_id = uuid.uuid4()
    first = new_time_entry(entry_id, work(), None, now=NOW)
    attached_later = replace(first, contract_id=uuid.uuid4(), version=2)
    assert same_entry(attached_later, new_time_entry(entry_id, work(), None, now=NOW))
    assert not same_entry(first, new_time_entry(entry_id, work(billable=False), None, now=NOW))


def test_billing_by_a_main_bill_keeps_the_version() -> None:
    entry = log()
    assert (billed(entry).billed, billed(entry).version) == (True, 1)
    assert (billed(entry).no_longer_billed().billed, billed(entry).no_longer_billed().version) == (False, 1)


def test_only_a_main_bill_bills_the_entries_it_includes() -> None:
    entry_ids = (uuid.uuid4(), uuid.uuid4())

    assert IssuedBill(is_main=True, time_entry_ids=entry_ids).billed_entry_ids() == entry_ids
    assert IssuedBill(is_main=False, time_entry_ids=entry_ids).billed_entry_ids() == ()


# --- periods a paid bill closed -----------------------------------------------------------------------

MARCH_STARTS = datetime(2026, 3, 1, 5, tzinfo=UTC)
APRIL_STARTS = datetime(2026, 4, 1, 4, tzinfo=UTC)
"""Local midnights in New York: March's cycle of the contracts built here, as billing states it."""


def closed_march(contract):
    """March closed for the contract by its paid bill."""
    march = ClosedPeriod(contract.contract_id, "3", "C-1-03-v2", MARCH_STARTS, APRIL_STARTS)
    return {contract.contract_id: [march]}


def test_time_in_a_period_a_paid_bill_closed_is_refused_from_its_first_minute_to_before_its_end() -> None:
    contract = covering_contract()
    closed = closed_march(contract)
    minute = timedelta(minutes=1)

    for inside in (MARCH_STARTS, STARTED_AT, APRIL_STARTS - minute):
        with pytest.raises(PeriodClosed, match=r"C-1-03-v2: log it in an open period"):
            check_period_open(closed, contract.contract_id, inside)
    for outside in (MARCH_STARTS - minute, APRIL_STARTS):
        check_period_open(closed, contract.contract_id, outside)
    check_period_open(closed, covering_contract().contract_id, STARTED_AT)  # another contract's time
    check_period_open(closed, None, STARTED_AT)  # no contract known yet: attached later, then flagged


def test_the_refusal_says_which_contracts_time_is_closed_and_until_when() -> None:
    contract = covering_contract()
    with pytest.raises(PeriodClosed) as refused:
        check_period_open(closed_march(contract), contract.contract_id, STARTED_AT)
    assert str(refused.value) == (
        f"contract {contract.contract_id}'s time from 2026-03-01T05:00:00Z until 2026-04-01T04:00:00Z is "
        "billed by paid bill C-1-03-v2: log it in an open period"
    )


def test_an_edit_that_moves_an_entry_into_a_closed_period_is_refused() -> None:
    contract = covering_contract()
    entry = log(contract, started_at=datetime(2026, 2, 27, 14, tzinfo=UTC), span=Duration(30))
    to_march = EntryEdits(started_at=STARTED_AT).applied_to(entry.work)

    with pytest.raises(PeriodClosed):
        entry.edited(to_march, contract, reason=None, now=NOW, closed=closed_march(contract))


def test_an_edit_that_attaches_an_entry_to_a_contract_whose_period_is_closed_is_refused() -> None:
    printers = covering_contract(all_products=False, products=frozenset({"printer"}))
    entry = log(None, product="router")  # March time no contract covers
    to_printers = EntryEdits(product="printer").applied_to(entry.work)

    with pytest.raises(PeriodClosed):
        entry.edited(
            to_printers,
            contract_after_edit(entry, to_printers, [printers]),
            reason=None,
            now=NOW,
            closed=closed_march(printers),
        )


def test_time_already_in_a_closed_period_is_corrected_while_it_does_not_bill_and_moved_out_if_it_does() -> (
    None
):
    """Time that reached a closed period before it was closed (its bill was paid without it) is not
    frozen: time that does not bill is corrected as any, and billable time can be moved to an open
    period or made non-billable. What no bill could carry is refused: billable time changed there, or
    time made billable there (a reviewer's PATCH billable=true flagged a paid bill for good)."""
    contract = covering_contract()
    closed = closed_march(contract)
    not_billing = log(contract, billable=False)
    billing = log(contract)

    def edit(entry, **edits):
        return entry.edited(
            EntryEdits(**edits).applied_to(entry.work), contract, reason=None, now=NOW, closed=closed
        )

    described = edit(not_billing, description="more detail")
    moved = edit(billing, started_at=datetime(2026, 2, 27, 14, tzinfo=UTC), span=Duration(30))
    made_non_billable = edit(billing, billable=False)

    assert (described.work.description, described.version) == ("more detail", 2)
    assert (moved.started_at, moved.contract_id) == (
        datetime(2026, 2, 27, 14, tzinfo=UTC),
        contract.contract_id,
    )
    assert not made_non_billable.work.billable
    for refused in ({"billable": True}, {"span": Duration(600)}, {"description": "more detail"}):
        entry = not_billing if refused.get("billable") else billing
        with pytest.raises(PeriodClosed):
            edit(entry, **refused)
