"""REST API of the billing service: usage of a contract's cycles, bills and their versions."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from billing.adapters.repositories import BillFilter
from billing.bootstrap import Billing
from billing.domain.errors import BillNotFound, NoSuchPeriod
from billing.service_layer import handlers
from contracts_schema.billing import BillState, BillStatus
from servicekit.cycles import cycle_containing
from servicekit.idempotency import IDEMPOTENT_WRITE


def get_billing(request: Request) -> Billing:
    return request.app.state.service_app  # type: ignore[no-any-return]


BillingDep = Annotated[Billing, Depends(get_billing)]
Actor = Annotated[str | None, Header(alias="X-Actor", description="who is making the change")]


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
    contract_id: UUID, billing: BillingDep, cycle: Annotated[int | None, Query(ge=1)] = None
) -> CycleUsageOut:
    """The allowance of a cycle (the current one unless `cycle` is given): total, carried forward,
    top-ups, used and remaining."""
    async with billing.read() as uow:
        book = await handlers.contract_book(uow, contract_id)
        if cycle is None:
            current = cycle_containing(book.cycles, billing.clock())
            if current is None:
                raise NoSuchPeriod("the contract has no current cycle; ask for one by number")
        else:
            current = book.cycle(cycle)
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
    contract_id: UUID, body: BillRequestIn, billing: BillingDep, actor: Actor = None
) -> BillState:
    """Make a bill for the period now; a period that has bills gets a new version."""
    request = handlers.BillRequest(contract_id, body.period, actor)
    return await handlers.issue_bill(billing.uow(), request, clock=billing.clock)


@router.post("/contracts/{contract_id}/bills/preview", tags=["bills"])
async def preview_bill(contract_id: UUID, body: BillRequestIn, billing: BillingDep) -> BillState:
    """The bill that would be made now, neither saved nor announced."""
    request = handlers.BillRequest(contract_id, body.period, None)
    return await handlers.preview_bill(billing.read(), request, clock=billing.clock)


@router.get("/bills", tags=["bills"])
async def list_bills(
    billing: BillingDep,
    account_id: str | None = None,
    contract_id: UUID | None = None,
    period: str | None = None,
    status_: Annotated[BillStatus | None, Query(alias="status")] = None,
    main_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> BillPage:
    async with billing.read() as uow:
        items, total = await uow.bills.search(
            BillFilter(account_id, contract_id, period, status_, main_only), limit=limit, offset=offset
        )
    return BillPage(items=items, total=total, limit=limit, offset=offset)


@router.get("/bills/{bill_id}", tags=["bills"])
async def get_bill(bill_id: UUID, billing: BillingDep) -> BillState:
    async with billing.read() as uow:
        bill = await uow.bills.get(bill_id)
    if bill is None:
        raise BillNotFound(f"no bill {bill_id}")
    return bill
