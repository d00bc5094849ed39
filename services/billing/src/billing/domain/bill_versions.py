"""Bills as made: numbered versions of a contract period's bill, one of which is its main bill.

A bill is made from a draft (`bills.BillDraft`) for a contract's period. The first version of a period
is its main bill; a later one for the same period is a new version with its own number,
`<contract number>-<period>-v<n>`, and earlier versions stay as they were.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from billing.domain.bills import BillDraft, BillLine
from billing.domain.contract import FINAL_PERIOD, BillingContract, BillPeriod
from servicekit.money import Money


class BillStatus(StrEnum):
    ISSUED = "issued"
    SENT = "sent"
    PAID = "paid"
    VOID = "void"


def bill_number(contract_number: str, period: str, version: int) -> str:
    """C-1042-03-v1 for the third cycle's first version, C-1042-FINAL-v2 for a final bill's second."""
    label = FINAL_PERIOD.upper() if period == FINAL_PERIOD else f"{int(period):02d}"
    return f"{contract_number}-{label}-v{version}"


@dataclass
class Bill:
    """One version of the bill of a contract's period, with its lines and totals as they were made.

    `whole_period` is false for a bill made before its period's usage cycle ended (on demand): the
    scheduler still bills the whole period when it ends.
    """

    bill_id: UUID
    number: str
    version: int
    contract_id: UUID
    account_id: str
    period: str
    period_start: date
    period_end: date
    bill_date: date
    due_date: date
    currency: str
    lines: tuple[BillLine, ...]
    time_entry_ids: tuple[str, ...]
    subtotal: Money
    discount_percent: Decimal
    discount: Money
    tax_percent: Decimal
    tax: Money
    total: Money
    status: BillStatus
    is_main: bool
    whole_period: bool

    @classmethod
    def make(
        cls,
        contract: BillingContract,
        period: BillPeriod,
        draft: BillDraft,
        *,
        bill_id: UUID,
        version: int,
        is_main: bool,
        made_at: datetime,
    ) -> Bill:
        bill_date = contract.bill_date(made_at)
        return cls(
            bill_id=bill_id,
            number=bill_number(contract.contract_number, period.name, version),
            version=version,
            contract_id=contract.contract_id,
            account_id=contract.account_id,
            period=period.name,
            period_start=period.first_day,
            period_end=period.last_day,
            bill_date=bill_date,
            due_date=contract.due_date(bill_date),
            currency=draft.currency,
            lines=draft.lines,
            time_entry_ids=draft.entry_ids,
            subtotal=draft.subtotal,
            discount_percent=draft.discount_percent,
            discount=draft.discount,
            tax_percent=draft.tax_percent,
            tax=draft.tax,
            total=draft.total,
            status=BillStatus.ISSUED,
            is_main=is_main,
            whole_period=period.covered_whole_by(made_at),
        )

    def demote(self) -> None:
        """Another version became the period's main bill."""
        self.is_main = False
