"""REST API of the billing service: usage of a contract's cycles, bills and their versions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, ConfigDict, Field

from billing.adapters import wire
from billing.adapters.repositories import BillFilter
from billing.domain.bill_versions import BillStatus
from billing.domain.errors import BillNotFound, NoSuchPeriod
from billing.service_layer import handlers
from billing.service_layer.unit_of_work import BillingUnitOfWork
from contracts_schema.billing import BillState
from contracts_schema.billing import BillStatus as WireBillStatus
from servicekit.api import UnitsOfWork, caller, now, units_of_work
from servicekit.idempotency import IDEMPOTENT_WRITE
from servicekit.origin import Origin

Units = Annotated[UnitsOfWork[BillingUnitOfWork], Depends(units_of_work)]
Now = Annotated[datetime, Depends(now)]
Caller = Annotated[Origin, Depends(caller)]


class BillRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: str = Field(description="a cycle number (1, 2, ...) or 'final' for a prepaid closing bill")


class CycleUsageOut(BaseModel):
    contract_id: UUID
    cycle_index: int
    cycle_start: str
    cycle_end: str
    unit: str = Field(description="minutes or requests")
    allowance_total: int
    allowance_own: int
    carried_forward: int
    top_ups: int
    used: int
    remaining: int = Field(description="may be negative")
    overage: int
    not_covered: int


class BillPage(BaseModel):
    items: list[BillState]
    total: int
    limit: int
    offset: int


router = APIRouter()


@router.get("/contracts/{contract_id}/usage", tags=["usage"])
async def current_usage(
    contract_id: UUID, units: Units, now: Now, cycle: Annotated[int | None, Query(ge=1)] = None
) -> CycleUsageOut:
    """The allowance of a cycle (the current one unless `cycle` is given): total, carried forward,
    top-ups, used and remaining."""
    async with units.read() as uow:
        book = await handlers.contract_book(uow, contract_id)
        current = book.contract.cycle_at(now) if cycle is None else book.contract.cycle(cycle)
        if current is None:
            raise NoSuchPeriod("the contract has no current cycle; ask for one by number")
        usage = await handlers.cycle_usage(uow, book, current)
    return CycleUsageOut(
        contract_id=contract_id,
        cycle_index=current.index,
        cycle_start=current.start_date.isoformat(),
        cycle_end=current.end_date.isoformat(),
        unit=usage.unit.value,
        allowance_total=usage.total_allowance,
        allowance_own=usage.own_allowance,
        carried_forward=usage.carried_in,
        top_ups=usage.top_up_units,
        used=usage.used,
        remaining=usage.remaining,
        overage=usage.total_overage_minutes + usage.extra_requests,
        not_covered=usage.not_covered,
    )


@router.post(
    "/contracts/{contract_id}/bills",
    status_code=status.HTTP_201_CREATED,
    tags=["bills"],
    dependencies=IDEMPOTENT_WRITE,
)
async def generate_bill(
    contract_id: UUID, body: BillRequestIn, units: Units, origin: Caller, now: Now
) -> BillState:
    """Make a bill for the period now; a period that has bills gets a new version."""
    async with units.write() as uow:
        bill = await handlers.make_bill(
            uow, handlers.BillRequest(contract_id, body.period), origin=origin, now=now
        )
    return wire.bill_state(bill)


@router.post("/contracts/{contract_id}/bills/preview", tags=["bills"])
async def preview_bill(contract_id: UUID, body: BillRequestIn, units: Units, now: Now) -> BillState:
    """The bill that would be made now, neither saved nor announced."""
    async with units.read() as uow:
        bill = await handlers.preview_bill(uow, handlers.BillRequest(contract_id, body.period), now=now)
    return wire.bill_state(bill)


@router.get("/bills", tags=["bills"])
async def list_bills(
    units: Units,
    account_id: str | None = None,
    contract_id: UUID | None = None,
    period: str | None = None,
    status_: Annotated[WireBillStatus | None, Query(alias="status")] = None,
    main_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> BillPage:
    where = BillFilter(
        account_id, contract_id, period, BillStatus(status_.value) if status_ else None, main_only
    )
    async with units.read() as uow:
        bills, total = await uow.bills.search(where, limit=limit, offset=offset)
    return BillPage(items=[wire.bill_state(bill) for bill in bills], total=total, limit=limit, offset=offset)


@router.get("/bills/{bill_id}", tags=["bills"])
async def get_bill(bill_id: UUID, units: Units) -> BillState:
    async with units.read() as uow:
        bill = await uow.bills.get(bill_id)
    if bill is None:
        raise BillNotFound(f"no bill {bill_id}")
    return wire.bill_state(bill)
