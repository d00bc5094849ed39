"""Bills as made: numbered versions of a contract period's bill, their statuses, and the main bill.

A period's bill can be made more than once: on demand, by regeneration after late or edited time, or
at the end of a cycle after an early bill. Each version has its own number,
`<contract number>-<period>-v<n>`, and earlier versions stay as they were. Exactly one version of a
period is its *main* bill, the one that counts and bills its time entries, unless the main was voided:
then the period has none until another version is marked main.

Statuses: `draft` -> `issued` -> `sent` -> `paid`, and `void` from any of the first three. A draft is an
automatic bill in its contract's grace period: recomputed in place, then issued when the grace ends.
Only the main version is sent or paid; the main can change while it is issued or sent, not once paid.
A paid bill never changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from billing.domain.bills import BillDraft, BillLine
from billing.domain.contract import FINAL_PERIOD, BillingContract, BillPeriod
from billing.domain.errors import BillNotFound, BillStatusConflict, InvalidBillChange
from servicekit.money import Money


class BillStatus(StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    SENT = "sent"
    PAID = "paid"
    VOID = "void"


_STATUS_MOVES: dict[BillStatus, frozenset[BillStatus]] = {
    BillStatus.DRAFT: frozenset({BillStatus.ISSUED, BillStatus.VOID}),
    BillStatus.ISSUED: frozenset({BillStatus.SENT, BillStatus.VOID}),
    BillStatus.SENT: frozenset({BillStatus.PAID, BillStatus.VOID}),
    BillStatus.PAID: frozenset(),
    BillStatus.VOID: frozenset(),
}
"""Where each status may go next; paid and void are final."""

_MAIN_ONLY = frozenset({BillStatus.SENT, BillStatus.PAID})
"""Statuses only the main version may reach: what a customer is sent and pays."""

_MAIN_MAY_CHANGE = frozenset({BillStatus.DRAFT, BillStatus.ISSUED, BillStatus.SENT})
"""Statuses of the current main that still let another version take its place."""

EDITABLE_FIELDS = frozenset({"due_date", "notes", "billing_email"})
"""What may change on a bill after it is made: nothing that is a figure."""


def is_email_address(text: str) -> bool:
    """Enough to catch a typo: one @ between a local part and a dotted domain, no spaces."""
    local, at, domain = text.rpartition("@")
    return bool(
        at and local and "." in domain.strip(".") and len(text) <= 320 and not any(c.isspace() for c in text)
    )


def bill_number(contract_number: str, period: str, version: int) -> str:
    """C-1042-03-v1 for the third cycle's first version, C-1042-FINAL-v2 for a final bill's second."""
    label = FINAL_PERIOD.upper() if period == FINAL_PERIOD else f"{int(period):02d}"
    return f"{contract_number}-{label}-v{version}"


@dataclass
class Bill:
    """One version of the bill of a contract's period, with its lines and totals as they were made.

    `whole_period` is false for a bill made before its period's usage cycle ended (on demand): the
    scheduler still bills the whole period when it ends. `needs_regeneration` says that time or terms
    changed after the bill was issued in a way that would alter its figures, and `regeneration_reasons`
    says how; both are cleared when a new version of the period is made.
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
    needs_regeneration: bool = False
    regeneration_reasons: tuple[str, ...] = ()
    notes: str = ""
    billing_email: str | None = None
    grace_ends_at: datetime | None = None
    """When a draft is issued; None once issued, or for a bill that was never a draft."""
    void_reason: str = ""
    usage_starts_at: datetime | None = None
    usage_ends_at: datetime | None = None
    """[usage_starts_at, usage_ends_at): the time the bill's figures depend on, the usage cycle it
    carries (with carry-forward, from the contract's first cycle: unused allowance flows forward into
    it); None for a bill that carries none (a prepaid contract's first). Once the period's main is
    paid, time logged there can never be billed, so the time tracking service closes this span."""

    @classmethod
    def make(
        cls,
        contract: BillingContract,
        period: BillPeriod,
        draft: BillDraft,
        *,
        bill_id: UUID,
        version: int,
        made_at: datetime,
        draft_from: datetime | None = None,
        made_on: datetime | None = None,
    ) -> Bill:
        """A new version, not yet anyone's main, dated by `made_at` (a cycle boundary, say).
        `draft_from` makes it a draft for the contract's grace period counted from then (an automatic
        bill of a contract that has one: a back-dated bill made today is a draft for the days to come).
        `made_on` is when it is really made: the payment terms run from then when that is after its
        date, so a back-dated bill is not overdue the day it is sent."""
        bill_date = contract.bill_date(made_at)
        terms_from = max(bill_date, contract.bill_date(made_on or made_at))
        grace_ends_at = draft_from + contract.grace_period if draft_from and contract.grace_period else None
        usage_starts_at, usage_ends_at = usage_span(contract, period)
        bill = cls(
            bill_id=bill_id,
            number=bill_number(contract.contract_number, period.name, version),
            version=version,
            contract_id=contract.contract_id,
            account_id=contract.account_id,
            period=period.name,
            period_start=period.first_day,
            period_end=period.last_day,
            bill_date=bill_date,
            due_date=contract.due_date(terms_from),
            currency=draft.currency,
            lines=(),
            time_entry_ids=(),
            subtotal=draft.subtotal,
            discount_percent=draft.discount_percent,
            discount=draft.discount,
            tax_percent=draft.tax_percent,
            tax=draft.tax,
            total=draft.total,
            status=BillStatus.DRAFT if grace_ends_at else BillStatus.ISSUED,
            is_main=False,
            whole_period=period.covered_whole_by(made_at),
            billing_email=contract.billing_email,
            grace_ends_at=grace_ends_at,
            usage_starts_at=usage_starts_at,
            usage_ends_at=usage_ends_at,
        )
        bill._take_figures(draft)
        return bill

    def _take_figures(self, draft: BillDraft) -> None:
        self.currency = draft.currency
        self.lines = draft.lines
        self.time_entry_ids = draft.entry_ids
        self.subtotal = draft.subtotal
        self.discount_percent = draft.discount_percent
        self.discount = draft.discount
        self.tax_percent = draft.tax_percent
        self.tax = draft.tax
        self.total = draft.total

    @property
    def is_draft(self) -> bool:
        return self.status is BillStatus.DRAFT

    @property
    def counts(self) -> bool:
        """Whether the bill bills its entries and counts in totals: the main one, once issued."""
        return self.is_main and self.status in (BillStatus.ISSUED, BillStatus.SENT, BillStatus.PAID)

    def same_figures(self, draft: BillDraft) -> bool:
        """Whether a recomputation gives what this bill says: its lines, entries and totals."""
        return (
            tuple(_figures(line) for line in self.lines) == tuple(_figures(line) for line in draft.lines)
            and set(self.time_entry_ids) == set(draft.entry_ids)
            and (self.subtotal, self.discount, self.tax, self.total)
            == (draft.subtotal, draft.discount, draft.tax, draft.total)
        )

    def recompute(self, draft: BillDraft) -> bool:
        """A draft takes new figures in place (same number, same version); returns whether they changed."""
        if not self.is_draft:
            raise BillStatusConflict(
                f"bill {self.number} is {self.status}: only a draft is recomputed in place"
            )
        if self.same_figures(draft):
            return False
        self._take_figures(draft)
        return True

    def edit(self, changes: Mapping[str, object]) -> list[str]:
        """Change fields that are not figures (`EDITABLE_FIELDS`); returns the names of those that
        changed. A billing email of None clears it."""
        unknown = set(changes) - EDITABLE_FIELDS
        if unknown:
            raise InvalidBillChange(
                f"only {', '.join(sorted(EDITABLE_FIELDS))} can be edited, not {sorted(unknown)}"
            )
        if self.status in (BillStatus.PAID, BillStatus.VOID):
            raise BillStatusConflict(f"bill {self.number} is {self.status} and no longer changes")
        due_date = changes.get("due_date", self.due_date)
        if not isinstance(due_date, date):
            raise InvalidBillChange("a due date is a date; it cannot be cleared")
        if due_date < self.bill_date:
            raise InvalidBillChange(f"the due date {due_date} is before the bill date {self.bill_date}")
        if not isinstance(changes.get("notes", ""), str):
            raise InvalidBillChange("notes are text; send an empty text to clear them")
        email = changes.get("billing_email")
        if email is not None and (not isinstance(email, str) or not is_email_address(email)):
            raise InvalidBillChange(f"{email!r} is not an email address")
        changed = [name for name, value in changes.items() if getattr(self, name) != value]
        for name in changed:
            setattr(self, name, changes[name])
        return changed

    def _move(self, to: BillStatus) -> BillStatus:
        if to not in _STATUS_MOVES[self.status]:
            raise BillStatusConflict(f"bill {self.number} is {self.status} and cannot become {to}")
        if to in _MAIN_ONLY and not self.is_main:
            raise BillStatusConflict(
                f"bill {self.number} is not its period's main bill: only the main is {to}"
            )
        previous, self.status = self.status, to
        if to is not BillStatus.DRAFT:
            self.grace_ends_at = None
        return previous

    def flag(self, reasons: Sequence[str]) -> bool:
        """Time or terms changed that would alter this bill; returns whether anything new was said."""
        new = [reason for reason in reasons if reason not in self.regeneration_reasons]
        if self.needs_regeneration and not new:
            return False
        self.needs_regeneration = True
        self.regeneration_reasons = (*self.regeneration_reasons, *new)
        return True


def _figures(line: BillLine) -> tuple[object, ...]:
    return (line.kind, line.quantity, line.quantity_unit, line.unit_price, line.amount, line.category)


# --- what a period's bills tell the world ---------------------------------------------------------


@dataclass(frozen=True)
class BillMade:
    """A new version: a draft, or issued at once."""

    bill: Bill


@dataclass(frozen=True)
class BillIssued:
    """A draft issued at the end of its grace period (or on request)."""

    bill: Bill


@dataclass(frozen=True)
class BillStatusChanged:
    bill: Bill
    previous: BillStatus
    reason: str = ""


@dataclass(frozen=True)
class MainBillChanged:
    """The period's main bill is now `main` (None: voided, and no other marked yet)."""

    contract_id: UUID
    period: str
    main: Bill | None
    previous: Bill | None


@dataclass(frozen=True)
class BillFlagged:
    bill: Bill
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class BillUpdated:
    """Fields of a bill changed in place: a draft recomputed, or its due date, notes or email edited."""

    bill: Bill
    changed: tuple[str, ...]


BillEvent = BillMade | BillIssued | BillStatusChanged | MainBillChanged | BillFlagged | BillUpdated


@dataclass
class PeriodBills:
    """Every version of one contract period's bill: the aggregate that keeps one main among them.

    Changes are made here and recorded in `events`; whoever loads a period's bills locks them, so two
    changes of one period apply one after the other.
    """

    contract_id: UUID
    period: str
    versions: list[Bill]
    events: list[BillEvent] = field(default_factory=list)

    @property
    def main(self) -> Bill | None:
        return next((bill for bill in self.versions if bill.is_main), None)

    @property
    def next_version(self) -> int:
        return max((bill.version for bill in self.versions), default=0) + 1

    def bill(self, bill_id: UUID) -> Bill:
        found = next((bill for bill in self.versions if bill.bill_id == bill_id), None)
        if found is None:
            raise BillNotFound(f"no bill {bill_id} of contract {self.contract_id}, period {self.period}")
        return found

    def add(self, bill: Bill) -> None:
        """A new version. The first one is the main bill. A bill of the whole period takes over from a
        main made before the period ended (on demand) that was not sent or paid. Flags of earlier
        versions are cleared, but a paid one's: the new version carries what they lacked."""
        if bill.period != self.period or bill.contract_id != self.contract_id:
            raise InvalidBillChange(
                f"bill {bill.number} is not of contract {self.contract_id}, period {self.period}"
            )
        main = self.main
        for earlier in self.versions:
            # A paid bill never changes: what it left out stays said.
            if earlier.needs_regeneration and earlier.status is not BillStatus.PAID:
                earlier.needs_regeneration, earlier.regeneration_reasons = False, ()
                self.events.append(BillUpdated(earlier, ("needs_regeneration",)))
        self.versions.append(bill)
        self.events.append(BillMade(bill))
        if not self.versions[:-1]:
            bill.is_main = True
        elif (
            main is not None
            and bill.whole_period
            and not main.whole_period
            and main.status in (BillStatus.DRAFT, BillStatus.ISSUED)
        ):
            self._swap_main(main, bill)

    def mark_main(self, bill_id: UUID) -> None:
        bill = self.bill(bill_id)
        main = self.main
        if bill is main:
            raise BillStatusConflict(f"bill {bill.number} is already the main bill of its period")
        if bill.status is not BillStatus.ISSUED:
            raise BillStatusConflict(
                f"bill {bill.number} is {bill.status}: only an issued bill can become main"
            )
        if main is not None and main.status not in _MAIN_MAY_CHANGE:
            raise BillStatusConflict(
                f"the main bill {main.number} is {main.status}: the main cannot change once it is paid"
            )
        self._swap_main(main, bill)

    def _swap_main(self, main: Bill | None, bill: Bill) -> None:
        if main is not None:
            main.is_main = False
        bill.is_main = True
        self.events.append(MainBillChanged(self.contract_id, self.period, bill, main))

    def issue(self, bill_id: UUID) -> None:
        bill = self.bill(bill_id)
        bill._move(BillStatus.ISSUED)
        self.events.append(BillIssued(bill))

    def send(self, bill_id: UUID) -> None:
        self._change_status(self.bill(bill_id), BillStatus.SENT)

    def pay(self, bill_id: UUID, contract: BillingContract | None = None) -> None:
        """A paid period takes no new version, so a bill made before its cycle ended (on demand) is not
        paid: the time logged after it could reach no bill. Its whole cycle's version, made when the
        cycle ends, becomes main and is paid instead. A bill made before bills stated the time they
        depend on learns it from `contract` now, so that its payment closes that time downstream."""
        bill = self.bill(bill_id)
        if not bill.whole_period:
            raise BillStatusConflict(
                f"bill {bill.number} was made before its cycle ended: pay the version made for the whole "
                "cycle once it has ended"
            )
        if bill.usage_ends_at is None and contract is not None:
            bill.usage_starts_at, bill.usage_ends_at = usage_span(contract, contract.period(bill.period))
        self._change_status(bill, BillStatus.PAID)

    def void(self, bill_id: UUID, reason: str = "") -> None:
        """Void a version; voiding the main leaves the period without one until another is marked."""
        bill = self.bill(bill_id)
        self._change_status(bill, BillStatus.VOID, reason)
        bill.void_reason = reason
        if bill.is_main:
            bill.is_main = False
            self.events.append(MainBillChanged(self.contract_id, self.period, None, bill))

    def _change_status(self, bill: Bill, to: BillStatus, reason: str = "") -> None:
        previous = bill._move(to)
        self.events.append(BillStatusChanged(bill, previous, reason))

    def needs_review(self, reason: str) -> bool:
        """Whether a change of time or terms could alter anything here: a draft to recompute, or a
        main bill not yet known to be stale for this reason (a stale one still learns each new one)."""
        main = self.main
        return any(bill.is_draft for bill in self.versions) or (
            main is not None and reason not in main.regeneration_reasons
        )

    def review(self, draft: BillDraft, reason: str) -> None:
        """Time or terms of the period changed, and `draft` is its bill from current data: drafts take
        it in place; an issued main bill with other figures is flagged with the reason."""
        for bill in self.versions:
            if bill.is_draft and bill.recompute(draft):
                self.events.append(BillUpdated(bill, ("lines", "totals", "time_entry_ids")))
        main = self.main
        if main is not None and not main.is_draft and not main.same_figures(draft):
            self.flag(main.bill_id, [reason])

    def flag(self, bill_id: UUID, reasons: Sequence[str]) -> None:
        bill = self.bill(bill_id)
        if bill.flag(reasons):
            self.events.append(BillFlagged(bill, bill.regeneration_reasons))

    def edit(self, bill_id: UUID, changes: Mapping[str, object]) -> None:
        bill = self.bill(bill_id)
        changed = bill.edit(changes)
        if changed:
            self.events.append(BillUpdated(bill, tuple(changed)))

    def changed_bills(self) -> list[Bill]:
        """The versions the recorded events touched, each once."""
        seen: dict[UUID, Bill] = {}
        for event in self.events:
            for bill in _bills_of(event):
                seen.setdefault(bill.bill_id, bill)
        return list(seen.values())


def _bills_of(event: BillEvent) -> list[Bill]:
    match event:
        case MainBillChanged(main=main, previous=previous):
            return [bill for bill in (main, previous) if bill is not None]
        case (
            BillMade(bill=bill)
            | BillIssued(bill=bill)
            | BillStatusChanged(bill=bill)
            | BillFlagged(bill=bill)
            | BillUpdated(bill=bill)
        ):
            return [bill]
    return []


def usage_span(contract: BillingContract, period: BillPeriod) -> tuple[datetime | None, datetime | None]:
    """The time a period's bill depends on, [start, end): its usage cycle, or with carry-forward from the
    first cycle, since what earlier cycles left unused is part of its allowance; none for a bill that
    carries no usage."""
    if period.usage_cycle is None:
        return None, None
    starts_at = contract.cycles[0].starts_at if contract.terms.carry_forward else period.usage_cycle.starts_at
    return starts_at, period.usage_cycle.ends_at
