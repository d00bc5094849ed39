"""Messages of the billing service: bills, usage thresholds and the command that asks for a bill."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from uuid import UUID

from pydantic import AwareDatetime, Field

from contracts_schema.primitives import DecimalString, MoneyAmount, Percentage, WireModel


class BillStatus(StrEnum):
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
    category: str | None = Field(default=None, description="rate category of an overage line")
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
    lines: list[BillLine]
    time_entry_ids: list[UUID]
    subtotal: MoneyAmount
    discount_percent: Percentage
    discount: MoneyAmount
    tax_percent: Percentage
    tax: MoneyAmount
    total: MoneyAmount
    status: BillStatus
    is_main: bool


class BillIssued(WireModel):
    bill: BillState


class GenerateBill(WireModel):
    """Command: make a bill for a contract's period now (a new version if the period has bills)."""

    contract_id: UUID
    period: str


class BillCommandRejected(WireModel):
    """Reply to a GenerateBill command that was well formed but could not be carried out."""

    contract_id: UUID
    period: str
    reason: str


class UsageThresholdReached(WireModel):
    contract_id: UUID
    account_id: str
    cycle_index: int
    percent_used: int
    used_minutes: int
    allowance_minutes: int
    reached_at: AwareDatetime


class AllowanceExhausted(WireModel):
    contract_id: UUID
    account_id: str
    cycle_index: int
    exhausted_at: AwareDatetime
