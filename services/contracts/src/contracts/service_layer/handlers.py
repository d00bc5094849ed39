"""Use cases of the contracts service: one function per command, each in one unit of work."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from contracts.domain.calendars import validate_calendar
from contracts.domain.contracts import Contract, TermOverrides, snapshot_terms, status_on
from contracts.domain.errors import (
    CalendarNotFound,
    ContractExists,
    DuplicateContractNumber,
    InvalidPlan,
    PlanNotFound,
)
from contracts.domain.plans import SupportPlan
from contracts.service_layer.unit_of_work import ContractsUnitOfWork
from contracts_schema.contracts import (
    BusinessCalendar,
    CalendarSaved,
    ContractCreated,
    ContractScope,
    ContractState,
    PlanTerms,
    SupportPlanSaved,
)
from contracts_schema.primitives import MoneyAmount

UnitOfWorkFactory = Callable[[], ContractsUnitOfWork]
Clock = Callable[[], datetime]


async def save_calendar(
    uow: ContractsUnitOfWork, calendar: BusinessCalendar, *, actor: str | None
) -> BusinessCalendar:
    calendar = validate_calendar(calendar)
    async with uow:
        existing = await uow.calendars.get(calendar.calendar_id)
        await uow.calendars.save(calendar, new=existing is None)
        uow.publish(
            CalendarSaved(calendar=calendar),
            key=str(calendar.calendar_id),
            subject=f"calendar/{calendar.calendar_id}",
            actor=actor,
        )
    return calendar


@dataclass(frozen=True)
class PlanDetails:
    name: str
    description: str
    terms: PlanTerms
    top_up_plan_ids: list[UUID]
    is_default: bool


async def create_plan(
    uow: ContractsUnitOfWork, details: PlanDetails, *, plan_id: UUID | None, actor: str | None
) -> SupportPlan:
    plan = SupportPlan(plan_id=plan_id or uuid4(), **details.__dict__)
    async with uow:
        if await uow.plans.get(plan.plan_id) is not None:
            raise InvalidPlan(f"plan {plan.plan_id} already exists")
        await _check_plan_references(uow, plan)
        await _take_default(uow, plan, actor)
        await uow.plans.save(plan, new=True)
        _publish_plan(uow, plan, actor)
    return plan


async def update_plan(
    uow: ContractsUnitOfWork, plan_id: UUID, details: PlanDetails, *, actor: str | None
) -> SupportPlan:
    """Edits apply to contracts signed from now on; signed contracts keep their snapshot."""
    async with uow:
        current = await uow.plans.get(plan_id)
        if current is None:
            raise PlanNotFound(f"no support plan {plan_id}")
        plan = SupportPlan(plan_id=plan_id, version=current.version + 1, **details.__dict__)
        await _check_plan_references(uow, plan)
        await _take_default(uow, plan, actor)
        await uow.plans.save(plan, new=False)
        _publish_plan(uow, plan, actor)
    return plan


async def _check_plan_references(uow: ContractsUnitOfWork, plan: SupportPlan) -> None:
    if await uow.calendars.get(plan.terms.calendar_id) is None:
        raise CalendarNotFound(f"no business-hours calendar {plan.terms.calendar_id}")


async def _take_default(uow: ContractsUnitOfWork, plan: SupportPlan, actor: str | None) -> None:
    """One plan at most is the default: making this one default demotes the previous one."""
    if not plan.is_default:
        return
    previous = await uow.plans.default()
    if previous is not None and previous.plan_id != plan.plan_id:
        previous.is_default = False
        previous.version += 1
        await uow.plans.save(previous, new=False)
        _publish_plan(uow, previous, actor)


def _publish_plan(uow: ContractsUnitOfWork, plan: SupportPlan, actor: str | None) -> None:
    uow.publish(
        SupportPlanSaved(plan=plan.state()),
        key=str(plan.plan_id),
        subject=f"plan/{plan.plan_id}",
        actor=actor,
    )


@dataclass(frozen=True)
class NewContract:
    account_id: str
    name: str
    start_date: date
    expiry_date: date
    plan_id: UUID | None = None
    contract_id: UUID | None = None
    contract_number: str | None = None
    description: str = ""
    time_zone: str | None = None
    scope: ContractScope = ContractScope()
    billing_email: str | None = None
    payment_terms_days: int = 30
    discount_percent: Decimal = Decimal(0)
    tax_percent: Decimal = Decimal(0)
    base_charge_override: MoneyAmount | None = None
    allowance_override: int | None = None


async def create_contract(
    uow: ContractsUnitOfWork, request: NewContract, *, clock: Clock, actor: str | None
) -> ContractState:
    """Sign a contract: the plan's terms (with overrides) are copied onto it for good."""
    async with uow:
        plan = await (uow.plans.get(request.plan_id) if request.plan_id else uow.plans.default())
        if plan is None:
            raise PlanNotFound(
                f"no support plan {request.plan_id}" if request.plan_id else "no default support plan"
            )
        calendar = await uow.calendars.get(plan.terms.calendar_id)
        if calendar is None:
            raise CalendarNotFound(f"no business-hours calendar {plan.terms.calendar_id}")
        contract_id = request.contract_id or uuid4()
        if request.contract_id and await uow.contracts.get(contract_id) is not None:
            raise ContractExists(f"contract {contract_id} already exists")
        number = request.contract_number or f"C-{contract_id.hex[:8].upper()}"
        if await uow.contracts.number_taken(number):
            raise DuplicateContractNumber(f"contract number {number} is taken")
        time_zone = request.time_zone or calendar.time_zone
        contract = Contract(
            contract_id=contract_id,
            contract_number=number,
            account_id=request.account_id,
            name=request.name,
            description=request.description,
            plan_id=plan.plan_id,
            status=status_on(_local_today(clock, time_zone), request.start_date, request.expiry_date, None),
            start_date=request.start_date,
            expiry_date=request.expiry_date,
            time_zone=time_zone,
            scope=request.scope,
            billing_email=request.billing_email,
            payment_terms_days=request.payment_terms_days,
            discount_percent=request.discount_percent,
            tax_percent=request.tax_percent,
            terms=snapshot_terms(
                plan, TermOverrides(request.base_charge_override, request.allowance_override)
            ),
        )
        contract.ensure_no_overlap(await uow.contracts.of_account(contract.account_id))
        await uow.contracts.save(contract, new=True)
        state = contract.state()
        uow.publish(
            ContractCreated(contract=state),
            key=str(contract_id),
            subject=f"contract/{contract_id}",
            actor=actor,
        )
    return state


def _local_today(clock: Clock, time_zone: str) -> date:
    return clock().astimezone(ZoneInfo(time_zone)).date()
