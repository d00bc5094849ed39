"""Time entry rules: whole minutes, the covering contract, what a rep may enter."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from servicekit.money import Money
from timetracking.domain.errors import InvalidTimeEntry
from timetracking.domain.time_entries import (
    Duration,
    EndedAt,
    IssuedBill,
    elapsed_minutes,
    find_covering_contract,
    new_time_entry,
    same_entry,
)


def test_minutes_are_counted_between_start_and_end_cut_down_to_the_minute(make_work) -> None:
    assert elapsed_minutes(make_work()) == 90


def test_minutes_are_real_elapsed_minutes_across_a_daylight_saving_change(make_work) -> None:
    new_york = timezone(timedelta(hours=-5))
    fields = make_work(
        started_at=datetime(2026, 3, 8, 1, 30, tzinfo=new_york),  # 01:30 EST, clocks jump at 02:00
        span=EndedAt(datetime(2026, 3, 8, 8, 30, tzinfo=UTC)),  # 04:30 EDT
    )
    assert elapsed_minutes(fields) == 120


def test_a_duration_stands_in_for_the_end(make_work) -> None:
    assert elapsed_minutes(make_work(span=Duration(45))) == 45


def test_an_entry_needs_exactly_one_of_end_and_duration(make_log_command) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        make_log_command(duration_minutes=45)
    with pytest.raises(ValueError, match="exactly one"):
        make_log_command(ended_at=None)


def test_the_contract_is_chosen_by_the_local_day_of_the_start(make_covering_contract) -> None:
    # 2026-01-01 03:00 UTC is still 31 December in New York: the contract has not started.
    covering = make_covering_contract()
    assert not covering.covers(None, datetime(2026, 1, 1, 3, 0, tzinfo=UTC))
    assert covering.covers(None, datetime(2026, 1, 1, 6, 0, tzinfo=UTC))


def test_a_product_scoped_contract_wins_over_an_all_products_one(make_covering_contract) -> None:
    broad = make_covering_contract()
    narrow = make_covering_contract(all_products=False, products=frozenset({"printer"}))
    at = datetime(2026, 5, 1, 15, tzinfo=UTC)
    assert find_covering_contract([broad, narrow], "printer", at) is narrow
    assert find_covering_contract([broad, narrow], "router", at) is broad
    assert find_covering_contract([narrow], "router", at) is None


def test_overriding_the_time_taken_needs_a_plan_that_allows_it(make_work, make_covering_contract) -> None:
    with pytest.raises(InvalidTimeEntry, match="override"):
        new_time_entry(uuid.uuid4(), make_work(time_taken_minutes=30), make_covering_contract())
    logged = new_time_entry(
        uuid.uuid4(),
        make_work(time_taken_minutes=30),
        make_covering_contract(reps_may_override_time_taken=True),
    )
    assert logged.minutes == 30


def test_other_charges_need_a_plan_that_allows_them_in_the_contracts_currency(
    make_work, make_covering_contract
) -> None:
    charges = Money(Decimal("12.34"), "USD")
    with pytest.raises(InvalidTimeEntry, match="other charges"):
        new_time_entry(uuid.uuid4(), make_work(other_charges=charges), make_covering_contract())
    with pytest.raises(InvalidTimeEntry, match="EUR"):
        new_time_entry(
            uuid.uuid4(),
            make_work(other_charges=Money(Decimal(5), "EUR")),
            make_covering_contract(reps_may_add_other_charges=True),
        )
    logged = new_time_entry(
        uuid.uuid4(),
        make_work(other_charges=charges),
        make_covering_contract(reps_may_add_other_charges=True),
    )
    assert logged.other_charges == charges


def test_an_entry_is_stored_in_utc_on_the_whole_minute(make_work, make_covering_contract) -> None:
    plus_two = timezone(timedelta(hours=2))
    logged = new_time_entry(
        uuid.uuid4(),
        make_work(started_at=datetime(2026, 3, 2, 16, 0, 59, tzinfo=plus_two)),
        make_covering_contract(),
    )
    assert logged.started_at == datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def test_an_entry_no_contract_covers_is_kept_without_one(make_work) -> None:
    logged = new_time_entry(uuid.uuid4(), make_work(), None)
    assert logged.contract_id is None and logged.minutes == 90


def test_other_charges_are_whole_minor_units_and_of_a_plausible_size(
    make_work, make_covering_contract
) -> None:
    allowing = make_covering_contract(reps_may_add_other_charges=True)
    with pytest.raises(InvalidTimeEntry, match="decimals"):
        new_time_entry(
            uuid.uuid4(),
            make_work(other_charges=Money(Decimal("12.345"), "USD")),
            allowing,
        )
    with pytest.raises(InvalidTimeEntry, match="up to"):
        new_time_entry(
            uuid.uuid4(),
            make_work(other_charges=Money(Decimal("1e13"), "USD")),
            allowing,
        )
    logged = new_time_entry(uuid.uuid4(), make_work(other_charges=Money(Decimal("12.30"), "USD")), allowing)
    assert logged.other_charges is not None


def test_a_repeated_log_of_an_entry_is_the_same_entry_only_with_the_same_values(make_work) -> None:
    entry_id = uuid.uuid4()
    first = new_time_entry(entry_id, make_work(), None)
    attached_later = replace(first, contract_id=uuid.uuid4(), version=2)
    assert same_entry(attached_later, new_time_entry(entry_id, make_work(), None))
    assert not same_entry(first, new_time_entry(entry_id, make_work(billable=False), None))


def test_an_entry_attached_to_a_contract_learned_of_later_is_its_next_version(
    make_work, make_covering_contract
) -> None:
    logged = new_time_entry(uuid.uuid4(), make_work(), None)
    contract = make_covering_contract()

    attached = logged.attached_to(contract)

    assert (attached.contract_id, attached.version) == (contract.contract_id, 2)
    assert same_entry(logged, attached)


def test_only_a_main_bill_bills_the_entries_it_includes() -> None:
    entry_ids = (uuid.uuid4(), uuid.uuid4())

    assert IssuedBill(is_main=True, time_entry_ids=entry_ids).billed_entry_ids() == entry_ids
    assert IssuedBill(is_main=False, time_entry_ids=entry_ids).billed_entry_ids() == ()
