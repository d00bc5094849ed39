"""REST API of the contracts service: each route opens its unit of work and calls one use case.

Bodies and answers are translated through `adapters.wire`; the time and the caller come from
servicekit's dependencies, so no route reaches for the application object.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from contracts.adapters import wire
from contracts.domain import calendars
from contracts.domain.commands import (
    NewContract,
    PlanDetails,
    RenewalRequest,
    TerminationRequest,
    TopUpPlanDetails,
    TopUpRequest,
)
from contracts.domain.errors import CalendarNotFound, ContractNotFound, PlanNotFound, TopUpPlanNotFound
from contracts.service_layer import catalog, contracts, views
from contracts.service_layer.unit_of_work import ContractsUnitOfWork
from contracts_schema import edge, limits
from contracts_schema.contracts import (
    BillingMode,
    BusinessCalendar,
    CalendarFields,
    ContractNotificationsFields,
    ContractState,
    ContractStatus,
    ContractTerminated,
    ContractToppedUp,
    CreateContract,
    PlanTermsFields,
    PlanType,
    SupportPlanState,
    TopUpPlanState,
    WhenExhausted,
)
from servicekit import api
from servicekit.auth import Caller as AuthCaller
from servicekit.auth import Role
from servicekit.errors import Forbidden
from servicekit.idempotency import idempotent_write
from servicekit.origin import Origin
from servicekit.problems import responses

Units = Annotated[api.UnitsOfWork[ContractsUnitOfWork], Depends(api.units_of_work)]
Now = Annotated[datetime, Depends(api.now)]
Caller = Annotated[Origin, Depends(api.origin_of)]
Authenticated = Annotated[AuthCaller, Depends(api.authenticated)]

# Who may do what, declared once, beside the routes (PRODUCT.md, "Who may do what"). Reads are open to
# every role but scoped to the caller's accounts; the catalog (calendars, plans, top-up plans) is shared.
READERS = api.allow(*Role)
ADMINS = api.allow(Role.ADMIN)
CONTRACT_WRITERS = api.allow(Role.ADMIN, Role.INTEGRATION)
COMMERCIAL_EDITORS = api.allow(Role.ADMIN, Role.INTEGRATION, Role.BILLING)
COMMERCIAL_FIELDS = frozenset({"discount_percent", "tax_percent", "payment_terms_days", "billing_email"})
"""What the billing role may change on a contract: its commercial fields, not its name or notices."""


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CalendarIn(CalendarFields):
    def calendar(self, calendar_id: UUID) -> calendars.BusinessCalendar:
        return wire.calendar_from_fields(calendar_id, self)


class PlanIn(ApiModel):
    name: edge.Name
    description: edge.Description = ""
    terms: PlanTermsFields
    top_up_plan_ids: list[UUID] = Field(default=[], max_length=limits.TOP_UP_PLANS)
    is_default: bool = False

    def details(self) -> PlanDetails:
        terms = wire.terms_from_wire(self.terms)
        return PlanDetails(self.name, self.description, terms, list(self.top_up_plan_ids), self.is_default)


class ContractIn(CreateContract):
    """The create command's fields; over REST the contract id is optional."""

    contract_id: UUID | None = Field(  # type: ignore[assignment]
        default=None, description="chosen by the caller to make retries safe"
    )

    def request(self) -> NewContract:
        return wire.new_contract(self)


class ContractEditIn(ApiModel):
    """Only the fields sent are changed; the terms, dates and scope are what was signed."""

    name: edge.Name | None = None
    description: edge.Description | None = None
    billing_email: edge.EmailAddress | None = None
    notifications: ContractNotificationsFields | None = None
    payment_terms_days: int | None = Field(default=None, ge=0, le=3650)
    discount_percent: edge.Percent | None = None
    tax_percent: edge.Percent | None = None

    def changes(self) -> dict[str, Any]:
        # Only the billing email may be cleared; null elsewhere means "leave as it is".
        changes = {
            name: value
            for name in self.model_fields_set
            if (value := getattr(self, name)) is not None or name == "billing_email"
        }
        if self.notifications is not None:
            changes["notifications"] = wire.notifications_from_wire(self.notifications)
        return changes


class TopUpPlanIn(ApiModel):
    name: edge.Name
    description: edge.Description = ""
    price: edge.Money
    hour_units: int = Field(default=0, ge=0, le=limits.MAX_ALLOWANCE)
    request_units: int = Field(default=0, ge=0, le=limits.MAX_ALLOWANCE)

    def details(self) -> TopUpPlanDetails:
        price = wire.money_from_wire(self.price)
        return TopUpPlanDetails(self.name, self.description, price, self.hour_units, self.request_units)


class TopUpIn(ApiModel):
    top_up_plan_id: UUID
    top_up_id: UUID | None = Field(default=None, description="chosen by the caller to make retries safe")

    def request(self, contract_id: UUID) -> TopUpRequest:
        return TopUpRequest(contract_id, self.top_up_plan_id, self.top_up_id)


class RenewalIn(ApiModel):
    """Everything left out is the old contract's; by default the new one starts the day after expiry."""

    new_contract_id: UUID | None = None
    plan_id: UUID | None = Field(default=None, description="a new plan; the old terms when omitted")
    contract_number: edge.ShortText | None = None
    start_date: edge.CalendarDate | None = None
    expiry_date: edge.CalendarDate | None = None
    base_charge_override: edge.Money | None = None
    allowance_override: int | None = Field(default=None, ge=0, le=limits.MAX_ALLOWANCE)

    def request(self, contract_id: UUID) -> RenewalRequest:
        return RenewalRequest(
            contract_id=contract_id,
            new_contract_id=self.new_contract_id,
            plan_id=self.plan_id,
            contract_number=self.contract_number,
            start_date=self.start_date,
            expiry_date=self.expiry_date,
            base_charge_override=wire.optional_money_from_wire(self.base_charge_override),
            allowance_override=self.allowance_override,
        )


class RenewalOut(BaseModel):
    renewed: ContractState = Field(description="the old contract, now linked to the new one")
    new_contract: ContractState


class TerminationIn(ApiModel):
    termination_date: edge.CalendarDate | None = Field(
        default=None, description="today (contract zone) when omitted"
    )
    reason: edge.Reason = ""

    def request(self, contract_id: UUID) -> TerminationRequest:
        return TerminationRequest(contract_id, self.termination_date, self.reason)


class CoverageOut(BaseModel):
    account_id: str
    product: str | None
    at: datetime
    contract: ContractState | None = Field(description="the contract that covers the work, if any")
    plan_type: PlanType | None = None
    billing_mode: BillingMode | None = None
    when_exhausted: WhenExhausted | None = None
    reps_may_add_other_charges: bool | None = None
    reps_may_override_time_taken: bool | None = None
    work_covered: bool
    reason: str


class ContractPage(BaseModel):
    items: list[ContractState]
    total: int
    limit: int
    offset: int


router = APIRouter(responses=responses(401, 403, 422, 503))
FOUND = responses(404)
WRITE = responses(404, 409, 413)
"""A write may name what does not exist, break a state rule or race (409), or send too much (413)."""


@router.post(
    "/calendars",
    status_code=status.HTTP_201_CREATED,
    tags=["calendars"],
    dependencies=[ADMINS],
    openapi_extra=idempotent_write(),
    responses=WRITE,
)
async def create_calendar(body: CalendarIn, units: Units, origin: Caller) -> BusinessCalendar:
    async with units.write() as uow:
        calendar = await catalog.add_calendar(uow, body.calendar(uuid4()), origin=origin)
    return wire.calendar_to_wire(calendar)


@router.put(
    "/calendars/{calendar_id}",
    tags=["calendars"],
    dependencies=[ADMINS],
    openapi_extra=idempotent_write(),
    responses=WRITE,
)
async def replace_calendar(
    calendar_id: UUID, body: CalendarIn, units: Units, origin: Caller
) -> BusinessCalendar:
    async with units.write() as uow:
        calendar = await catalog.replace_calendar(uow, body.calendar(calendar_id), origin=origin)
    return wire.calendar_to_wire(calendar)


@router.get("/calendars", tags=["calendars"], dependencies=[READERS])
async def list_calendars(units: Units) -> list[BusinessCalendar]:
    async with units.read() as uow:
        return [wire.calendar_to_wire(calendar) for calendar in await uow.calendars.list()]


@router.get("/calendars/{calendar_id}", tags=["calendars"], dependencies=[READERS], responses=FOUND)
async def get_calendar(calendar_id: UUID, units: Units) -> BusinessCalendar:
    async with units.read() as uow:
        calendar = await uow.calendars.get(calendar_id)
    if calendar is None:
        raise CalendarNotFound(f"no business-hours calendar {calendar_id}")
    return wire.calendar_to_wire(calendar)


@router.post(
    "/plans",
    status_code=status.HTTP_201_CREATED,
    tags=["support plans"],
    dependencies=[ADMINS],
    openapi_extra=idempotent_write(),
    responses=WRITE,
)
async def create_plan(body: PlanIn, units: Units, origin: Caller) -> SupportPlanState:
    async with units.write() as uow:
        plan = await catalog.create_plan(uow, body.details(), origin=origin)
    return wire.plan_to_wire(plan)


@router.put(
    "/plans/{plan_id}",
    tags=["support plans"],
    dependencies=[ADMINS],
    openapi_extra=idempotent_write(),
    responses=WRITE,
)
async def update_plan(plan_id: UUID, body: PlanIn, units: Units, origin: Caller) -> SupportPlanState:
    async with units.write() as uow:
        plan = await catalog.update_plan(uow, plan_id, body.details(), origin=origin)
    return wire.plan_to_wire(plan)


@router.get("/plans", tags=["support plans"], dependencies=[READERS])
async def list_plans(units: Units) -> list[SupportPlanState]:
    async with units.read() as uow:
        return [wire.plan_to_wire(plan) for plan in await uow.plans.list()]


@router.get("/plans/{plan_id}", tags=["support plans"], dependencies=[READERS], responses=FOUND)
async def get_plan(plan_id: UUID, units: Units) -> SupportPlanState:
    async with units.read() as uow:
        plan = await uow.plans.get(plan_id)
    if plan is None:
        raise PlanNotFound(f"no support plan {plan_id}")
    return wire.plan_to_wire(plan)


@router.post(
    "/contracts",
    status_code=status.HTTP_201_CREATED,
    tags=["contracts"],
    dependencies=[CONTRACT_WRITERS],
    openapi_extra=idempotent_write(),
    responses=WRITE,
)
async def create_contract(body: ContractIn, units: Units, origin: Caller, now: Now) -> ContractState:
    async with units.write() as uow:
        contract = await contracts.sign_contract(uow, body.request(), origin=origin, now=now)
    return wire.contract_to_wire(contract)


@router.get("/contracts", tags=["contracts"], dependencies=[READERS])
async def list_contracts(
    units: Units,
    now: Now,
    caller: Authenticated,
    account_id: Annotated[edge.ShortText | None, Query()] = None,
    status_: Annotated[ContractStatus | None, Query(alias="status")] = None,
    plan_id: UUID | None = None,
    expiring_within_days: Annotated[int | None, Query(ge=0, le=3650)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=limits.MAX_PAGE_OFFSET)] = 0,
) -> ContractPage:
    expiring_by = (
        now.date() + timedelta(days=expiring_within_days) if expiring_within_days is not None else None
    )
    async with units.read() as uow:
        items, total = await uow.contracts.search(
            account_id=account_id,
            status=None if status_ is None else wire.status_from_wire(status_),
            plan_id=plan_id,
            expiring_by=expiring_by,
            limit=limit,
            offset=offset,
            scope=caller.accounts,
        )
    return ContractPage(
        items=[wire.contract_to_wire(contract) for contract in items], total=total, limit=limit, offset=offset
    )


@router.get("/contracts/{contract_id}", tags=["contracts"], dependencies=[READERS], responses=FOUND)
async def get_contract(contract_id: UUID, units: Units, caller: Authenticated) -> ContractState:
    async with units.read() as uow:
        contract = await uow.contracts.get(contract_id, scope=caller.accounts)
    if contract is None:
        raise ContractNotFound(f"no contract {contract_id}")
    return wire.contract_to_wire(contract)


@router.patch(
    "/contracts/{contract_id}",
    tags=["contracts"],
    dependencies=[COMMERCIAL_EDITORS],
    openapi_extra=idempotent_write(),
    responses=WRITE,
)
async def edit_contract(
    contract_id: UUID, body: ContractEditIn, units: Units, caller: Authenticated
) -> ContractState:
    changes = body.changes()
    if not caller.has(Role.ADMIN, Role.INTEGRATION) and set(changes) - COMMERCIAL_FIELDS:
        raise Forbidden(f"the billing role changes only {', '.join(sorted(COMMERCIAL_FIELDS))}")
    async with units.write() as uow:
        contract = await contracts.edit_contract(uow, contract_id, changes, origin=caller.origin)
    return wire.contract_to_wire(contract)


@router.delete(
    "/contracts/{contract_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["contracts"],
    dependencies=[CONTRACT_WRITERS],
    openapi_extra=idempotent_write(),
    summary="Delete a contract nothing was billed, logged or bought against",
    responses=WRITE,
)
async def delete_contract(contract_id: UUID, units: Units, origin: Caller) -> Response:
    async with units.write() as uow:
        await contracts.delete_contract(uow, contract_id, origin=origin)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/contracts/{contract_id}/top-ups",
    status_code=status.HTTP_201_CREATED,
    tags=["contracts"],
    dependencies=[COMMERCIAL_EDITORS],
    openapi_extra=idempotent_write(),
    responses=WRITE,
)
async def top_up_contract(
    contract_id: UUID, body: TopUpIn, units: Units, origin: Caller, now: Now
) -> ContractToppedUp:
    async with units.write() as uow:
        bought = await contracts.top_up_contract(uow, body.request(contract_id), origin=origin, now=now)
    return wire.contract_topped_up(bought.contract, bought.top_up)


@router.post(
    "/contracts/{contract_id}/renewals",
    status_code=status.HTTP_201_CREATED,
    tags=["contracts"],
    dependencies=[CONTRACT_WRITERS],
    openapi_extra=idempotent_write(),
    responses=WRITE,
)
async def renew_contract(
    contract_id: UUID, body: RenewalIn, units: Units, origin: Caller, now: Now
) -> RenewalOut:
    async with units.write() as uow:
        renewal = await contracts.renew_contract(uow, body.request(contract_id), origin=origin, now=now)
    return RenewalOut(
        renewed=wire.contract_to_wire(renewal.old), new_contract=wire.contract_to_wire(renewal.new)
    )


@router.post(
    "/contracts/{contract_id}/termination",
    tags=["contracts"],
    dependencies=[CONTRACT_WRITERS],
    openapi_extra=idempotent_write(),
    responses=WRITE,
)
async def terminate_contract(
    contract_id: UUID, body: TerminationIn, units: Units, origin: Caller, now: Now
) -> ContractTerminated:
    async with units.write() as uow:
        contract = await contracts.terminate_contract(uow, body.request(contract_id), origin=origin, now=now)
    return wire.contract_terminated(contract, body.reason)


@router.get(
    "/coverage",
    tags=["coverage"],
    summary="Which contract covers an account's work, and is it covered",
    dependencies=[READERS],
)
async def coverage(
    units: Units,
    now: Now,
    caller: Authenticated,
    account_id: Annotated[edge.Identifier, Query()],
    product: Annotated[
        edge.ShortText | None, Query(description="requests with no product when omitted")
    ] = None,
    at: Annotated[edge.Instant | None, Query(description="RFC 3339 instant; now when omitted")] = None,
) -> CoverageOut:
    instant = (at or now).astimezone(UTC)
    if not caller.sees(account_id):
        raise ContractNotFound(f"no contract of account {account_id!r}")
    async with units.read() as uow:
        answer = await views.coverage(uow, account_id, product, instant)
    contract = None if answer.contract is None else wire.contract_to_wire(answer.contract)
    terms = contract.terms if contract is not None else None
    return CoverageOut(
        account_id=account_id,
        product=product,
        at=instant,
        contract=contract,
        plan_type=terms.plan_type if terms else None,
        billing_mode=terms.billing_mode if terms else None,
        when_exhausted=terms.when_exhausted if terms else None,
        reps_may_add_other_charges=terms.reps_may_add_other_charges if terms else None,
        reps_may_override_time_taken=terms.reps_may_override_time_taken if terms else None,
        work_covered=answer.work_covered,
        reason=answer.reason,
    )


@router.post(
    "/top-up-plans",
    status_code=status.HTTP_201_CREATED,
    tags=["top-up plans"],
    dependencies=[ADMINS],
    openapi_extra=idempotent_write(),
    responses=WRITE,
)
async def create_top_up_plan(body: TopUpPlanIn, units: Units, origin: Caller) -> TopUpPlanState:
    async with units.write() as uow:
        top_up_plan = await catalog.create_top_up_plan(uow, body.details(), origin=origin)
    return wire.top_up_plan_to_wire(top_up_plan)


@router.put(
    "/top-up-plans/{top_up_plan_id}",
    tags=["top-up plans"],
    dependencies=[ADMINS],
    openapi_extra=idempotent_write(),
    responses=WRITE,
)
async def update_top_up_plan(
    top_up_plan_id: UUID, body: TopUpPlanIn, units: Units, origin: Caller
) -> TopUpPlanState:
    async with units.write() as uow:
        top_up_plan = await catalog.update_top_up_plan(uow, top_up_plan_id, body.details(), origin=origin)
    return wire.top_up_plan_to_wire(top_up_plan)


@router.get("/top-up-plans", tags=["top-up plans"], dependencies=[READERS])
async def list_top_up_plans(units: Units) -> list[TopUpPlanState]:
    async with units.read() as uow:
        return [wire.top_up_plan_to_wire(top_up_plan) for top_up_plan in await uow.top_up_plans.list()]


@router.get("/top-up-plans/{top_up_plan_id}", tags=["top-up plans"], dependencies=[READERS], responses=FOUND)
async def get_top_up_plan(top_up_plan_id: UUID, units: Units) -> TopUpPlanState:
    async with units.read() as uow:
        top_up_plan = await uow.top_up_plans.get(top_up_plan_id)
    if top_up_plan is None:
        raise TopUpPlanNotFound(f"no top-up plan {top_up_plan_id}")
    return wire.top_up_plan_to_wire(top_up_plan)


@router.delete(
    "/top-up-plans/{top_up_plan_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["top-up plans"],
    dependencies=[ADMINS],
    openapi_extra=idempotent_write(),
    summary="Delete a top-up plan no support plan offers",
    responses=WRITE,
)
async def delete_top_up_plan(top_up_plan_id: UUID, units: Units, origin: Caller) -> Response:
    async with units.write() as uow:
        await catalog.delete_top_up_plan(uow, top_up_plan_id, origin=origin)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
