"""Messages of the contracts service: calendars, support plans, contracts and the commands it takes."""

from __future__ import annotations

from datetime import date, time
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import AwareDatetime, Field, model_validator

from contracts_schema.primitives import CurrencyCode, MoneyAmount, Percentage, WireModel


class PlanType(StrEnum):
    PER_HOUR = "per_hour"
    PER_REQUEST = "per_request"
    FIXED_CHARGE = "fixed_charge"


class BillingMode(StrEnum):
    PREPAID = "prepaid"
    POSTPAID = "postpaid"


class BillCycle(StrEnum):
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    HALF_YEARLY = "half_yearly"
    YEARLY = "yearly"
    CONTRACT_LENGTH = "contract_length"


class WhenExhausted(StrEnum):
    BLOCK = "block"
    CHARGE_EXTRA = "charge_extra"


class OverageRateKind(StrEnum):
    FIXED = "fixed"
    DIFFERENTIAL = "differential"


class ContractStatus(StrEnum):
    UPCOMING = "upcoming"
    ACTIVE = "active"
    EXPIRED = "expired"
    TERMINATED = "terminated"


class WorkingHours(WireModel):
    start: time
    end: time

    @model_validator(mode="after")
    def _start_before_end(self) -> WorkingHours:
        if self.start >= self.end:
            raise ValueError("working hours must start before they end")
        return self


class BusinessCalendar(WireModel):
    """Working days (ISO weekdays, 1 = Monday) and hours, holidays by local date, in one time zone."""

    calendar_id: UUID
    name: str = Field(min_length=1, max_length=200)
    time_zone: str = Field(min_length=1, description="IANA time zone, e.g. Europe/Berlin")
    working_days: list[Annotated[int, Field(ge=1, le=7)]]
    working_hours: list[WorkingHours]
    holidays: list[date] = []


class DifferentialRates(WireModel):
    """Hourly overage rates by category of time."""

    operational: MoneyAmount
    non_operational: MoneyAmount
    weekend: MoneyAmount
    holiday: MoneyAmount


class PlanTerms(WireModel):
    """The terms of a support plan; snapshotted onto a contract when it is signed."""

    plan_type: PlanType
    billing_mode: BillingMode
    bill_cycle: BillCycle
    currency: CurrencyCode
    base_charge: MoneyAmount
    allowance: int = Field(ge=0, description="whole hours per cycle, or requests for per_request plans")
    when_exhausted: WhenExhausted
    overage_rate_kind: OverageRateKind | None = None
    overage_rate: MoneyAmount | None = Field(
        default=None, description="per hour, or per request for per_request plans"
    )
    differential_rates: DifferentialRates | None = None
    carry_forward: bool = False
    reps_may_add_other_charges: bool = False
    reps_may_override_time_taken: bool = False
    deduct_only_operational: bool = False
    calendar_id: UUID


class ContractScope(WireModel):
    all_products: bool = True
    products: list[str] = []


class ContractState(WireModel):
    """The whole contract as it stands after an event: read models rebuild from this alone."""

    contract_id: UUID
    contract_number: str
    account_id: str
    name: str
    description: str = ""
    plan_id: UUID
    status: ContractStatus
    start_date: date
    expiry_date: date
    termination_date: date | None = None
    time_zone: str
    scope: ContractScope
    billing_email: str | None = None
    payment_terms_days: int = Field(ge=0)
    discount_percent: Percentage
    tax_percent: Percentage
    terms: PlanTerms = Field(description="the plan's terms with the contract's overrides applied")
    renewed_from: UUID | None = None
    renewed_to: UUID | None = None
    version: int = Field(ge=1, description="increases by one with every change")


class SupportPlanState(WireModel):
    plan_id: UUID
    name: str
    description: str = ""
    terms: PlanTerms
    top_up_plan_ids: list[UUID] = []
    is_default: bool = False
    version: int = Field(ge=1)


# --- events -------------------------------------------------------------------------------------


class CalendarSaved(WireModel):
    calendar: BusinessCalendar


class SupportPlanSaved(WireModel):
    plan: SupportPlanState


class ContractCreated(WireModel):
    contract: ContractState


class ContractUpdated(WireModel):
    contract: ContractState
    changed_fields: list[str]


class ContractStatusChanged(WireModel):
    contract: ContractState
    previous_status: ContractStatus


class ContractTerminated(WireModel):
    contract: ContractState
    terminated_at: AwareDatetime = Field(description="end of the termination date in the contract's zone")
    reason: str = ""


class ContractRenewed(WireModel):
    contract: ContractState = Field(description="the old contract, now linked to the new one")
    new_contract: ContractState
    renewed_at: AwareDatetime


class ContractToppedUp(WireModel):
    contract: ContractState
    top_up_id: UUID
    top_up_plan_id: UUID
    units: int = Field(gt=0, description="hours, or requests for per_request plans")
    price: MoneyAmount
    bought_at: AwareDatetime


class ContractDeleted(WireModel):
    contract_id: UUID
    account_id: str
