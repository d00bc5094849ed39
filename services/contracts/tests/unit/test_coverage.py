"""Coverage: the covering contract by scope and local date, and blocking once billing says exhausted."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from contracts.domain.contracts import ContractScope
from contracts.domain.coverage import Exhaustion, coverage_at, find_covering_contract
from contracts.domain.plans import BillCycle
from servicekit.cycles import cycle_index_on


@pytest.mark.parametrize(
    ("cycle", "start", "day", "index"),
    [
        (BillCycle.MONTHLY, date(2026, 1, 31), date(2026, 2, 27), 1),
        (BillCycle.MONTHLY, date(2026, 1, 31), date(2026, 2, 28), 2),
        (BillCycle.MONTHLY, date(2026, 1, 31), date(2026, 3, 30), 2),
        (BillCycle.MONTHLY, date(2026, 1, 31), date(2026, 3, 31), 3),
        (BillCycle.WEEKLY, date(2026, 1, 5), date(2026, 1, 11), 1),
        (BillCycle.WEEKLY, date(2026, 1, 5), date(2026, 1, 12), 2),
        (BillCycle.QUARTERLY, date(2026, 1, 15), date(2026, 4, 14), 1),
        (BillCycle.QUARTERLY, date(2026, 1, 15), date(2026, 4, 15), 2),
        (BillCycle.YEARLY, date(2024, 2, 29), date(2025, 2, 28), 2),
        (BillCycle.CONTRACT_LENGTH, date(2026, 1, 1), date(2026, 12, 31), 1),
    ],
)
def test_cycles_count_from_the_start_date_with_months_clamped(
    cycle: BillCycle, start: date, day: date, index: int
) -> None:
    assert cycle_index_on(cycle, start, day) == index


def test_a_contract_covers_from_local_midnight_of_its_start_date(make_contract) -> None:
    contract = make_contract(start_date=date(2026, 3, 1), time_zone="Europe/Berlin")

    assert not contract.coverage_window.covers(None, datetime(2026, 2, 28, 22, 59, tzinfo=UTC))
    assert contract.coverage_window.covers(None, datetime(2026, 2, 28, 23, 0, tzinfo=UTC))


def test_a_product_contract_covers_only_its_products(make_contract) -> None:
    contract = make_contract(scope=ContractScope(all_products=False, products=("desk",)))
    noon = datetime(2026, 5, 5, 12, tzinfo=UTC)

    assert contract.coverage_window.covers("desk", noon)
    assert not contract.coverage_window.covers("crm", noon)
    assert not contract.coverage_window.covers(None, noon)


def test_a_terminated_contract_stops_covering_after_its_termination_date(make_contract) -> None:
    contract = make_contract(termination_date=date(2026, 6, 30))

    assert contract.coverage_window.covers(None, datetime(2026, 6, 30, 21, 59, tzinfo=UTC))
    assert not contract.coverage_window.covers(None, datetime(2026, 6, 30, 22, 0, tzinfo=UTC))


def test_the_covering_contract_is_found_among_the_accounts_contracts(make_contract) -> None:
    old = make_contract(start_date=date(2025, 1, 1), expiry_date=date(2025, 12, 31))
    current = make_contract()

    assert find_covering_contract([old, current], None, datetime(2026, 5, 5, tzinfo=UTC)) is current
    assert find_covering_contract([old, current], None, datetime(2028, 5, 5, tzinfo=UTC)) is None


EXHAUSTED_AT = datetime(2026, 5, 20, 10, tzinfo=UTC)
MAY_CYCLE = 5  # monthly from 1 January


def test_work_is_not_covered_when_a_blocking_plans_cycle_is_exhausted(
    make_contract, make_blocking_terms
) -> None:
    contract = make_contract(terms=make_blocking_terms())

    answer = coverage_at(contract, datetime(2026, 5, 25, tzinfo=UTC), Exhaustion(MAY_CYCLE, EXHAUSTED_AT), [])

    assert answer.contract is contract
    assert not answer.work_covered


def test_a_plan_that_charges_extra_always_covers_work(make_contract) -> None:
    answer = coverage_at(
        make_contract(), datetime(2026, 5, 25, tzinfo=UTC), Exhaustion(MAY_CYCLE, EXHAUSTED_AT), []
    )

    assert answer.work_covered


def test_work_before_the_exhaustion_is_covered(make_contract, make_blocking_terms) -> None:
    contract = make_contract(terms=make_blocking_terms())

    assert coverage_at(
        contract, datetime(2026, 5, 19, tzinfo=UTC), Exhaustion(MAY_CYCLE, EXHAUSTED_AT), []
    ).work_covered


def test_the_next_cycle_brings_a_fresh_allowance(make_contract, make_blocking_terms) -> None:
    contract = make_contract(terms=make_blocking_terms())

    assert coverage_at(
        contract, datetime(2026, 6, 2, tzinfo=UTC), Exhaustion(MAY_CYCLE, EXHAUSTED_AT), []
    ).work_covered


def test_a_top_up_bought_after_exhaustion_covers_work_again(make_contract, make_blocking_terms) -> None:
    contract = make_contract(terms=make_blocking_terms())
    at = datetime(2026, 5, 25, tzinfo=UTC)
    exhaustion = Exhaustion(MAY_CYCLE, EXHAUSTED_AT)

    assert not coverage_at(contract, at, exhaustion, [datetime(2026, 5, 2, tzinfo=UTC)]).work_covered
    assert coverage_at(contract, at, exhaustion, [datetime(2026, 5, 21, tzinfo=UTC)]).work_covered


def test_work_after_billing_says_the_allowance_is_back_is_covered_until_it_runs_out_again(
    make_contract, make_blocking_terms
) -> None:
    contract = make_contract(terms=make_blocking_terms())
    restored = Exhaustion(MAY_CYCLE, EXHAUSTED_AT).restored(MAY_CYCLE, datetime(2026, 5, 22, tzinfo=UTC))
    assert restored is not None
    again = Exhaustion(MAY_CYCLE, datetime(2026, 5, 26, tzinfo=UTC))

    assert not coverage_at(contract, datetime(2026, 5, 21, tzinfo=UTC), restored, []).work_covered
    assert coverage_at(contract, datetime(2026, 5, 23, tzinfo=UTC), restored, []).work_covered
    assert again.supersedes(restored)
    assert not coverage_at(contract, datetime(2026, 5, 27, tzinfo=UTC), again, []).work_covered


def test_word_of_allowance_back_for_another_cycle_or_from_before_the_exhaustion_changes_nothing() -> None:
    exhaustion = Exhaustion(MAY_CYCLE, EXHAUSTED_AT)

    assert exhaustion.restored(MAY_CYCLE - 1, datetime(2026, 5, 22, tzinfo=UTC)) is None
    assert exhaustion.restored(MAY_CYCLE, datetime(2026, 5, 19, tzinfo=UTC)) is None


def test_no_contract_means_no_coverage() -> None:
    answer = coverage_at(None, datetime(2026, 5, 25, tzinfo=UTC), None, [])

    assert (answer.contract, answer.work_covered) == (None, False)


def test_a_replayed_older_exhaustion_does_not_replace_a_newer_one() -> None:
    newer = Exhaustion(6, datetime(2026, 6, 20, tzinfo=UTC))

    assert not Exhaustion(MAY_CYCLE, EXHAUSTED_AT).supersedes(newer)
    assert newer.supersedes(Exhaustion(MAY_CYCLE, EXHAUSTED_AT))
