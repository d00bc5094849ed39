"""REST API of the billing service: usage and cycles of contracts; bills, their versions, statuses and
the main bill; printable bills and reconciliation."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from billing.adapters import printable, wire
from billing.adapters.repositories import BillFilter
from billing.domain.bill_versions import BillStatus
from billing.domain.contract import period_name
from billing.domain.errors import BillNotFound, NoSuchPeriod
from billing.service_layer import bill_schedule, bills, books
from billing.service_layer.unit_of_work import BillingUnitOfWork
from contracts_schema import edge, limits
from contracts_schema.billing import BillReconciled, BillState
from contracts_schema.billing import BillStatus as WireBillStatus
from contracts_schema.primitives import MoneyAmount
from servicekit import api
from servicekit.auth import Caller, Role
from servicekit.errors import Forbidden
from servicekit.idempotency import idempotent_write
from servicekit.origin import Origin
from servicekit.problems import responses

Units = Annotated[api.UnitsOfWork[BillingUnitOfWork], Depends(api.units_of_work)]
Now = Annotated[datetime, Depends(api.now)]
Authenticated = Annotated[Caller, Depends(api.authenticated)]
Acting = Annotated[Origin, Depends(api.origin_of)]
"""The caller as the origin of a change: actor and accounts."""

# Who may do what, declared once, beside the routes: reads are every role's, scoped to the caller's
# accounts; bills are made and changed by the billing team.
READERS = api.allow(*Role)
BILLING_TEAM = api.allow(Role.ADMIN, Role.BILLING)

PERIOD = "a cycle number (1 or 01, 2, ...) or 'final' for a prepaid closing bill"


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BillRequestIn(ApiModel):
    period: edge.Period = Field(description=PERIOD)
    bill_id: UUID | None = Field(default=None, description="chosen by the caller to make retries safe")


class RegenerationIn(ApiModel):
    new_bill_id: UUID | None = Field(default=None, description="chosen by the caller to make retries safe")


class VoidIn(ApiModel):
    reason: edge.Reason = Field(default="", description="why the bill is voided")


class BillEditIn(ApiModel):
    """Only the fields sent change; figures never do. A billing_email of null clears it."""

    due_date: edge.CalendarDate | None = None
    notes: edge.Notes | None = None
    billing_email: edge.EmailAddress | None = None

    def changes(self) -> dict[str, Any]:
        return wire.bill_changes({name: getattr(self, name) for name in self.model_fields_set})


class BillRunIn(ApiModel):
    due_before: edge.Instant = Field(description="bills due before this instant, not later than now")
    limit: int = Field(default=50, ge=1, le=200, description="contracts taken up by this call")


class BillMadeOut(BaseModel):
    bill_id: UUID
    number: str
    contract_id: UUID
    period: str
    status: str


class BillRunOut(BaseModel):
    due_before: datetime
    contracts_taken: int = Field(description="contracts with a bill due that this call took up")
    bills: list[BillMadeOut]
    contracts_still_due: int = Field(description="contracts with a bill due before the instant still")


class CycleOut(BaseModel):
    index: int
    start_date: date
    end_date: date
    bill_period: str = Field(description="the bill period that carries this cycle's usage")


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
    minutes_by_category: dict[str, int] = Field(
        description="billable minutes counted, by category: operational, non_operational, weekend, holiday"
    )


class BillPage(BaseModel):
    items: list[BillState]
    total: int
    limit: int
    offset: int


class BillTotalsOut(BaseModel):
    account_id: str
    currency: str
    bills: int
    subtotal: MoneyAmount
    discount: MoneyAmount
    tax: MoneyAmount
    total: MoneyAmount


router = APIRouter(responses=responses(401, 403, 422, 503))
_NOT_FOUND = responses(404)
_CONFLICT = responses(404, 409, 413)


@router.get("/contracts/{contract_id}/usage", tags=["usage"], responses=_NOT_FOUND, dependencies=[READERS])
async def current_usage(
    contract_id: UUID,
    units: Units,
    now: Now,
    caller: Authenticated,
    cycle: Annotated[int | None, Query(ge=1, le=100_000)] = None,
) -> CycleUsageOut:
    """The allowance of a cycle (the current one unless `cycle` is given): total, carried forward,
    top-ups, used and remaining, and the minutes counted by category."""
    async with units.read() as uow:
        book = await books.contract_book(uow, contract_id, caller.accounts)
        current = book.contract.cycle_at(now) if cycle is None else book.contract.cycle(cycle)
        if current is None:
            raise NoSuchPeriod("the contract has no current cycle; ask for one by number")
        usage = await books.cycle_usage(uow, book, current)
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
        minutes_by_category={
            category.value: minutes for category, minutes in usage.minutes_by_category.items()
        },
    )


@router.get("/contracts/{contract_id}/cycles", tags=["usage"], responses=_NOT_FOUND, dependencies=[READERS])
async def contract_cycles(contract_id: UUID, units: Units, caller: Authenticated) -> list[CycleOut]:
    """The contract's cycles with their local dates, and which bill period carries each one's usage."""
    async with units.read() as uow:
        book = await books.contract_book(uow, contract_id, caller.accounts)
    contract = book.contract
    return [
        CycleOut(
            index=cycle.index,
            start_date=cycle.start_date,
            end_date=cycle.end_date,
            bill_period=contract.period_carrying(cycle.index),
        )
        for cycle in contract.cycles
    ]


@router.post(
    "/contracts/{contract_id}/bills",
    status_code=status.HTTP_201_CREATED,
    tags=["bills"],
    dependencies=[BILLING_TEAM],
    openapi_extra=idempotent_write(),
    responses=_CONFLICT,
)
async def generate_bill(
    contract_id: UUID, body: BillRequestIn, units: Units, origin: Acting, now: Now
) -> BillState:
    """Make a bill for the period now, issued at once; a period that has bills gets a new version,
    which is not its main bill until marked so."""
    async with units.write() as uow:
        bill = await bills.make_bill(
            uow, bills.BillRequest(contract_id, body.period, bill_id=body.bill_id), origin=origin, now=now
        )
    return wire.bill_state(bill)


@router.post(
    "/bill-runs",
    tags=["bills"],
    dependencies=[BILLING_TEAM],
)
async def run_bills(
    body: BillRunIn, units: Units, origin: Acting, caller: Authenticated, now: Now
) -> BillRunOut:
    """Make the bills that fell due before an instant, as the scheduler does, for up to `limit`
    contracts; call again while `contracts_still_due` is not 0. Periods already billed are skipped, so
    a repeated call makes nothing twice. A run covers every account, so it needs a token for all."""
    if caller.accounts is not None:
        raise Forbidden("a bill run covers every account: it needs a token for all accounts")
    async with units.write() as uow:
        run = await bill_schedule.run_bills_due_before(
            uow, due_before=body.due_before, now=now, origin=origin, limit=body.limit
        )
    async with units.read() as uow:
        still_due = await bill_schedule.contracts_with_bills_due(uow, due_before=body.due_before)
    return BillRunOut(
        due_before=body.due_before,
        contracts_taken=run.taken,
        bills=[
            BillMadeOut(
                bill_id=bill.bill_id,
                number=bill.number,
                contract_id=bill.contract_id,
                period=bill.period,
                status=bill.status.value,
            )
            for bill in run.bills
        ],
        contracts_still_due=still_due,
    )


@router.post(
    "/contracts/{contract_id}/bills/preview", tags=["bills"], responses=_NOT_FOUND, dependencies=[READERS]
)
async def preview_bill(
    contract_id: UUID, body: BillRequestIn, units: Units, now: Now, caller: Authenticated
) -> BillState:
    """The bill that would be made now, neither saved nor announced."""
    async with units.read() as uow:
        bill = await bills.preview_bill(
            uow, bills.BillRequest(contract_id, body.period), now=now, scope=caller.accounts
        )
    return wire.bill_state(bill)


@router.get("/bills", tags=["bills"], dependencies=[READERS])
async def list_bills(
    units: Units,
    caller: Authenticated,
    account_id: Annotated[edge.ShortText | None, Query()] = None,
    contract_id: UUID | None = None,
    period: Annotated[edge.Period | None, Query()] = None,
    status_: Annotated[WireBillStatus | None, Query(alias="status")] = None,
    main_only: bool = False,
    needs_regeneration: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=limits.MAX_PAGE_OFFSET)] = 0,
) -> BillPage:
    """Bills by bill date and number; every filter given must hold."""
    where = BillFilter(
        account_id,
        contract_id,
        period_name(period) if period is not None else None,
        BillStatus(status_.value) if status_ else None,
        main_only,
        needs_regeneration,
        scope=caller.accounts,
    )
    async with units.read() as uow:
        found, total = await uow.bills.search(where, limit=limit, offset=offset)
    return BillPage(items=[wire.bill_state(bill) for bill in found], total=total, limit=limit, offset=offset)


@router.get("/bills/totals", tags=["bills"], dependencies=[READERS])
async def bill_totals(
    units: Units,
    caller: Authenticated,
    account_id: Annotated[edge.ShortText | None, Query()] = None,
    dated_from: Annotated[edge.CalendarDate | None, Query(description="first bill date counted")] = None,
    dated_until: Annotated[edge.CalendarDate | None, Query(description="last bill date counted")] = None,
) -> list[BillTotalsOut]:
    """What the main bills came to, per account and currency: only main bills that are issued, sent or
    paid count (not drafts, other versions or void ones)."""
    async with units.read() as uow:
        totals = await uow.bills.totals(
            BillFilter(account_id=account_id, scope=caller.accounts),
            dated_from=dated_from,
            dated_until=dated_until,
        )
    return [
        BillTotalsOut(
            account_id=found.account_id,
            currency=found.currency,
            bills=found.bills,
            subtotal=wire.amount(found.subtotal),
            discount=wire.amount(found.discount),
            tax=wire.amount(found.tax),
            total=wire.amount(found.total),
        )
        for found in totals
    ]


@router.get("/bills/{bill_id}", tags=["bills"], responses=_NOT_FOUND, dependencies=[READERS])
async def get_bill(bill_id: UUID, units: Units, caller: Authenticated) -> BillState:
    async with units.read() as uow:
        bill = await uow.bills.get(bill_id, caller.accounts)
    if bill is None:
        raise BillNotFound(f"no bill {bill_id}")
    return wire.bill_state(bill)


@router.patch(
    "/bills/{bill_id}",
    tags=["bills"],
    dependencies=[BILLING_TEAM],
    openapi_extra=idempotent_write(),
    responses=_CONFLICT,
)
async def edit_bill(bill_id: UUID, body: BillEditIn, units: Units, origin: Acting) -> BillState:
    """Change the due date, notes or billing email; a paid or void bill no longer changes."""
    async with units.write() as uow:
        bill = await bills.edit_bill(uow, bill_id, body.changes(), origin=origin)
    return wire.bill_state(bill)


async def _change_status(units: Units, bill_id: UUID, to: BillStatus, origin: Origin) -> BillState:
    async with units.write() as uow:
        bill = await bills.change_status(uow, bill_id, to, origin=origin)
    return wire.bill_state(bill)


@router.post(
    "/bills/{bill_id}/issue",
    tags=["bill statuses"],
    dependencies=[BILLING_TEAM],
    openapi_extra=idempotent_write(),
    responses=_CONFLICT,
)
async def issue_bill(bill_id: UUID, units: Units, origin: Acting) -> BillState:
    """Issue a draft now, before its grace period ends."""
    return await _change_status(units, bill_id, BillStatus.ISSUED, origin)


@router.post(
    "/bills/{bill_id}/send",
    tags=["bill statuses"],
    dependencies=[BILLING_TEAM],
    openapi_extra=idempotent_write(),
    responses=_CONFLICT,
)
async def send_bill(bill_id: UUID, units: Units, origin: Acting) -> BillState:
    """Record that the main bill was sent; only the main version of a period can be."""
    return await _change_status(units, bill_id, BillStatus.SENT, origin)


@router.post(
    "/bills/{bill_id}/pay",
    tags=["bill statuses"],
    dependencies=[BILLING_TEAM],
    openapi_extra=idempotent_write(),
    responses=_CONFLICT,
)
async def pay_bill(bill_id: UUID, units: Units, origin: Acting) -> BillState:
    """Record that the main bill, once sent, was paid; a paid bill never changes again."""
    return await _change_status(units, bill_id, BillStatus.PAID, origin)


@router.post(
    "/bills/{bill_id}/void",
    tags=["bill statuses"],
    dependencies=[BILLING_TEAM],
    openapi_extra=idempotent_write(),
    responses=_CONFLICT,
)
async def void_bill(bill_id: UUID, units: Units, origin: Acting, body: VoidIn | None = None) -> BillState:
    """Void a bill (saying why, if you like); voiding the main leaves its period without one, and its
    entries unbilled, until another version is marked main."""
    async with units.write() as uow:
        bill = await bills.change_status(
            uow, bill_id, BillStatus.VOID, origin=origin, reason=body.reason if body else ""
        )
    return wire.bill_state(bill)


@router.post(
    "/bills/{bill_id}/mark-main",
    tags=["bill statuses"],
    dependencies=[BILLING_TEAM],
    openapi_extra=idempotent_write(),
    responses=_CONFLICT,
)
async def mark_main(bill_id: UUID, units: Units, origin: Acting) -> BillState:
    """Make this issued version its period's main bill in place of the current one (not once that one
    is paid); its entries are billed, the previous main's are not."""
    async with units.write() as uow:
        bill = await bills.mark_main(uow, bill_id, origin=origin)
    return wire.bill_state(bill)


@router.post(
    "/bills/{bill_id}/regenerate",
    status_code=status.HTTP_201_CREATED,
    tags=["bill statuses"],
    dependencies=[BILLING_TEAM],
    openapi_extra=idempotent_write(),
    responses=_CONFLICT,
)
async def regenerate_bill(
    bill_id: UUID, units: Units, origin: Acting, now: Now, body: RegenerationIn | None = None
) -> BillState:
    """A new version of the bill's period from current time entries and terms; mark it main to bill it.
    The body is optional: a `new_bill_id` chosen by the caller makes retries safe."""
    new_bill_id = body.new_bill_id if body else None
    async with units.write() as uow:
        bill = await bills.regenerate_bill(uow, bill_id, new_bill_id=new_bill_id, origin=origin, now=now)
    return wire.bill_state(bill)


@router.get("/bills/{bill_id}/reconciliation", tags=["bills"], responses=_NOT_FOUND, dependencies=[READERS])
async def reconcile_bill(bill_id: UUID, units: Units, caller: Authenticated) -> BillReconciled:
    """The bill recomputed from the raw entries and current terms, compared line by line: no
    differences for a correct bill; a flagged one shows what time or terms changed since."""
    async with units.read() as uow:
        found = await bills.reconcile_bill(uow, bill_id, scope=caller.accounts)
    return wire.reconciliation(found)


@router.get(
    "/bills/{bill_id}/printable",
    tags=["bills"],
    responses={
        **_NOT_FOUND,
        200: {"content": {"text/html": {}, "application/pdf": {}}, "description": "the bill as HTML or PDF"},
    },
    response_class=Response,
    dependencies=[READERS],
)
async def printable_bill(
    bill_id: UUID,
    units: Units,
    caller: Authenticated,
    format_: Annotated[str, Query(alias="format", pattern="^(html|pdf)$")] = "html",
) -> Response:
    """The bill to read or print, with the time entries it covers."""
    async with units.read() as uow:
        bill = await uow.bills.get(bill_id, caller.accounts)
        if bill is None:
            raise BillNotFound(f"no bill {bill_id}")
        contract = await uow.contracts.get(bill.contract_id)
        entries = await uow.usage.entries(list(bill.time_entry_ids))
    html = printable.bill_html(bill, entries, contract.time_zone if contract else "UTC")
    if format_ == "html":
        return Response(html, media_type="text/html; charset=utf-8")
    return Response(
        await asyncio.to_thread(printable.bill_pdf, html),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{bill.number}.pdf"'},
    )
