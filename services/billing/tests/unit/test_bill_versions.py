"""The life of a period's bills: versions, the main bill, statuses, drafts, flags and edits."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from billing.domain.bill_versions import (
    BillFlagged,
    BillIssued,
    BillMade,
    BillStatus,
    BillStatusChanged,
    BillUpdated,
    MainBillChanged,
    PeriodBills,
    bill_number,
)
from billing.domain.errors import BillNotFound, BillStatusConflict, InvalidBillChange
from servicekit.money import Money

from ..builders import bill_draft, billing_contract, entry, made_bill

CONTRACT = billing_contract()
JANUARY = (entry("e1", date(2026, 1, 5), 270), entry("e2", date(2026, 1, 6), 405))


def period_with(*versions: int) -> PeriodBills:
    """Period 1 with one version per number given, each added in turn (the first is main)."""
    bills = PeriodBills(CONTRACT.contract_id, "1", [])
    for version in versions:
        bills.add(made_bill(CONTRACT, "1", *JANUARY, version=version))
    bills.events.clear()
    return bills


def test_versions_are_numbered_per_period_and_the_first_is_main() -> None:
    bills = period_with(1, 2)
    first, second = bills.versions
    assert (first.number, second.number) == ("C-1-01-v1", "C-1-01-v2")
    assert bill_number("C-1", "final", 3) == "C-1-FINAL-v3"
    assert bills.main is first and not second.is_main
    assert first.total == Money.of("632.50", "USD")  # worked example 1, to the cent


def test_a_bill_moves_from_issued_to_sent_to_paid_each_step_announced() -> None:
    bills = period_with(1)
    main = bills.main
    assert main is not None

    bills.send(main.bill_id)
    bills.pay(main.bill_id)

    assert main.status is BillStatus.PAID
    assert [(type(e), e.previous) for e in bills.events if isinstance(e, BillStatusChanged)] == [
        (BillStatusChanged, BillStatus.ISSUED),
        (BillStatusChanged, BillStatus.SENT),
    ]


@pytest.mark.parametrize(
    ("steps", "illegal"),
    [
        ((), "pay"),  # issued -> paid skips sent
        ((), "issue"),  # issued is not a draft
        (("send", "pay"), "void"),  # paid is final
        (("send", "pay"), "send"),
        (("void",), "send"),  # void is final
        (("void",), "void"),
    ],
)
def test_illegal_status_changes_are_refused_and_change_nothing(steps: tuple[str, ...], illegal: str) -> None:
    bills = period_with(1)
    bill = bills.versions[0]
    for step in steps:
        getattr(bills, step)(bill.bill_id)
    before = (bill.status, bill.is_main, len(bills.events))

    with pytest.raises(BillStatusConflict):
        getattr(bills, illegal)(bill.bill_id)

    assert (bill.status, bill.is_main, len(bills.events)) == before


def test_only_the_main_version_is_sent_or_paid() -> None:
    bills = period_with(1, 2)
    other = bills.versions[1]
    with pytest.raises(BillStatusConflict, match="not its period's main bill"):
        bills.send(other.bill_id)
    assert other.status is BillStatus.ISSUED


def test_marking_another_version_main_swaps_the_main_and_says_so() -> None:
    bills = period_with(1, 2)
    first, second = bills.versions
    bills.send(first.bill_id)

    bills.mark_main(second.bill_id)

    assert bills.main is second and not first.is_main
    assert bills.events[-1] == MainBillChanged(CONTRACT.contract_id, "1", second, first)


def test_the_main_cannot_change_once_it_is_paid() -> None:
    bills = period_with(1, 2)
    first, second = bills.versions
    bills.send(first.bill_id)
    bills.pay(first.bill_id)

    with pytest.raises(BillStatusConflict, match="paid"):
        bills.mark_main(second.bill_id)
    assert bills.main is first


def test_marking_the_main_again_or_a_void_version_main_is_refused() -> None:
    bills = period_with(1, 2)
    first, second = bills.versions
    with pytest.raises(BillStatusConflict, match="already the main"):
        bills.mark_main(first.bill_id)
    bills.void(second.bill_id)
    with pytest.raises(BillStatusConflict, match="only an issued bill"):
        bills.mark_main(second.bill_id)
    assert bills.main is first


def test_voiding_the_main_leaves_the_period_without_one_until_another_is_marked() -> None:
    bills = period_with(1, 2)
    first, second = bills.versions

    bills.void(first.bill_id)

    assert bills.main is None
    assert bills.events[-1] == MainBillChanged(CONTRACT.contract_id, "1", None, first)
    bills.mark_main(second.bill_id)
    assert bills.main is second


def test_a_whole_period_bill_takes_over_from_an_early_main_that_was_not_sent() -> None:
    bills = PeriodBills(CONTRACT.contract_id, "1", [])
    early = made_bill(CONTRACT, "1", JANUARY[0], made_at=CONTRACT.cycles[0].starts_at + timedelta(days=10))
    bills.add(early)
    whole = made_bill(CONTRACT, "1", *JANUARY, version=2)

    bills.add(whole)

    assert not early.whole_period and whole.whole_period
    assert bills.main is whole
    assert MainBillChanged(CONTRACT.contract_id, "1", whole, early) in bills.events


def test_an_early_main_that_was_sent_stays_main_and_the_whole_period_bill_waits() -> None:
    bills = PeriodBills(CONTRACT.contract_id, "1", [])
    early = made_bill(CONTRACT, "1", JANUARY[0], made_at=CONTRACT.cycles[0].starts_at + timedelta(days=10))
    bills.add(early)
    bills.send(early.bill_id)

    bills.add(made_bill(CONTRACT, "1", *JANUARY, version=2))

    assert bills.main is early


def test_an_automatic_bill_in_a_grace_period_is_a_draft_recomputed_in_place_then_issued() -> None:
    contract = billing_contract(grace_period_days=5)
    draft = made_bill(contract, "1", JANUARY[0], automatic=True)
    bills = PeriodBills(contract.contract_id, "1", [])
    bills.add(draft)
    assert draft.status is BillStatus.DRAFT and draft.is_main
    assert draft.grace_ends_at == contract.cycles[0].ends_at + timedelta(days=5)
    number, version = draft.number, draft.version

    bills.review(bill_draft(contract, "1", *JANUARY), "time entries logged after the bill was made")
    bills.issue(draft.bill_id)

    assert (draft.number, draft.version) == (number, version)
    assert draft.total == Money.of("632.50", "USD")
    assert draft.status is BillStatus.ISSUED and draft.grace_ends_at is None
    assert [type(event) for event in bills.events] == [BillMade, BillUpdated, BillIssued]


def test_a_bill_without_a_grace_period_or_made_on_demand_is_issued_at_once() -> None:
    assert made_bill(CONTRACT, "1", automatic=True).status is BillStatus.ISSUED
    assert made_bill(billing_contract(grace_period_days=5), "1").status is BillStatus.ISSUED


def test_an_issued_bill_is_never_recomputed_in_place() -> None:
    bill = period_with(1).versions[0]
    with pytest.raises(BillStatusConflict, match="only a draft"):
        bill.recompute(bill_draft(CONTRACT, "1"))
    assert bill.total == Money.of("632.50", "USD")


def test_a_review_flags_an_issued_main_only_when_current_data_gives_other_figures() -> None:
    bills = period_with(1)
    main = bills.versions[0]

    bills.review(bill_draft(CONTRACT, "1", *JANUARY), "nothing changed")
    assert not main.needs_regeneration

    late = entry("e3", date(2026, 1, 20), 30)
    bills.review(bill_draft(CONTRACT, "1", *JANUARY, late), "time entries logged after the bill was made")
    assert main.needs_regeneration
    # Known to be stale for that reason: no need to recompute it again; another reason is still heard.
    assert not bills.needs_review("time entries logged after the bill was made")
    assert bills.needs_review("time entries deleted after the bill was made")
    assert main.total == Money.of("632.50", "USD")


def test_a_flag_is_announced_once_per_new_reason_and_cleared_by_a_new_version() -> None:
    bills = period_with(1)
    main = bills.versions[0]

    bills.flag(main.bill_id, ["time entries logged after the bill was made"])
    bills.flag(main.bill_id, ["time entries logged after the bill was made"])
    bills.flag(main.bill_id, ["a top-up was bought for the cycle"])

    assert [event.reasons for event in bills.events if isinstance(event, BillFlagged)] == [
        ("time entries logged after the bill was made",),
        ("time entries logged after the bill was made", "a top-up was bought for the cycle"),
    ]
    bills.add(made_bill(CONTRACT, "1", *JANUARY, version=2))
    assert not main.needs_regeneration and main.regeneration_reasons == ()


def test_only_fields_that_are_not_figures_are_edited_and_not_once_paid() -> None:
    bills = period_with(1)
    bill = bills.versions[0]

    bills.edit(bill.bill_id, {"due_date": bill.bill_date + timedelta(days=30), "notes": "PO 4711"})
    assert bills.events[-1] == BillUpdated(bill, ("due_date", "notes"))

    with pytest.raises(InvalidBillChange, match="before the bill date"):
        bills.edit(bill.bill_id, {"due_date": bill.bill_date - timedelta(days=1)})
    with pytest.raises(InvalidBillChange, match="can be edited"):
        bills.edit(bill.bill_id, {"total": "0"})
    bills.send(bill.bill_id)
    bills.pay(bill.bill_id)
    with pytest.raises(BillStatusConflict, match="no longer changes"):
        bills.edit(bill.bill_id, {"notes": "changed"})
    assert bill.notes == "PO 4711"


def test_a_bill_of_another_period_is_not_found_in_this_one() -> None:
    bills = period_with(1)
    with pytest.raises(BillNotFound):
        bills.send(made_bill(CONTRACT, "2").bill_id)


def test_a_bill_made_before_its_cycle_ended_is_sent_but_not_paid_and_its_whole_cycle_version_is() -> None:
    """A paid period takes no new version: paying an early bill would leave the rest of its cycle's
    time with no bill that could ever carry it (a reviewer paid one mid-cycle; time logged the same day
    was then refused until the cycle's end)."""
    bills = PeriodBills(CONTRACT.contract_id, "1", [])
    cycle_ends = CONTRACT.cycles[0].ends_at
    early = made_bill(CONTRACT, "1", *JANUARY, made_at=cycle_ends - timedelta(days=10))
    bills.add(early)
    bills.send(early.bill_id)

    with pytest.raises(BillStatusConflict, match="made before its cycle ended"):
        bills.pay(early.bill_id)

    whole = made_bill(CONTRACT, "1", *JANUARY, version=2)
    bills.add(whole)
    assert bills.main is early  # sent to the customer: replaced only when someone says so
    bills.mark_main(whole.bill_id)
    bills.send(whole.bill_id)
    bills.pay(whole.bill_id)
    assert (early.status, whole.status) == (BillStatus.SENT, BillStatus.PAID)


def test_a_bill_made_before_bills_stated_their_span_learns_it_when_paid() -> None:
    """Its payment must close the time it depends on downstream like any other's."""
    bill = made_bill(CONTRACT, "1", *JANUARY)
    bill.usage_starts_at = bill.usage_ends_at = None  # as stored by an earlier release
    bills = PeriodBills(CONTRACT.contract_id, "1", [])
    bills.add(bill)
    bills.send(bill.bill_id)

    bills.pay(bill.bill_id, CONTRACT)

    cycle = CONTRACT.cycles[0]
    assert (bill.usage_starts_at, bill.usage_ends_at) == (cycle.starts_at, cycle.ends_at)
