"""Overlap, field rules, edits and deletion of contracts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from contracts.domain.contracts import ContractActivity, ContractNotifications, ContractScope
from contracts.domain.errors import ContractInUse, InvalidContract, OverlappingContract


def test_two_all_product_contracts_of_one_account_may_not_share_a_day(make_contract) -> None:
    signed = make_contract()
    new = make_contract(start_date=date(2026, 12, 31), expiry_date=date(2027, 12, 30))

    with pytest.raises(OverlappingContract, match=signed.contract_number):
        new.ensure_no_overlap([signed])


def test_contracts_of_different_accounts_never_overlap(make_contract) -> None:
    make_contract(account_id="other").ensure_no_overlap([make_contract()])


def test_contracts_for_different_products_may_run_at_the_same_time(make_contract) -> None:
    desk = make_contract(scope=ContractScope(all_products=False, products=("desk",)))
    crm = make_contract(scope=ContractScope(all_products=False, products=("crm",)))

    crm.ensure_no_overlap([desk])


def test_a_product_contract_overlaps_an_all_products_contract(make_contract) -> None:
    desk = make_contract(scope=ContractScope(all_products=False, products=("desk",)))

    with pytest.raises(OverlappingContract):
        desk.ensure_no_overlap([make_contract()])


def test_back_to_back_contracts_do_not_overlap(make_contract) -> None:
    make_contract(start_date=date(2027, 1, 1), expiry_date=date(2027, 12, 31)).ensure_no_overlap(
        [make_contract()]
    )


def test_expiry_before_start_is_refused(make_contract) -> None:
    with pytest.raises(InvalidContract, match="before start"):
        make_contract(expiry_date=date(2025, 12, 31))


def test_a_product_scope_needs_products(make_contract) -> None:
    with pytest.raises(InvalidContract, match="at least one product"):
        make_contract(scope=ContractScope(all_products=False, products=()))


def test_editing_reports_only_the_fields_that_changed(make_contract) -> None:
    contract = make_contract()

    changed = contract.edit(
        {"name": contract.name, "billing_email": "ap@example.com", "tax_percent": Decimal(8)}
    )

    assert changed == ["billing_email", "tax_percent"]
    assert contract.version == 2


def test_an_edit_that_changes_nothing_keeps_the_version(make_contract) -> None:
    contract = make_contract()

    assert contract.edit({"name": contract.name}) == []
    assert contract.version == 1


def test_notifications_are_editable(make_contract) -> None:
    contract = make_contract()

    assert contract.edit({"notifications": ContractNotifications(days_before_expiry=30)}) == ["notifications"]


@pytest.mark.parametrize("field", ["terms", "start_date", "expiry_date", "scope", "account_id", "plan_id"])
def test_signed_terms_dates_and_scope_cannot_be_edited(make_contract, field: str) -> None:
    contract = make_contract()

    with pytest.raises(InvalidContract, match="cannot be edited"):
        contract.edit({field: getattr(contract, field)})


def test_an_invalid_edit_leaves_the_contract_as_it_was(make_contract) -> None:
    contract = make_contract()

    with pytest.raises(InvalidContract, match="discount_percent"):
        contract.edit({"name": "Renamed", "discount_percent": Decimal(150)})
    assert (contract.name, contract.discount_percent, contract.version) == ("Support 2026", Decimal(0), 1)


def test_a_contract_nothing_happened_against_can_be_deleted(make_contract) -> None:
    make_contract().ensure_deletable(ContractActivity())


@pytest.mark.parametrize(
    ("activity", "reason"),
    [
        (ContractActivity(has_bills=True), "bills were issued"),
        (ContractActivity(has_time_entries=True), "time entries were logged"),
        (ContractActivity(has_top_ups=True), "top-ups were bought"),
    ],
)
def test_a_contract_billed_logged_or_topped_up_cannot_be_deleted(
    make_contract, activity: ContractActivity, reason: str
) -> None:
    with pytest.raises(ContractInUse, match=reason):
        make_contract().ensure_deletable(activity)


def test_a_renewed_contract_cannot_be_deleted_before_its_renewal(make_contract) -> None:
    with pytest.raises(ContractInUse, match="renewed"):
        make_contract(renewed_to=make_contract().contract_id).ensure_deletable(ContractActivity())
