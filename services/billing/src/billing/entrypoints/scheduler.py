"""The billing scheduler: a background loop of the service process.

Each tick makes the bills that fell due, issues the drafts whose grace period ended, and reviews the
contracts whose calendar changed, in batches of a transaction each. Each contract (or draft) is handled
in its own savepoint (`servicekit.scheduler.run_item`), so one that fails does not hold up the others:
a contract that cannot be billed yet (its calendar has not arrived) is tried again a little later, one
that fails on a bug is parked with the reason until someone looks. The due rows are claimed with SKIP
LOCKED, so replicas running the same tick share the work instead of doing it twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from billing.domain.bill_versions import Bill, BillStatus
from billing.domain.contract import BillingContract
from billing.service_layer import bill_schedule, handlers
from billing.service_layer.bills import change_status
from billing.service_layer.contract_cache import ContractCache
from billing.service_layer.unit_of_work import BillingUnitOfWork
from servicekit.api import UnitsOfWork
from servicekit.clock import Clock
from servicekit.scheduler import Outcome, every, run_item
from servicekit.service import BackgroundLoop

BATCH = 200
"""Contracts (or drafts) per transaction: a tick with more goes on with the next batch at once."""
REVIEW_BATCH = 20
"""Contracts reviewed per transaction: a review recounts every entry of a contract."""
RETRY_DEFERRED_AFTER = timedelta(minutes=5)


def bill_scheduler(
    units: UnitsOfWork[BillingUnitOfWork], clock: Clock, contracts: ContractCache, interval_seconds: float
) -> BackgroundLoop:
    async def tick() -> int:
        made = await _in_batches(units, BATCH, lambda uow: make_due_bills(uow, now=clock(), limit=BATCH))
        issued = await _in_batches(units, BATCH, lambda uow: issue_due_drafts(uow, now=clock(), limit=BATCH))
        reviewed = await _in_batches(
            units,
            REVIEW_BATCH,
            lambda uow: review_changed_contracts(uow, contracts=contracts, now=clock(), limit=REVIEW_BATCH),
        )
        return made + issued + reviewed

    return every(interval_seconds, tick, job=bill_schedule.JOB)


async def _in_batches(
    units: UnitsOfWork[BillingUnitOfWork],
    batch: int,
    run: Callable[[BillingUnitOfWork], Awaitable[BatchDone]],
) -> int:
    """Batch after batch, a transaction each, until one takes up fewer items than a whole batch."""
    done = 0
    while True:
        async with units.write() as uow:
            result = await run(uow)
        done += result.done
        if result.taken < batch:
            return done


@dataclass(frozen=True)
class BatchDone:
    taken: int
    """Items the batch took up, done or not."""
    done: int


@dataclass(frozen=True)
class BillRun(BatchDone):
    bills: list[Bill]


async def make_due_bills(uow: BillingUnitOfWork, *, now: datetime, limit: int = BATCH) -> BillRun:
    """Make every bill that has fallen due for up to `limit` contracts, dated at its boundary."""
    contract_ids = await uow.contracts.due_for_billing(now, limit)
    contracts = await uow.contracts.many(contract_ids)
    billed = await uow.bills.periods_billed(contract_ids)
    made: list[Bill] = []
    billed_contracts: list[BillingContract] = []
    for contract_id in sorted(contracts):  # id order: replicas lock the same rows in the same order
        contract = contracts[contract_id]
        work = partial(bill_schedule.bill_due_periods, uow, contract, billed[contract_id], now)
        result = await run_item(uow, bill_schedule.JOB, f"contract {contract_id}", work)
        if result.outcome is Outcome.DONE:
            made += result.value or []
            billed_contracts.append(contract)
        elif result.outcome is Outcome.DEFERRED:
            # Tried again later, behind the others, so one that cannot be billed never holds up the rest.
            await uow.contracts.schedule_next_bill(contract_id, now + RETRY_DEFERRED_AFTER)
        else:
            await uow.contracts.park(contract_id, now, result.reason)
    await bill_schedule.reschedule(uow, billed_contracts)
    return BillRun(taken=len(contract_ids), done=len(made), bills=made)


async def issue_due_drafts(uow: BillingUnitOfWork, *, now: datetime, limit: int = BATCH) -> BatchDone:
    """Issue the drafts whose grace period has ended. A draft that fails on a bug stays a draft, out of
    the scheduler's way, until it is issued by hand; one that cannot be issued yet is tried next tick."""
    due = await uow.bills.drafts_due(now, limit)
    issued = 0
    for bill_id in due:
        work = partial(change_status, uow, bill_id, BillStatus.ISSUED, origin=bill_schedule.SCHEDULER)
        result = await run_item(uow, "draft-issue", f"bill {bill_id}", work)
        if result.outcome is Outcome.DONE:
            issued += 1
        elif result.outcome is Outcome.PARKED:
            await uow.bills.keep_draft(bill_id)
    return BatchDone(taken=len(due), done=issued)


async def review_changed_contracts(
    uow: BillingUnitOfWork, *, contracts: ContractCache, now: datetime, limit: int = REVIEW_BATCH
) -> BatchDone:
    """Review the contracts whose calendar changed: entries counted again, billed periods reviewed."""
    due = await uow.contracts.due_for_review(limit)
    reviewed = 0
    for contract_id in due:
        work = partial(handlers.review_contract, uow, contract_id, contracts=contracts, now=now)
        result = await run_item(uow, "calendar-review", f"contract {contract_id}", work)
        if result.outcome is Outcome.DONE:
            reviewed += 1
        else:
            await uow.contracts.reviewed(contract_id)
    return BatchDone(taken=len(due), done=reviewed)
