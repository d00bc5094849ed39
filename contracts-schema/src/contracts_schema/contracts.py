"""Messages of the contracts service: calendars, support plans, contracts and the commands it takes."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)

from contracts_schema import edge, limits
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


def _without_offset(value: time) -> time:
    return value.replace(tzinfo=None)


def _end_of_day(value: Any) -> Any:
    return time(0) if value in (edge.END_OF_DAY, edge.END_OF_DAY + ":00") else value


def _end_text(value: time) -> str:
    return edge.END_OF_DAY + ":00" if value == time(0) else value.isoformat()


_WALL_CLOCK = (
    "a local wall-clock time HH:MM:SS, without an offset. Calendars saved before contracts-schema 1.1 "
    "may carry one (09:00:00+05:00): it means nothing on a wall clock, and readers ignore it"
)
WallClockTime = Annotated[
    time, AfterValidator(_without_offset), WithJsonSchema({"type": "string", "description": _WALL_CLOCK})
]
WallClockEndTime = Annotated[
    time,
    BeforeValidator(_end_of_day),
    AfterValidator(_without_offset),
    PlainSerializer(_end_text, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "description": _WALL_CLOCK + "; 24:00:00 is the end of the day"}),
]


class WorkingHours(WireModel):
    """One interval [start, end) of a working day, as published: read whatever contracts ever wrote."""

    start: WallClockTime
    end: WallClockEndTime

    @model_validator(mode="after")
    def _start_before_end(self) -> WorkingHours:
        problem = edge.working_hours_problem([(self.start, self.end)])
        if problem:
            raise ValueError(problem)
        return self


class BusinessCalendar(WireModel):
    """Working days (ISO weekdays, 1 = Monday) and hours, holidays by local date, in one time zone.

    As published and stored; what a caller may give is `CalendarFields`, validated at the edge."""

    calendar_id: UUID
    name: str = Field(min_length=1, max_length=200, description="at most 200 characters")
    time_zone: str = Field(min_length=1, description="IANA time zone, e.g. Europe/Berlin")
    working_days: list[Annotated[int, Field(ge=1, le=7)]]
    working_hours: list[WorkingHours] = Field(description=f"at most {limits.WORKING_HOURS} intervals")
    holidays: list[date] = Field(default=[], description=f"at most {limits.HOLIDAYS} dates")


class WorkingHoursFields(WireModel):
    """One interval of working time as a caller gives it: local times HH:MM; it may end at 24:00."""

    start: edge.LocalTime
    end: edge.LocalEndTime

    @model_validator(mode="after")
    def _start_before_end(self) -> WorkingHoursFields:
        problem = edge.working_hours_problem([(self.start, self.end)])
        if problem:
            raise ValueError(problem)
        return self


class CalendarFields(WireModel):
    """A business-hours calendar as a caller gives it: the one validation of calendars. Every calendar
    it accepts is one that every service reads (`BusinessCalendar`) and counts minutes by."""

    name: edge.Name
    time_zone: edge.TimeZoneName
    working_days: list[Annotated[int, Field(ge=1, le=7)]] = Field(
        default=[1, 2, 3, 4, 5], max_length=7, description="ISO weekdays, 1 = Monday; each at most once"
    )
    working_hours: list[WorkingHoursFields] = Field(max_length=limits.WORKING_HOURS)
    holidays: list[edge.CalendarDate] = Field(default=[], max_length=limits.HOLIDAYS)

    @model_validator(mode="after")
    def _a_calendar_every_service_reads(self) -> CalendarFields:
        if len(set(self.working_days)) != len(self.working_days):
            raise ValueError("working_days lists a day twice")
        if self.working_days and not self.working_hours:
            raise ValueError("working days need working_hours")
        problem = edge.working_hours_problem([(hours.start, hours.end) for hours in self.working_hours])
        if problem:
            raise ValueError(problem)
        return self


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


class DifferentialRatesFields(DifferentialRates):
    operational: edge.Money
    non_operational: edge.Money
    weekend: edge.Money
    holiday: edge.Money


class RuleCriterionFields(RuleCriterion):
    custom_field: edge.CustomFieldName | None = Field(
        default=None, description="the custom field's name, for field custom_field"
    )
    values: list[edge.RuleValue] = Field(min_length=1, max_length=limits.CRITERION_VALUES)


class BillRuleFields(BillRule):
    name: edge.RuleName
    criteria: list[RuleCriterionFields] = Field(  # type: ignore[assignment]
        min_length=1, max_length=limits.RULE_CRITERIA
    )
    hourly_rate: edge.Money


class PlanTermsFields(PlanTerms):
    """A plan's terms as a caller gives them: money in the plan's ISO 4217 currency, bounded rules."""

    currency: edge.CurrencyCode
    base_charge: edge.Money
    allowance: int = Field(
        ge=0,
        le=limits.MAX_ALLOWANCE,
        description="whole hours per cycle, or requests for per_request plans",
    )
    overage_rate: edge.Money | None = Field(
        default=None, description="per hour, or per request for per_request plans"
    )
    differential_rates: DifferentialRatesFields | None = None
    bill_rules: list[BillRuleFields] = Field(  # type: ignore[assignment]
        default=[],
        max_length=limits.BILL_RULES,
        description="in order: the first rule an entry matches prices it; "
        f"their criterion values at most {limits.RULE_VALUES_TOTAL_LENGTH} characters in all",
    )

    @model_validator(mode="after")
    def _rules_fit_a_message(self) -> PlanTermsFields:
        total = sum(len(value) for rule in self.bill_rules for c in rule.criteria for value in c.values)
        if total > limits.RULE_VALUES_TOTAL_LENGTH:
            raise ValueError(
                f"the bill rules' criterion values come to {total} characters, "
                f"more than the {limits.RULE_VALUES_TOTAL_LENGTH} a plan may have"
            )
        return self


class ContractScope(WireModel):
    all_products: bool = True
    products: list[str] = Field(default=[], description=f"at most {limits.PRODUCTS}")


class ContractScopeFields(ContractScope):
    products: list[edge.Identifier] = Field(default=[], max_length=limits.PRODUCTS)


class ContractNotifications(WireModel):
    """Who hears about a contract nearing its end, and when; a day count of None sends no notice."""

    days_before_expiry: int | None = Field(default=None, ge=0, le=3650)
    days_after_expiry: int | None = Field(default=None, ge=0, le=3650)
    allowance_used_percent: int | None = Field(
        default=None, ge=1, le=100, description="billing announces when a cycle's allowance is this % used"
    )
    recipients: list[str] = Field(default=[], description=f"at most {limits.RECIPIENTS} e-mail addresses")


class ContractNotificationsFields(ContractNotifications):
    recipients: list[edge.EmailAddress] = Field(default=[], max_length=limits.RECIPIENTS)


class ContractState(WireModel):
    """The whole contract as it stands after an event: read models rebuild from this alone."""

    contract_id: UUID
    contract_number: str = Field(description=f"at most {limits.ID_LENGTH} characters")
    account_id: str = Field(description=f"at most {limits.ID_LENGTH} characters")
    name: str = Field(description=f"at most {limits.NAME_LENGTH} characters")
    description: str = Field(default="", description=f"at most {limits.DESCRIPTION_LENGTH} characters")
    plan_id: UUID
    status: ContractStatus
    start_date: date
    expiry_date: date
    termination_date: date | None = None
    time_zone: str
    scope: ContractScope
    billing_email: str | None = Field(default=None, description=f"at most {limits.EMAIL_LENGTH} characters")
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
    name: str = Field(description=f"at most {limits.NAME_LENGTH} characters")
    description: str = Field(default="", description=f"at most {limits.DESCRIPTION_LENGTH} characters")
    terms: PlanTerms
    top_up_plan_ids: list[UUID] = Field(default=[], description=f"at most {limits.TOP_UP_PLANS}")
    is_default: bool = False
    version: int = Field(ge=1)


class TopUpPlanState(WireModel):
    """Units a prepaid contract can buy for its current cycle, at a price."""

    top_up_plan_id: UUID
    name: str = Field(description=f"at most {limits.NAME_LENGTH} characters")
    description: str = Field(default="", description=f"at most {limits.DESCRIPTION_LENGTH} characters")
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
    reason: str = Field(default="", description=f"at most {limits.REASON_LENGTH} characters")


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
    account_id: edge.Identifier
    plan_id: UUID | None = Field(default=None, description="the default plan when omitted")
    contract_number: edge.ShortText | None = None
    name: edge.Name
    description: edge.Description = ""
    start_date: edge.CalendarDate
    expiry_date: edge.CalendarDate
    time_zone: edge.TimeZoneName | None = Field(
        default=None, description="the plan calendar's zone when omitted"
    )
    scope: ContractScopeFields = ContractScopeFields()
    notifications: ContractNotificationsFields = ContractNotificationsFields()
    billing_email: edge.EmailAddress | None = None
    payment_terms_days: int = Field(default=30, ge=0, le=3650)
    discount_percent: edge.Percent = Decimal(0)
    tax_percent: edge.Percent = Decimal(0)
    base_charge_override: edge.Money | None = None
    allowance_override: int | None = Field(default=None, ge=0, le=limits.MAX_ALLOWANCE)


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
    contract_number: edge.ShortText | None = None
    start_date: edge.CalendarDate | None = Field(
        default=None, description="the day after expiry when omitted"
    )
    expiry_date: edge.CalendarDate | None = Field(
        default=None, description="the old contract's length when omitted"
    )
    base_charge_override: edge.Money | None = None
    allowance_override: int | None = Field(default=None, ge=0, le=limits.MAX_ALLOWANCE)


class TerminateContract(WireModel):
    """Command: terminate a contract at the end of `termination_date` (today when omitted)."""

    contract_id: UUID
    termination_date: edge.CalendarDate | None = None
    reason: edge.Reason = ""
