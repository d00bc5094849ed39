"""Messages of the billing service: bills, usage thresholds and the command that asks for a bill."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from uuid import UUID

from pydantic import AwareDatetime, Field

from contracts_schema import edge, limits
from contracts_schema.primitives import DecimalString, MoneyAmount, Percentage, WireModel


class BillStatus(StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    SENT = "sent"
    PAID = "paid"
    VOID = "void"


class QuantityUnit(StrEnum):
    MINUTES = "minutes"
    REQUESTS = "requests"
    UNITS = "units"


class PricePer(StrEnum):
    HOUR = "hour"
    REQUEST = "request"
    UNIT = "unit"


class BillLine(WireModel):
    kind: str = Field(description="base_charge, top_up, overage, extra_requests or other_charges")
    description: str
    category: str | None = Field(
        default=None,
        description="rate category of an overage line: operational, non_operational, weekend, holiday or all",
    )
    quantity: DecimalString = Field(description="minutes for time lines, else units")
    quantity_display: str = Field(description="h:mm for time lines")
    unit_price: MoneyAmount
    amount: MoneyAmount = Field(description="quantity x unit_price (per price_per), rounded once, half up")
    quantity_unit: QuantityUnit | None = Field(default=None, description="what `quantity` counts")
    price_per: PricePer | None = Field(
        default=None, description="what `unit_price` is per: a minutes line is priced per hour"
    )
    cycle_index: int | None = Field(
        default=None, ge=1, description="the cycle whose base charge or usage the line carries"
    )


class BillState(WireModel):
    bill_id: UUID
    bill_number: str = Field(description="<bill number>-v<n>")
    version: int = Field(ge=1)
    contract_id: UUID
    account_id: str
    period: str = Field(description="cycle index (1, 2, ...) or 'final' for a prepaid closing bill")
    period_start: date
    period_end: date
    bill_date: date
    due_date: date
    currency: str
    lines: list[BillLine] = Field(
        description="base charge, top-ups, overage by category, one per bill rule, one per entry with other "
        "charges"
    )
    time_entry_ids: list[UUID] = Field(
        description="as many as fit: every event of a bill must fit one message "
        f"({limits.MAX_MESSAGE_BYTES} bytes), or the bill is not made (MessageTooLarge)"
    )
    subtotal: MoneyAmount
    discount_percent: Percentage
    discount: MoneyAmount
    tax_percent: Percentage
    tax: MoneyAmount
    total: MoneyAmount
    status: BillStatus
    is_main: bool
    needs_regeneration: bool = Field(
        default=False, description="time or terms changed since the bill was issued that would alter it"
    )
    regeneration_reasons: list[str] = Field(default=[], description="what changed, when needs_regeneration")
    notes: str = Field(default="", description=f"at most {limits.NOTES_LENGTH} characters")
    billing_email: str | None = Field(default=None, description=f"at most {limits.EMAIL_LENGTH} characters")
    grace_ends_at: AwareDatetime | None = Field(
        default=None, description="when a draft is issued; null for a bill that is not a draft"
    )
    void_reason: str | None = Field(default=None, description="why a void bill was voided, if it was said")
    usage_starts_at: AwareDatetime | None = Field(
        default=None,
        description="the first instant of the time the bill's figures depend on: the usage cycle it "
        "carries (postpaid: its own cycle; prepaid: the previous cycle, or the last for 'final'), or with "
        "carry-forward the contract's first cycle; null when it carries no usage (a prepaid contract's "
        "first bill). Once the period's main bill is paid, new time in this span is refused",
    )
    usage_ends_at: AwareDatetime | None = Field(
        default=None, description="the end of that usage cycle, excluded; null when the bill carries no usage"
    )


# --- events ---------------------------------------------------------------------------------------


class BillIssued(WireModel):
    """A bill was issued: made on demand or by regeneration, or a draft whose grace period ended."""

    bill: BillState


class BillDrafted(WireModel):
    """An automatic bill was made as a draft: it is recomputed in place until its grace period ends."""

    bill: BillState


class BillUpdated(WireModel):
    """A bill changed in place: a draft recomputed, or its due date, notes or billing email edited."""

    bill: BillState
    changed_fields: list[str]


class BillStatusChanged(WireModel):
    """A bill was sent, paid or voided."""

    bill: BillState
    previous_status: BillStatus
    reason: str = Field(default="", description="why, when the change came with a reason (a void)")


class BillMainChanged(WireModel):
    """The main bill of a contract's period changed: its entries are billed, the previous main's are
    not (unless the new main includes them). `main` is null when the main was voided and no other
    version is main yet."""

    contract_id: UUID
    period: str
    main: BillState | None
    previous_main: BillState | None


class BillNeedsRegeneration(WireModel):
    """Time or terms changed since the bill was issued in a way that would alter its figures."""

    bill: BillState
    reasons: list[str]


class LineDifference(WireModel):
    """One line that a recomputation gives differently: as billed, as recomputed (null: no such line)."""

    billed: BillLine | None
    recomputed: BillLine | None


class BillReconciled(WireModel):
    """A bill recomputed from the raw time entries and terms, compared line by line."""

    bill_id: UUID
    contract_id: UUID
    period: str
    matches: bool
    differences: list[LineDifference]
    entries_not_billed: list[UUID] = Field(description="billable entries of the period the bill leaves out")
    entries_no_longer_billable: list[UUID] = Field(description="entries on the bill that no longer count")
    billed_total: MoneyAmount
    recomputed_total: MoneyAmount
    needs_regeneration: bool
    regeneration_reasons: list[str]


class BillCommandRejected(WireModel):
    """Reply to a bill command that was well formed but could not be carried out; the event's
    `causationid` is the command's id."""

    contract_id: UUID | None = None
    period: str | None = None
    reason: str
    command_id: UUID | None = None
    command_type: str | None = None
    bill_id: UUID | None = None
    error: str | None = Field(default=None, description="the rule broken, e.g. BillStatusConflict")


# --- commands -------------------------------------------------------------------------------------


class GenerateBill(WireModel):
    """Command: make a bill for a contract's period now (a new version if the period has bills)."""

    contract_id: UUID
    period: edge.Period = Field(
        description="a cycle number (1 or 01, 2, ...) or 'final' for a prepaid closing bill"
    )
    bill_id: UUID | None = Field(default=None, description="the new bill's id; the command's id when omitted")


class BillCommand(WireModel):
    """A command on one bill; `contract_id` is the bill's contract (and the message key)."""

    contract_id: UUID
    bill_id: UUID


class IssueBill(BillCommand):
    """Command: issue a draft now, before its grace period ends."""


class SendBill(BillCommand):
    """Command: record that the main bill was sent to the customer."""


class PayBill(BillCommand):
    """Command: record that the main bill was paid; a paid bill never changes again."""


class VoidBill(BillCommand):
    """Command: void a bill; voiding the main leaves its period without one until another is marked."""

    reason: edge.Reason = ""


class MarkBillMain(BillCommand):
    """Command: make this version the main bill of its period, in place of the current one."""


class RegenerateBill(BillCommand):
    """Command: make a new version of the bill's period from current time entries and terms."""

    new_bill_id: UUID | None = Field(
        default=None, description="the new version's id; the command's id when omitted"
    )


class EditBill(BillCommand):
    """Command: change fields that are not figures; the fields left out stay as they are."""

    due_date: edge.CalendarDate | None = None
    notes: edge.Notes | None = None
    billing_email: edge.EmailAddress | None = None


class ReconcileBill(BillCommand):
    """Command: recompute the bill from the raw entries and terms; answered by BillReconciled."""


class UsageThresholdReached(WireModel):
    """A cycle's use of its allowance reached a level: each level once per cycle."""

    contract_id: UUID
    account_id: str
    cycle_index: int
    percent_used: int = Field(description="the level reached")
    used_minutes: int = Field(description="units used: minutes, or requests for per_request contracts")
    allowance_minutes: int = Field(description="the cycle's whole allowance, in the same units")
    reached_at: AwareDatetime
    recipients: list[str] = Field(default=[], description="who the contract's notifications name")


class AllowanceExhausted(WireModel):
    contract_id: UUID
    account_id: str
    cycle_index: int
    exhausted_at: AwareDatetime
    recipients: list[str] = Field(default=[], description="who the contract's notifications name")


class AllowanceRestored(WireModel):
    """A cycle whose allowance was used up has some left again (time was deleted or made non-billable,
    or a top-up came): work is covered again on a plan that blocks."""

    contract_id: UUID
    account_id: str
    cycle_index: int
    restored_at: AwareDatetime
    used: int = Field(description="units used: minutes, or requests for per_request contracts")
    allowance: int
