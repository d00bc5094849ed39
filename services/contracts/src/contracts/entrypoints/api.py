"""REST API of the contracts service: translates HTTP into service-layer calls, nothing more."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Header, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from contracts.bootstrap import Contracts
from contracts.domain.errors import CalendarNotFound, ContractNotFound, PlanNotFound
from contracts.service_layer import handlers
from contracts_schema.contracts import (
    BusinessCalendar,
    ContractScope,
    ContractState,
    ContractStatus,
    PlanTerms,
    SupportPlanState,
    WorkingHours,
)
from contracts_schema.primitives import MoneyAmount, Percentage


def get_contracts(request: Request) -> Contracts:
    return request.app.state.contracts  # type: ignore[no-any-return]


ContractsDep = Annotated[Contracts, Depends(get_contracts)]
Actor = Annotated[str | None, Header(alias="X-Actor", description="who is making the change")]


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CalendarIn(ApiModel):
    name: str = Field(min_length=1, max_length=200)
    time_zone: str
    working_days: list[Annotated[int, Field(ge=1, le=7)]] = [1, 2, 3, 4, 5]
    working_hours: list[WorkingHours]
    holidays: list[date] = []


class PlanIn(ApiModel):
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    terms: PlanTerms
    top_up_plan_ids: list[UUID] = []
    is_default: bool = False

    def details(self) -> handlers.PlanDetails:
        return handlers.PlanDetails(
            self.name, self.description, self.terms, list(self.top_up_plan_ids), self.is_default
        )


class ContractIn(ApiModel):
    contract_id: UUID | None = Field(default=None, description="chosen by the caller to make retries safe")
    account_id: str = Field(min_length=1, max_length=100)
    plan_id: UUID | None = Field(default=None, description="the default plan when omitted")
    contract_number: str | None = Field(default=None, max_length=100)
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    start_date: date
    expiry_date: date
    time_zone: str | None = Field(default=None, description="the plan calendar's zone when omitted")
    scope: ContractScope = ContractScope()
    billing_email: str | None = None
    payment_terms_days: int = Field(default=30, ge=0, le=3650)
    discount_percent: Percentage = Decimal(0)
    tax_percent: Percentage = Decimal(0)
    base_charge_override: MoneyAmount | None = None
    allowance_override: int | None = Field(default=None, ge=0)


class ContractPage(BaseModel):
    items: list[ContractState]
    total: int
    limit: int
    offset: int


router = APIRouter()


@router.post("/calendars", status_code=status.HTTP_201_CREATED, tags=["calendars"])
async def create_calendar(body: CalendarIn, contracts: ContractsDep, actor: Actor = None) -> BusinessCalendar:
    calendar = BusinessCalendar(calendar_id=uuid4(), **body.model_dump())
    return await handlers.save_calendar(contracts.uow(), calendar, actor=actor)


@router.put("/calendars/{calendar_id}", tags=["calendars"])
async def replace_calendar(
    calendar_id: UUID, body: CalendarIn, contracts: ContractsDep, actor: Actor = None
) -> BusinessCalendar:
    async with contracts.read() as uow:
        if await uow.calendars.get(calendar_id) is None:
            raise CalendarNotFound(f"no business-hours calendar {calendar_id}")
    calendar = BusinessCalendar(calendar_id=calendar_id, **body.model_dump())
    return await handlers.save_calendar(contracts.uow(), calendar, actor=actor)


@router.get("/calendars", tags=["calendars"])
async def list_calendars(contracts: ContractsDep) -> list[BusinessCalendar]:
    async with contracts.read() as uow:
        return await uow.calendars.list()


@router.get("/calendars/{calendar_id}", tags=["calendars"])
async def get_calendar(calendar_id: UUID, contracts: ContractsDep) -> BusinessCalendar:
    async with contracts.read() as uow:
        calendar = await uow.calendars.get(calendar_id)
    if calendar is None:
        raise CalendarNotFound(f"no business-hours calendar {calendar_id}")
    return calendar


@router.post("/plans", status_code=status.HTTP_201_CREATED, tags=["support plans"])
async def create_plan(body: PlanIn, contracts: ContractsDep, actor: Actor = None) -> SupportPlanState:
    plan = await handlers.create_plan(contracts.uow(), body.details(), plan_id=None, actor=actor)
    return plan.state()


@router.put("/plans/{plan_id}", tags=["support plans"])
async def update_plan(
    plan_id: UUID, body: PlanIn, contracts: ContractsDep, actor: Actor = None
) -> SupportPlanState:
    plan = await handlers.update_plan(contracts.uow(), plan_id, body.details(), actor=actor)
    return plan.state()


@router.get("/plans", tags=["support plans"])
async def list_plans(contracts: ContractsDep) -> list[SupportPlanState]:
    async with contracts.read() as uow:
        return [plan.state() for plan in await uow.plans.list()]


@router.get("/plans/{plan_id}", tags=["support plans"])
async def get_plan(plan_id: UUID, contracts: ContractsDep) -> SupportPlanState:
    async with contracts.read() as uow:
        plan = await uow.plans.get(plan_id)
    if plan is None:
        raise PlanNotFound(f"no support plan {plan_id}")
    return plan.state()


@router.post("/contracts", status_code=status.HTTP_201_CREATED, tags=["contracts"])
async def create_contract(body: ContractIn, contracts: ContractsDep, actor: Actor = None) -> ContractState:
    request = handlers.NewContract(**body.model_dump(exclude_none=True, exclude={"scope"}), scope=body.scope)
    return await handlers.create_contract(contracts.uow(), request, clock=contracts.clock, actor=actor)


@router.get("/contracts", tags=["contracts"])
async def list_contracts(
    contracts: ContractsDep,
    account_id: str | None = None,
    status_: Annotated[ContractStatus | None, Query(alias="status")] = None,
    plan_id: UUID | None = None,
    expiring_within_days: Annotated[int | None, Query(ge=0, le=3650)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ContractPage:
    expiring_by = (
        contracts.clock().date() + timedelta(days=expiring_within_days)
        if expiring_within_days is not None
        else None
    )
    async with contracts.read() as uow:
        items, total = await uow.contracts.search(
            account_id=account_id,
            status=status_,
            plan_id=plan_id,
            expiring_by=expiring_by,
            limit=limit,
            offset=offset,
        )
    return ContractPage(items=items, total=total, limit=limit, offset=offset)


@router.get("/contracts/{contract_id}", tags=["contracts"])
async def get_contract(contract_id: UUID, contracts: ContractsDep) -> ContractState:
    async with contracts.read() as uow:
        contract = await uow.contracts.get(contract_id)
    if contract is None:
        raise ContractNotFound(f"no contract {contract_id}")
    return contract.state()
