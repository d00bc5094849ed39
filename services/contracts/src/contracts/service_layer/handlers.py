"""Use cases of the contracts service: one function per command, each in one unit of work."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID, uuid4

from contracts.domain.calendars import ensure_time_zone, validate_calendar
from contracts.domain.contracts import Contract, TermOverrides, snapshot_terms, status_on
from contracts.domain.errors import (
    CalendarNotFound,
    ContractExists,
    DuplicateContractNumber,
    InvalidPlan,
    PlanNotFound,
    TopUpPlanInUse,
    TopUpPlanNotFound,
)
from contracts.domain.plans import SupportPlan, TopUpPlan
from contracts.service_layer.unit_of_work import ContractsUnitOfWork
from contracts_schema.contracts import (
    BusinessCalendar,
    CalendarSaved,
    ContractCreated,
    ContractNotifications,
    ContractScope,
    ContractState,
    CreateContract,
    PlanTerms,
    SupportPlanSaved,
    TopUpPlanDeleted,
    TopUpPlanSaved,
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
    top_up_plans = [await _top_up_plan(uow, top_up_plan_id) for top_up_plan_id in plan.top_up_plan_ids]
    plan.ensure_top_ups_fit(top_up_plans)


async def _top_up_plan(uow: ContractsUnitOfWork, top_up_plan_id: UUID) -> TopUpPlan:
    top_up_plan = await uow.top_up_plans.get(top_up_plan_id)
    if top_up_plan is None:
        raise TopUpPlanNotFound(f"no top-up plan {top_up_plan_id}")
    return top_up_plan


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
class TopUpPlanDetails:
    name: str
    description: str
    price: MoneyAmount
    hour_units: int
    request_units: int


async def create_top_up_plan(
    uow: ContractsUnitOfWork, details: TopUpPlanDetails, *, actor: str | None
) -> TopUpPlan:
    top_up_plan = TopUpPlan(top_up_plan_id=uuid4(), **details.__dict__)
    async with uow:
        await uow.top_up_plans.save(top_up_plan, new=True)
        _publish_top_up_plan(uow, top_up_plan, actor)
    return top_up_plan


async def update_top_up_plan(
    uow: ContractsUnitOfWork, top_up_plan_id: UUID, details: TopUpPlanDetails, *, actor: str | None
) -> TopUpPlan:
    """A new price applies to top-ups bought from now on; those bought keep theirs."""
    async with uow:
        current = await _top_up_plan(uow, top_up_plan_id)
        top_up_plan = TopUpPlan(
            top_up_plan_id=top_up_plan_id, version=current.version + 1, **details.__dict__
        )
        for plan in await _plans_offering(uow, top_up_plan_id):
            plan.ensure_top_ups_fit([top_up_plan])
        await uow.top_up_plans.save(top_up_plan, new=False)
        _publish_top_up_plan(uow, top_up_plan, actor)
    return top_up_plan


async def delete_top_up_plan(uow: ContractsUnitOfWork, top_up_plan_id: UUID, *, actor: str | None) -> None:
    async with uow:
        await _top_up_plan(uow, top_up_plan_id)
        offering = await _plans_offering(uow, top_up_plan_id)
        if offering:
            names = ", ".join(repr(plan.name) for plan in offering)
            raise TopUpPlanInUse(f"top-up plan {top_up_plan_id} is offered by support plans {names}")
        await uow.top_up_plans.delete(top_up_plan_id)
        uow.publish(
            TopUpPlanDeleted(top_up_plan_id=top_up_plan_id),
            key=str(top_up_plan_id),
            subject=f"top-up-plan/{top_up_plan_id}",
            actor=actor,
        )


async def _plans_offering(uow: ContractsUnitOfWork, top_up_plan_id: UUID) -> list[SupportPlan]:
    return [plan for plan in await uow.plans.list() if top_up_plan_id in plan.top_up_plan_ids]


def _publish_top_up_plan(uow: ContractsUnitOfWork, top_up_plan: TopUpPlan, actor: str | None) -> None:
    uow.publish(
        TopUpPlanSaved(top_up_plan=top_up_plan.state()),
        key=str(top_up_plan.top_up_plan_id),
        subject=f"top-up-plan/{top_up_plan.top_up_plan_id}",
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
    notifications: ContractNotifications = ContractNotifications()
    billing_email: str | None = None
    payment_terms_days: int = 30
    discount_percent: Decimal = Decimal(0)
    tax_percent: Decimal = Decimal(0)
    base_charge_override: MoneyAmount | None = None
    allowance_override: int | None = None

    @classmethod
    def of(cls, command: CreateContract) -> NewContract:
        """From the create command, or its REST body (nested models stay models)."""
        return cls(**{name: getattr(command, name) for name in CreateContract.model_fields})


async def create_contract(
    uow: ContractsUnitOfWork, request: NewContract, *, clock: Clock, actor: str | None
) -> ContractState:
    """Sign a contract: the plan's terms (with overrides) are copied onto it for good."""
    async with uow:
        return await sign_contract(uow, request, clock=clock, actor=actor)


async def sign_contract(
    uow: ContractsUnitOfWork, request: NewContract, *, clock: Clock, actor: str | None
) -> ContractState:
    """`create_contract` inside a unit of work the caller holds open (a command's, with its inbox)."""
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
        notifications=request.notifications,
        billing_email=request.billing_email,
        payment_terms_days=request.payment_terms_days,
        discount_percent=request.discount_percent,
        tax_percent=request.tax_percent,
        terms=snapshot_terms(plan, TermOverrides(request.base_charge_override, request.allowance_override)),
    )
    await uow.contracts.lock_account(contract.account_id)
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
    return clock().astimezone(ensure_time_zone(time_zone)).date()
