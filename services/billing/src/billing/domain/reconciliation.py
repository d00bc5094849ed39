"""A bill compared with a recomputation of its period from the raw entries and current terms.

A correct bill matches line for line. A bill that time or terms have overtaken shows where: the lines
that differ (as billed, as recomputed), the billable entries it leaves out, and the entries on it that
no longer count.
"""

from __future__ import annotations

from dataclasses import dataclass

from billing.domain.bill_versions import Bill
from billing.domain.bills import BillDraft, BillLine


@dataclass(frozen=True)
class LineDifference:
    billed: BillLine | None
    recomputed: BillLine | None


@dataclass(frozen=True)
class Reconciliation:
    bill: Bill
    recomputed: BillDraft
    differences: tuple[LineDifference, ...]
    entries_not_billed: tuple[str, ...]
    entries_no_longer_billable: tuple[str, ...]

    @property
    def matches(self) -> bool:
        return (
            not (self.differences or self.entries_not_billed or self.entries_no_longer_billable)
            and self.bill.total == self.recomputed.total
        )


def reconcile(bill: Bill, recomputed: BillDraft) -> Reconciliation:
    """Lines are matched by kind and description, which name their cycle, category or entry."""
    billed_lines = {_key(line): line for line in bill.lines}
    recomputed_lines = {_key(line): line for line in recomputed.lines}
    differences = tuple(
        LineDifference(billed_lines.get(key), recomputed_lines.get(key))
        for key in dict.fromkeys([*billed_lines, *recomputed_lines])
        if _figures(billed_lines.get(key)) != _figures(recomputed_lines.get(key))
    )
    on_bill, billable_now = set(bill.time_entry_ids), set(recomputed.entry_ids)
    return Reconciliation(
        bill=bill,
        recomputed=recomputed,
        differences=differences,
        entries_not_billed=tuple(sorted(billable_now - on_bill)),
        entries_no_longer_billable=tuple(sorted(on_bill - billable_now)),
    )


def _key(line: BillLine) -> tuple[str, str]:
    return line.kind.value, line.description


def _figures(line: BillLine | None) -> tuple[object, ...] | None:
    if line is None:
        return None
    return (line.quantity, line.quantity_unit, line.unit_price, line.amount, line.category)
