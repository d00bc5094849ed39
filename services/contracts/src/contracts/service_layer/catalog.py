"""Use cases of what contracts are signed from: business-hours calendars, support plans, top-up plans.

Each runs inside a unit of work its entrypoint opened, and signs what it publishes with `origin`.
"""

from __future__ import annotations

from uuid import UUID, uuid4

from contracts.adapters import wire
from contracts.domain.calendars import BusinessCalendar, ordered_calendar
from contracts.domain.commands import PlanDetails, TopUpPlanDetails
from contracts.domain.errors import CalendarNotFound, PlanNotFound, TopUpPlanInUse, TopUpPlanNotFound
from contracts.domain.plans import SupportPlan, TopUpPlan
from contracts.service_layer.unit_of_work import ContractsUnitOfWork
from servicekit.origin import Origin

# --- calendars ----------------------------------------------------------------------------------------


async def add_calendar(
    uow: ContractsUnitOfWork, calendar: BusinessCalendar, *, origin: Origin
) -> BusinessCalendar:
    calendar = ordered_calendar(calendar)
    await uow.calendars.save(calendar, new=True)
    _publish_calendar(uow, calendar, origin)
    return calendar


async def replace_calendar(
    uow: ContractsUnitOfWork, calendar: BusinessCalendar, *, origin: Origin
) -> BusinessCalendar:
    """A calendar is not snapshotted: the change applies to every bill made after it."""
    if await uow.calendars.get(calendar.calendar_id) is None:
        raise CalendarNotFound(f"no business-hours calendar {calendar.calendar_id}")
    calendar = ordered_calendar(calendar)
    await uow.calendars.save(calendar, new=False)
    _publish_calendar(uow, calendar, origin)
    return calendar


def _publish_calendar(uow: ContractsUnitOfWork, calendar: BusinessCalendar, origin: Origin) -> None:
    uow.publish(
        wire.calendar_saved(calendar),
        key=str(calendar.calendar_id),
        subject=f"calendar/{calendar.calendar_id}",
        origin=origin,
    )


# --- support plans ------------------------------------------------------------------------------------


async def create_plan(uow: ContractsUnitOfWork, details: PlanDetails, *, origin: Origin) -> SupportPlan:
    plan = _plan(uuid4(), details, version=1)
    await _check_plan_references(uow, plan)
    await _take_default(uow, plan, origin)
    await uow.plans.save(plan, new=True)
    _publish_plan(uow, plan, origin)
    return plan


async def update_plan(
    uow: ContractsUnitOfWork, plan_id: UUID, details: PlanDetails, *, origin: Origin
) -> SupportPlan:
    """Edits apply to contracts signed from now on; signed contracts keep their snapshot."""
    current = await uow.plans.get(plan_id)
    if current is None:
        raise PlanNotFound(f"no support plan {plan_id}")
    plan = _plan(plan_id, details, version=current.version + 1)
    await _check_plan_references(uow, plan)
    await _take_default(uow, plan, origin)
    await uow.plans.save(plan, new=False)
    _publish_plan(uow, plan, origin)
    return plan


def _plan(plan_id: UUID, details: PlanDetails, *, version: int) -> SupportPlan:
    return SupportPlan(
        plan_id=plan_id,
        name=details.name,
        description=details.description,
        terms=details.terms,
        top_up_plan_ids=list(details.top_up_plan_ids),
        is_default=details.is_default,
        version=version,
    )


async def _check_plan_references(uow: ContractsUnitOfWork, plan: SupportPlan) -> None:
    if await uow.calendars.get(plan.terms.calendar_id) is None:
        raise CalendarNotFound(f"no business-hours calendar {plan.terms.calendar_id}")
    top_up_plans = [await _top_up_plan(uow, top_up_plan_id) for top_up_plan_id in plan.top_up_plan_ids]
    plan.ensure_top_ups_fit(top_up_plans)


async def _take_default(uow: ContractsUnitOfWork, plan: SupportPlan, origin: Origin) -> None:
    """One plan at most is the default: making this one default demotes the previous one."""
    if not plan.is_default:
        return
    previous = await uow.plans.default()
    if previous is not None and previous.plan_id != plan.plan_id:
        previous.is_default = False
        previous.version += 1
        await uow.plans.save(previous, new=False)
        _publish_plan(uow, previous, origin)


def _publish_plan(uow: ContractsUnitOfWork, plan: SupportPlan, origin: Origin) -> None:
    uow.publish(
        wire.support_plan_saved(plan),
        key=str(plan.plan_id),
        subject=f"plan/{plan.plan_id}",
        origin=origin,
    )


# --- top-up plans -------------------------------------------------------------------------------------


async def create_top_up_plan(
    uow: ContractsUnitOfWork, details: TopUpPlanDetails, *, origin: Origin
) -> TopUpPlan:
    top_up_plan = _top_up_plan_of(uuid4(), details, version=1)
    await uow.top_up_plans.save(top_up_plan, new=True)
    _publish_top_up_plan(uow, top_up_plan, origin)
    return top_up_plan


async def update_top_up_plan(
    uow: ContractsUnitOfWork, top_up_plan_id: UUID, details: TopUpPlanDetails, *, origin: Origin
) -> TopUpPlan:
    """A new price applies to top-ups bought from now on; those bought keep theirs."""
    current = await _top_up_plan(uow, top_up_plan_id)
    top_up_plan = _top_up_plan_of(top_up_plan_id, details, version=current.version + 1)
    for plan in await _plans_offering(uow, top_up_plan_id):
        plan.ensure_top_ups_fit([top_up_plan])
    await uow.top_up_plans.save(top_up_plan, new=False)
    _publish_top_up_plan(uow, top_up_plan, origin)
    return top_up_plan


async def delete_top_up_plan(uow: ContractsUnitOfWork, top_up_plan_id: UUID, *, origin: Origin) -> None:
    await _top_up_plan(uow, top_up_plan_id)
    offering = await _plans_offering(uow, top_up_plan_id)
    if offering:
        names = ", ".join(repr(plan.name) for plan in offering)
        raise TopUpPlanInUse(f"top-up plan {top_up_plan_id} is offered by support plans {names}")
    await uow.top_up_plans.delete(top_up_plan_id)
    uow.publish(
        wire.top_up_plan_deleted(top_up_plan_id),
        key=str(top_up_plan_id),
        subject=f"top-up-plan/{top_up_plan_id}",
        origin=origin,
    )


def _top_up_plan_of(top_up_plan_id: UUID, details: TopUpPlanDetails, *, version: int) -> TopUpPlan:
    return TopUpPlan(
        top_up_plan_id=top_up_plan_id,
        name=details.name,
        description=details.description,
        price=details.price,
        hour_units=details.hour_units,
        request_units=details.request_units,
        version=version,
    )


async def _top_up_plan(uow: ContractsUnitOfWork, top_up_plan_id: UUID) -> TopUpPlan:
    top_up_plan = await uow.top_up_plans.get(top_up_plan_id)
    if top_up_plan is None:
        raise TopUpPlanNotFound(f"no top-up plan {top_up_plan_id}")
    return top_up_plan


async def _plans_offering(uow: ContractsUnitOfWork, top_up_plan_id: UUID) -> list[SupportPlan]:
    return [plan for plan in await uow.plans.list() if top_up_plan_id in plan.top_up_plan_ids]


def _publish_top_up_plan(uow: ContractsUnitOfWork, top_up_plan: TopUpPlan, origin: Origin) -> None:
    uow.publish(
        wire.top_up_plan_saved(top_up_plan),
        key=str(top_up_plan.top_up_plan_id),
        subject=f"top-up-plan/{top_up_plan.top_up_plan_id}",
        origin=origin,
    )
