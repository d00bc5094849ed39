"""Messages of the contracts service: calendars, support plans, contracts and the commands it takes."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal
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


class RuleField(StrEnum):
    WORK_LOG_TYPE = "work_log_type"
    RATE_TYPE = "rate_type"
    PRODUCT = "product"
    CUSTOM_FIELD = "custom_field"


class RuleOperator(StrEnum):
    EQUALS = "equals"
    ONE_OF = "one_of"


class RuleMatch(StrEnum):
    ALL = "all"
    ANY = "any"


class RuleCriterion(WireModel):
    """A condition on a time entry's field: equal to a value, or one of several."""

    field: RuleField
    custom_field: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="the custom field's name, for field custom_field",
    )
    operator: RuleOperator = RuleOperator.EQUALS
    values: list[Annotated[str, Field(max_length=500)]] = Field(min_length=1, max_length=50)


class BillRule(WireModel):
    """Time entries that match are priced at `hourly_rate` for all their counted minutes, on a line of
    their own; they do not draw on the allowance and are not overage."""

    name: str = Field(min_length=1, max_length=100)
    criteria: list[RuleCriterion] = Field(min_length=1, max_length=10)
    match: RuleMatch = RuleMatch.ALL
    hourly_rate: MoneyAmount


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
    bill_rules: list[BillRule] = Field(
        default=[], max_length=20, description="in order: the first rule an entry matches prices it"
    )
    grace_period_days: int = Field(
        default=0,
        ge=0,
        le=90,
        description="days an automatic bill stays a draft, recomputed as late time arrives, until issued",
    )


class ContractScope(WireModel):
    all_products: bool = True
    products: list[str] = []


class ContractNotifications(WireModel):
    """Who hears about a contract nearing its end, and when; a day count of None sends no notice."""

    days_before_expiry: int | None = Field(default=None, ge=0, le=3650)
    days_after_expiry: int | None = Field(default=None, ge=0, le=3650)
    allowance_used_percent: int | None = Field(
        default=None, ge=1, le=100, description="billing announces when a cycle's allowance is this % used"
    )
    recipients: list[str] = []


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
    notifications: ContractNotifications = ContractNotifications()


class SupportPlanState(WireModel):
    plan_id: UUID
    name: str
    description: str = ""
    terms: PlanTerms
    top_up_plan_ids: list[UUID] = []
    is_default: bool = False
    version: int = Field(ge=1)


class TopUpPlanState(WireModel):
    """Units a prepaid contract can buy for its current cycle, at a price."""

    top_up_plan_id: UUID
    name: str
    description: str = ""
    price: MoneyAmount
    hour_units: int = Field(ge=0)
    request_units: int = Field(ge=0)
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


class TopUpPlanSaved(WireModel):
    top_up_plan: TopUpPlanState


class TopUpPlanDeleted(WireModel):
    top_up_plan_id: UUID


class ContractExpiryApproaching(WireModel):
    """Notice: the contract expires in `days_before_expiry` days (sent once, per its notifications)."""

    contract: ContractState
    days_before_expiry: int
    recipients: list[str]


class ContractExpiredNotice(WireModel):
    """Notice: the contract expired `days_after_expiry` days ago (sent once, per its notifications)."""

    contract: ContractState
    days_after_expiry: int
    recipients: list[str]


class ContractCommandRejected(WireModel):
    """Reply to a contract command that was well formed but broke a business rule; the event's
    `causationid` is the command's id."""

    command_id: UUID
    command_type: str
    contract_id: UUID
    error: str = Field(description="the rule broken, e.g. OverlappingContract")
    reason: str


# --- commands -----------------------------------------------------------------------------------


class CreateContract(WireModel):
    """Command: sign a contract. `contract_id` is chosen by the producer."""

    contract_id: UUID
    account_id: str = Field(min_length=1, max_length=100)
    plan_id: UUID | None = Field(default=None, description="the default plan when omitted")
    contract_number: str | None = Field(default=None, max_length=100)
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    start_date: date
    expiry_date: date
    time_zone: str | None = Field(default=None, description="the plan calendar's zone when omitted")
    scope: ContractScope = ContractScope()
    notifications: ContractNotifications = ContractNotifications()
    billing_email: str | None = None
    payment_terms_days: int = Field(default=30, ge=0, le=3650)
    discount_percent: Percentage = Decimal(0)
    tax_percent: Percentage = Decimal(0)
    base_charge_override: MoneyAmount | None = None
    allowance_override: int | None = Field(default=None, ge=0)


class TopUpContract(WireModel):
    """Command: buy a top-up for the contract's current cycle; `top_up_id` defaults to the command id."""

    contract_id: UUID
    top_up_plan_id: UUID
    top_up_id: UUID | None = None


class RenewContract(WireModel):
    """Command: renew a contract; the new one has `new_contract_id` and the old terms unless changed."""

    contract_id: UUID
    new_contract_id: UUID
    plan_id: UUID | None = Field(default=None, description="a new plan; the old terms when omitted")
    contract_number: str | None = Field(default=None, max_length=100)
    start_date: date | None = Field(default=None, description="the day after expiry when omitted")
    expiry_date: date | None = Field(default=None, description="the old contract's length when omitted")
    base_charge_override: MoneyAmount | None = None
    allowance_override: int | None = Field(default=None, ge=0)


class TerminateContract(WireModel):
    """Command: terminate a contract at the end of `termination_date` (today when omitted)."""

    contract_id: UUID
    termination_date: date | None = None
    reason: str = Field(default="", max_length=2000)
