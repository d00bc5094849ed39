"""Bill cycles: local-midnight periods stepped from the contract's start date."""

from datetime import UTC, date, datetime
from enum import StrEnum

import pytest

from servicekit.cycles import (
    BillCycle,
    Cycle,
    InvalidContractPeriod,
    contract_cycles,
    cycle_containing,
    cycle_index_on,
)


def periods(cycles: list[Cycle]) -> list[tuple[date, date]]:
    return [(cycle.start_date, cycle.end_date) for cycle in cycles]


def test_monthly_cycles_keep_the_start_day_clamped_to_short_months() -> None:
    cycles = contract_cycles(BillCycle.MONTHLY, date(2025, 1, 31), date(2025, 6, 15), "UTC")

    assert periods(cycles) == [
        (date(2025, 1, 31), date(2025, 2, 27)),
        (date(2025, 2, 28), date(2025, 3, 30)),
        (date(2025, 3, 31), date(2025, 4, 29)),
        (date(2025, 4, 30), date(2025, 5, 30)),
        (date(2025, 5, 31), date(2025, 6, 15)),
    ]
    assert [cycle.index for cycle in cycles] == [1, 2, 3, 4, 5]


def test_monthly_cycles_from_the_31st_reach_the_29th_of_february_in_a_leap_year() -> None:
    cycles = contract_cycles(BillCycle.MONTHLY, date(2024, 1, 31), date(2024, 4, 29), "UTC")

    assert [cycle.start_date for cycle in cycles] == [date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31)]


def test_yearly_cycles_from_a_leap_day_return_to_it_in_leap_years() -> None:
    cycles = contract_cycles(BillCycle.YEARLY, date(2024, 2, 29), date(2029, 2, 27), "UTC")

    assert [cycle.start_date for cycle in cycles] == [
        date(2024, 2, 29),
        date(2025, 2, 28),
        date(2026, 2, 28),
        date(2027, 2, 28),
        date(2028, 2, 29),
    ]


def test_quarterly_and_half_yearly_cycles_step_three_and_six_months() -> None:
    quarters = contract_cycles(BillCycle.QUARTERLY, date(2025, 1, 31), date(2025, 12, 31), "UTC")
    halves = contract_cycles(BillCycle.HALF_YEARLY, date(2025, 8, 31), date(2026, 8, 30), "UTC")

    assert [cycle.start_date for cycle in quarters] == [
        date(2025, 1, 31),
        date(2025, 4, 30),
        date(2025, 7, 31),
        date(2025, 10, 31),
    ]
    assert periods(halves) == [(date(2025, 8, 31), date(2026, 2, 27)), (date(2026, 2, 28), date(2026, 8, 30))]


def test_the_last_cycle_ends_at_expiry_and_may_be_short() -> None:
    cycles = contract_cycles(BillCycle.WEEKLY, date(2025, 3, 3), date(2025, 3, 19), "UTC")

    assert periods(cycles) == [
        (date(2025, 3, 3), date(2025, 3, 9)),
        (date(2025, 3, 10), date(2025, 3, 16)),
        (date(2025, 3, 17), date(2025, 3, 19)),
    ]


def test_termination_ends_the_current_cycle_early_and_drops_later_ones() -> None:
    cycles = contract_cycles(
        BillCycle.MONTHLY, date(2025, 1, 1), date(2025, 12, 31), "UTC", termination_date=date(2025, 3, 10)
    )

    assert periods(cycles)[-1] == (date(2025, 3, 1), date(2025, 3, 10))
    assert len(cycles) == 3
    assert cycles[-1].ends_at == datetime(2025, 3, 11, tzinfo=UTC)


def test_contract_length_is_one_cycle() -> None:
    cycles = contract_cycles(BillCycle.CONTRACT_LENGTH, date(2025, 1, 15), date(2026, 1, 14), "UTC")

    assert periods(cycles) == [(date(2025, 1, 15), date(2026, 1, 14))]


def test_a_one_day_contract_has_one_cycle_of_one_day() -> None:
    cycles = contract_cycles(BillCycle.MONTHLY, date(2025, 1, 15), date(2025, 1, 15), "UTC")

    assert periods(cycles) == [(date(2025, 1, 15), date(2025, 1, 15))]


def test_cycle_instants_are_local_midnights_in_utc_across_a_daylight_saving_week() -> None:
    week = contract_cycles(BillCycle.WEEKLY, date(2025, 3, 24), date(2025, 4, 6), "Europe/Berlin")[0]

    assert week.starts_at == datetime(2025, 3, 23, 23, 0, tzinfo=UTC)
    assert week.ends_at == datetime(2025, 3, 30, 22, 0, tzinfo=UTC)
    assert (week.ends_at - week.starts_at).total_seconds() == (7 * 24 - 1) * 3600


def test_an_instant_belongs_to_the_cycle_that_contains_it() -> None:
    cycles = contract_cycles(BillCycle.MONTHLY, date(2025, 1, 1), date(2025, 3, 31), "America/New_York")

    # Midnight on 1 February in New York is 05:00 UTC.
    assert cycle_containing(cycles, datetime(2025, 2, 1, 4, 59, tzinfo=UTC)) == cycles[0]
    assert cycle_containing(cycles, datetime(2025, 2, 1, 5, 0, tzinfo=UTC)) == cycles[1]
    assert cycle_containing(cycles, datetime(2025, 1, 1, 4, 59, tzinfo=UTC)) is None
    assert cycle_containing(cycles, datetime(2025, 4, 1, 4, 0, tzinfo=UTC)) is None


@pytest.mark.parametrize(
    ("start", "expiry", "termination", "zone"),
    [
        (date(2025, 2, 1), date(2025, 1, 31), None, "UTC"),
        (date(2025, 1, 1), date(2025, 12, 31), date(2026, 1, 1), "UTC"),
        (date(2025, 1, 1), date(2025, 12, 31), date(2024, 12, 31), "UTC"),
        (date(2025, 1, 1), date(2025, 12, 31), None, "Nowhere/Special"),
    ],
)
def test_contract_dates_that_make_no_cycles_are_refused(
    start: date, expiry: date, termination: date | None, zone: str
) -> None:
    with pytest.raises(InvalidContractPeriod):
        contract_cycles(BillCycle.MONTHLY, start, expiry, zone, termination_date=termination)


class DomainBillCycle(StrEnum):
    """A service domain's own enum, with the schema's values."""

    QUARTERLY = "quarterly"


def test_a_bill_cycle_is_taken_by_its_value_so_a_domain_may_keep_its_own_enum() -> None:
    start, day = date(2025, 1, 31), date(2025, 8, 1)

    assert cycle_index_on(DomainBillCycle.QUARTERLY, start, day) == cycle_index_on(
        BillCycle.QUARTERLY, start, day
    )
    assert periods(contract_cycles(DomainBillCycle.QUARTERLY, start, day, "UTC")) == periods(
        contract_cycles(BillCycle.QUARTERLY, start, day, "UTC")
    )
