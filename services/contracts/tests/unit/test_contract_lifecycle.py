"""Status by date in the contract's zone: upcoming → active → expired, terminated after its day."""

from __future__ import annotations

from datetime import UTC, date, datetime

from contracts.domain.contracts import ContractStatus, status_on

START, EXPIRY = date(2026, 1, 1), date(2026, 12, 31)


def test_a_contract_is_upcoming_before_its_start_date() -> None:
    assert status_on(date(2025, 12, 31), START, EXPIRY, None) is ContractStatus.UPCOMING


def test_a_contract_is_active_from_its_start_date_through_its_expiry_date() -> None:
    assert status_on(START, START, EXPIRY, None) is ContractStatus.ACTIVE
    assert status_on(EXPIRY, START, EXPIRY, None) is ContractStatus.ACTIVE


def test_a_contract_is_expired_the_day_after_its_expiry_date() -> None:
    assert status_on(date(2027, 1, 1), START, EXPIRY, None) is ContractStatus.EXPIRED


def test_termination_takes_effect_at_the_end_of_the_termination_date() -> None:
    termination = date(2026, 6, 15)
    assert status_on(termination, START, EXPIRY, termination) is ContractStatus.ACTIVE
    assert status_on(date(2026, 6, 16), START, EXPIRY, termination) is ContractStatus.TERMINATED
    assert status_on(date(2027, 2, 1), START, EXPIRY, termination) is ContractStatus.TERMINATED


def test_advancing_an_upcoming_contract_on_its_start_date_activates_it(make_contract) -> None:
    contract = make_contract(status=ContractStatus.UPCOMING)

    changes = contract.advance_status(START)

    assert [(c.previous, c.state.status) for c in changes] == [
        (ContractStatus.UPCOMING, ContractStatus.ACTIVE)
    ]
    assert contract.status is ContractStatus.ACTIVE
    assert contract.version == 2


def test_advancing_after_downtime_passes_through_every_state_in_order(make_contract) -> None:
    contract = make_contract(status=ContractStatus.UPCOMING)

    changes = contract.advance_status(date(2027, 3, 1))

    assert [(c.previous, c.state.status, c.state.version) for c in changes] == [
        (ContractStatus.UPCOMING, ContractStatus.ACTIVE, 2),
        (ContractStatus.ACTIVE, ContractStatus.EXPIRED, 3),
    ]


def test_advancing_twice_on_the_same_day_changes_nothing_the_second_time(make_contract) -> None:
    contract = make_contract(status=ContractStatus.ACTIVE)
    assert contract.advance_status(date(2027, 1, 1))

    assert contract.advance_status(date(2027, 1, 1)) == []
    assert contract.version == 2


def test_a_terminated_contract_goes_to_terminated_not_expired(make_contract) -> None:
    contract = make_contract(termination_date=date(2026, 6, 15))

    changes = contract.advance_status(date(2027, 1, 5))

    assert [c.state.status for c in changes] == [ContractStatus.TERMINATED]


def test_the_local_day_decides_so_one_instant_is_a_different_day_in_each_zone(make_contract) -> None:
    # 2026-01-01 05:00 UTC: already New Year in Auckland, still New Year's Eve in Los Angeles.
    instant = datetime(2026, 1, 1, 5, 0, tzinfo=UTC)
    auckland = make_contract(status=ContractStatus.UPCOMING, time_zone="Pacific/Auckland")
    los_angeles = make_contract(status=ContractStatus.UPCOMING, time_zone="America/Los_Angeles")

    assert auckland.advance_status(auckland.local_today(instant))
    assert los_angeles.advance_status(los_angeles.local_today(instant)) == []
    assert los_angeles.status is ContractStatus.UPCOMING
