"""Bills made by the calendar: at each cycle boundary, on renewal, and for back-dated contracts at once.

Each contract copy carries when its next bill falls due, so a tick of the scheduler
(`billing.entrypoints.scheduler`) reads only the contracts with a bill due, however many there are. A
period that already has a bill (made on demand, or at renewal) is not billed again.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from functools import partial

from billing.domain.bill_versions import Bill
from billing.domain.contract import BillingContract
from billing.service_layer.bills import BillRequest, make_bill
from billing.service_layer.unit_of_work import BillingUnitOfWork
from servicekit.origin import Origin
from servicekit.scheduler import run_item

SCHEDULER = Origin("billing-scheduler")
JOB = "bill-run"


async def reschedule(uow: BillingUnitOfWork, contracts: Sequence[BillingContract]) -> None:
    """Set each contract's next due bill: the first period its cycles call for that has no bill."""
    billed = await uow.bills.periods_billed([contract.contract_id for contract in contracts])
    for contract in contracts:
        due = next(
            (at for period, at in contract.bill_due_dates() if period not in billed[contract.contract_id]),
            None,
        )
        await uow.contracts.schedule_next_bill(contract.contract_id, due)


async def bill_due_periods(
    uow: BillingUnitOfWork, contract: BillingContract, billed: Collection[str], now: datetime
) -> list[Bill]:
    """Make each bill of `contract` that has fallen due by `now` and is not made yet, dated at its
    boundary, in period order (a prepaid contract's first bills can fall due together)."""
    made: list[Bill] = []
    for period, due_at in contract.bill_due_dates():
        if due_at <= now and period not in billed:
            request = BillRequest(contract.contract_id, period, made_at=due_at)
            made.append(await make_bill(uow, request, origin=SCHEDULER, now=now, automatic=True))
    return made


async def bill_renewal(
    uow: BillingUnitOfWork, renewal: BillingContract, *, renewed_at: datetime, origin: Origin, now: datetime
) -> None:
    """A prepaid renewal's first bill is made as soon as the renewal is published, dated that day;
    when that is not possible yet (the calendar has not arrived), the scheduler makes it later."""
    if not renewal.is_prepaid:
        return
    if "1" in (await uow.bills.periods_billed([renewal.contract_id]))[renewal.contract_id]:
        return
    request = BillRequest(renewal.contract_id, "1", made_at=renewed_at)
    work = partial(make_bill, uow, request, origin=origin, now=now, automatic=True)
    await run_item(uow, "renewal-bill", f"contract {renewal.contract_id}", work)
