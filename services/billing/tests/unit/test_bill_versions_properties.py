"""Properties of a period's bills under any sequence of changes a billing team and late time can make:
at most one main bill, never a void one; every billable entry is on the main bill, or the main is
flagged, or a newer version carries it, or the period has no main (its entries show unbilled); and a
paid bill never changes."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from billing.domain.bill_versions import Bill, BillStatus, PeriodBills
from billing.domain.errors import BillStatusConflict
from billing.domain.usage import UsageEntry

from ..builders import bill_draft, billing_contract, entry

CONTRACT = billing_contract(grace_period_days=3)
CYCLE = CONTRACT.cycles[0]


class PeriodOfBills(RuleBasedStateMachine):
    """Period 1 of a contract with a grace period, driven as the service layer drives it: each change
    of time is followed by a review with a recomputation, as is a mark-main or a void."""

    def __init__(self) -> None:
        super().__init__()
        self.bills = PeriodBills(CONTRACT.contract_id, "1", [])
        self.entries: list[UsageEntry] = []
        self.paid: dict[uuid.UUID, tuple[object, ...]] = {}

    def _review(self) -> None:
        if self.bills.versions and self.bills.needs_review("time changed"):
            self.bills.review(bill_draft(CONTRACT, "1", *self.entries), "time changed")

    def _pick(self, data: st.DataObject) -> Bill | None:
        if not self.bills.versions:
            return None
        return data.draw(st.sampled_from(self.bills.versions))

    @rule(day=st.integers(1, 31), minutes=st.integers(1, 480), request=st.sampled_from(["R1", "R2", "R3"]))
    def log_time(self, day: int, minutes: int, request: str) -> None:
        self.entries.append(entry(f"e{len(self.entries)}", date(2026, 1, day), minutes, request=request))
        self._review()

    @rule(automatic=st.booleans(), early=st.booleans())
    def make_a_version(self, automatic: bool, early: bool) -> None:
        made_at = CYCLE.starts_at + timedelta(days=10) if early else CYCLE.ends_at
        self.bills.add(
            Bill.make(
                CONTRACT,
                CONTRACT.period("1"),
                bill_draft(CONTRACT, "1", *self.entries),
                bill_id=uuid.uuid4(),
                version=self.bills.next_version,
                made_at=made_at,
                draft_from=made_at if automatic else None,
            )
        )

    @rule(data=st.data(), action=st.sampled_from(["issue", "send", "pay", "void", "mark_main"]))
    def change(self, data: st.DataObject, action: str) -> None:
        bill = self._pick(data)
        if bill is None:
            return
        try:
            getattr(self.bills, action)(bill.bill_id)
        except BillStatusConflict:
            return
        if action in ("void", "mark_main"):
            self._review()

    @invariant()
    def at_most_one_main_and_never_a_void_one(self) -> None:
        mains = [bill for bill in self.bills.versions if bill.is_main]
        assert len(mains) <= 1
        assert all(bill.status is not BillStatus.VOID for bill in mains)
        assert [bill.version for bill in self.bills.versions] == list(range(1, len(self.bills.versions) + 1))

    @invariant()
    def every_billable_entry_is_billed_by_the_main_or_pending(self) -> None:
        main = self.bills.main
        if main is None or not self.bills.versions:
            return  # no main: the period's entries show unbilled until a version is marked main
        newer = [
            bill
            for bill in self.bills.versions
            if bill.version > main.version and bill.status is not BillStatus.VOID
        ]
        for logged in self.entries:
            assert (
                logged.entry_id in main.time_entry_ids
                or main.needs_regeneration
                or any(logged.entry_id in bill.time_entry_ids for bill in newer)
            ), f"{logged.entry_id} is on no bill and nothing says so"

    @invariant()
    def a_paid_bill_never_changes(self) -> None:
        for bill in self.bills.versions:
            if bill.status is BillStatus.PAID:
                snapshot = (
                    bill.status,
                    bill.is_main,
                    bill.lines,
                    bill.time_entry_ids,
                    bill.total,
                    bill.due_date,
                )
                assert self.paid.setdefault(bill.bill_id, snapshot) == snapshot


TestPeriodOfBills = PeriodOfBills.TestCase
TestPeriodOfBills.settings = settings(
    max_examples=150, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
