"""The mapping between timetracking's domain and contracts-schema: what goes in, what is stored and sent."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from contracts_schema.contracts import ContractScope
from contracts_schema.primitives import MoneyAmount
from servicekit.money import Money
from timetracking.adapters import wire
from timetracking.domain.time_entries import Duration, EndedAt, new_time_entry


def test_a_log_command_gives_its_end_or_its_duration_as_the_span(make_log_command) -> None:
    command = make_log_command()
    assert wire.work_log(command).span == EndedAt(command.ended_at)
    assert wire.work_log(make_log_command(ended_at=None, duration_minutes=45)).span == Duration(45)


def test_other_charges_come_in_as_money_with_their_decimals_kept_for_the_domain_to_judge(
    make_log_command,
) -> None:
    command = make_log_command(other_charges=MoneyAmount(amount=Decimal("12.345"), currency="USD"))

    assert wire.work_log(command).other_charges == Money(Decimal("12.345"), "USD")


def test_a_contract_is_kept_with_its_scope_and_the_terms_reps_work_under(
    make_contract_state, make_plan_terms
) -> None:
    state = make_contract_state(
        scope=ContractScope(all_products=False, products=["printer"]),
        terms=make_plan_terms(currency="EUR", reps_may_add_other_charges=True),
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


def test_a_terminated_contract_covers_up_to_its_termination_date(make_contract_state) -> None:
    state = make_contract_state(termination_date=date(2026, 6, 30))

    contract = wire.announced_contract(state).contract

    assert (contract.start_date, contract.end_date) == (date(2026, 1, 1), date(2026, 6, 30))


def test_a_stored_entry_reads_back_as_it_was_written(make_work, make_covering_contract) -> None:
    entry = new_time_entry(
        uuid.uuid4(),
        make_work(other_charges=Money(Decimal("12.30"), "USD"), product="printer", task_id="T1"),
        make_covering_contract(reps_may_add_other_charges=True),
    )

    assert wire.time_entry_of_document(wire.time_entry_document(entry)) == entry


def test_an_entry_is_stored_as_the_time_entry_state_its_events_carry(
    make_work, make_covering_contract
) -> None:
    entry = new_time_entry(
        uuid.uuid4(),
        make_work(other_charges=Money(Decimal("12.30"), "USD")),
        make_covering_contract(reps_may_add_other_charges=True),
    )

    document = wire.time_entry_document(entry)

    assert document == wire.time_entry_logged(entry).model_dump(mode="json")["entry"]
    assert (document["started_at"], document["other_charges"]) == (
        "2026-03-02T14:00:00Z",
        {"amount": "12.30", "currency": "USD"},
    )
