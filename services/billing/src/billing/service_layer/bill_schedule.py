"""Bills made by the calendar: at each cycle boundary, on renewal, and for back-dated contracts at once.

Each contract copy carries when its next bill falls due, so a tick reads only the contracts with a bill
due, however many there are. A period that already has a bill (made on demand, or at renewal) is not
billed again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

from billing.service_layer.contract_book import bill_due_dates
from billing.service_layer.handlers import BillRequest, Clock, make_bill
from billing.service_layer.unit_of_work import BillingUnitOfWork
from contracts_schema import CloudEvent
from contracts_schema import billing as wire
from contracts_schema.contracts import BillingMode, ContractState
from servicekit.errors import DomainError

SCHEDULER = "billing-scheduler"
RETRY_FAILED_AFTER = timedelta(minutes=5)
log = logging.getLogger(__name__)


async def reschedule(uow: BillingUnitOfWork, contracts: Sequence[ContractState]) -> None:
    """Set each contract's next due bill: the first period its cycles call for that has no bill."""
    billed = await uow.bills.periods_billed([contract.contract_id for contract in contracts])
    for contract in contracts:
        due = next(
            (at for period, at in bill_due_dates(contract) if period not in billed[contract.contract_id]),
            None,
        )
        await uow.contracts.schedule_next_bill(contract.contract_id, due)


async def make_due_bills(uow: BillingUnitOfWork, *, clock: Clock, limit: int = 200) -> list[wire.BillState]:
    """Make every bill that has fallen due for up to `limit` contracts, dated at its boundary."""
    now = clock()
    contract_ids = await uow.contracts.due_for_billing(now, limit)
    contracts = list((await uow.contracts.many(contract_ids)).values())
    billed = await uow.bills.periods_billed(contract_ids)
    made: list[wire.BillState] = []
    failed: list[UUID] = []
    for contract in contracts:
        try:
            async with uow.savepoint():
                bills = [
                    await make_bill(
                        uow,
                        BillRequest(contract.contract_id, period, SCHEDULER, issued_at=due_at),
                        clock=clock,
                    )
                    for period, due_at in bill_due_dates(contract)
                    if due_at <= now and period not in billed[contract.contract_id]
                ]
            made += bills
        except Exception as error:
            # e.g. the calendar's event has not arrived yet. The contract is tried again later, behind
            # the others, so one that cannot be billed never holds up the rest.
            log.warning("bills of contract %s not made yet: %r", contract.contract_id, error)
            failed.append(contract.contract_id)
    await reschedule(uow, [c for c in contracts if c.contract_id not in failed])
    for contract_id in failed:
        await uow.contracts.schedule_next_bill(contract_id, now + RETRY_FAILED_AFTER)
    return made


async def bill_renewal(
    uow: BillingUnitOfWork, renewal: ContractState, *, renewed_at: datetime, cause: CloudEvent, clock: Clock
) -> None:
    """A prepaid renewal's first bill is made as soon as the renewal is published, dated that day."""
    if renewal.terms.billing_mode is not BillingMode.PREPAID:
        return
    if "1" in (await uow.bills.periods_billed([renewal.contract_id]))[renewal.contract_id]:
        return
    try:
        async with uow.savepoint():
            await make_bill(
                uow,
                BillRequest(renewal.contract_id, "1", cause.actor, cause=cause, issued_at=renewed_at),
                clock=clock,
            )
    except DomainError as error:
        # Not yet possible (e.g. the calendar has not arrived): the scheduler makes it when it can.
        log.warning("renewal bill of contract %s left to the scheduler: %s", renewal.contract_id, error)
