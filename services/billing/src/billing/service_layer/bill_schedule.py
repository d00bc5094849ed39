"""Bills made by the calendar: at each cycle boundary, on renewal, and for back-dated contracts at once.

Each contract copy carries when its next bill falls due, so a bill run (the scheduler's tick, or one an
operator asks for) reads only the contracts with a bill due, however many there are. A period that
already has a bill (made on demand, or at renewal) is not billed again. Each contract is billed on its
own (`servicekit.scheduler.run_item`): one that cannot be billed yet (its calendar has not arrived) is
tried again a little later, one that fails on a bug is parked with the reason until someone looks, and
neither holds up the others. The due contracts are claimed with SKIP LOCKED, so replicas running the
same tick share the work instead of doing it twice.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from uuid import UUID

from billing.domain.bill_versions import Bill, BillStatus
from billing.domain.contract import BillingContract
from billing.domain.errors import BillRunInFuture
from billing.service_layer import handlers
from billing.service_layer.bills import BillRequest, change_status, make_bill
from billing.service_layer.contract_cache import ContractCache
from billing.service_layer.unit_of_work import BillingUnitOfWork
from servicekit.faults import is_transient
from servicekit.origin import Origin
from servicekit.scheduler import Outcome, count_items, run_item

log = logging.getLogger(__name__)

SCHEDULER = Origin("billing-scheduler")
JOB = "bill-run"
BATCH = 200
"""Contracts (or drafts) per transaction: a tick with more goes on with the next batch at once."""
REVIEW_BATCH = 20
"""Contracts reviewed per transaction: a review recounts every entry of a contract."""
RETRY_DEFERRED_AFTER = timedelta(minutes=5)
PERIODS_PER_CONTRACT = 24
"""Bills one contract gets in one transaction: a contract back-dated by years is billed over several,
so no transaction holds its period locks (and the service's other writers) for long."""


@dataclass(frozen=True)
class BatchDone:
    taken: int
    """Items the batch took up, done or not: fewer than asked for means none are left."""
    done: int
    more: bool = False
    """Some item had more than one batch may do (a contract with many bills due): go on at once."""


@dataclass(frozen=True)
class BillRun(BatchDone):
    bills: list[Bill] = field(default_factory=list)


async def reschedule(uow: BillingUnitOfWork, contracts: Sequence[BillingContract]) -> None:
    """Set each contract's next due bill: the first period its cycles call for that has no bill."""
    billed = await uow.bills.periods_billed([contract.contract_id for contract in contracts])
    await uow.contracts.schedule_next_bills(
        {
            contract.contract_id: next(
                (
                    at
                    for period, at in contract.bill_due_dates()
                    if period not in billed[contract.contract_id]
                ),
                None,
            )
            for contract in contracts
        }
    )


async def make_due_bills(
    uow: BillingUnitOfWork, *, now: datetime, limit: int = BATCH, origin: Origin = SCHEDULER
) -> BillRun:
    """Make every bill that has fallen due by `now` for up to `limit` contracts, dated at its boundary."""
    contract_ids = await uow.contracts.due_for_billing(now, limit)
    contracts = await uow.contracts.many(contract_ids)
    billed = await uow.bills.periods_billed(contract_ids)
    try:
        async with uow.savepoint():  # a statement that fails here must not abort the whole transaction
            await _read_ahead(uow, contracts, billed, now)
        made, more = await _bill_all_at_once(uow, contracts, billed, now, origin)
    except Exception as error:
        if is_transient(error):
            raise
        # Something in the batch failed (reading ahead or billing): nothing of it was kept. Each
        # contract again, on its own, so that what failed is deferred or parked alone and the others
        # are billed. What was read ahead is read again: locks taken in a failed savepoint are gone.
        uow.bills.forget_prefetched()
        log.info("bill run: a batch of %d failed at once (%r); billing each alone", len(contracts), error)
    else:
        uow.after_commit(partial(count_items, JOB, Outcome.DONE, len(contracts)))
        await reschedule(uow, [contracts[contract_id] for contract_id in sorted(contracts)])
        return BillRun(taken=len(contract_ids), done=len(made), more=more, bills=made)
    made = []
    billed_contracts: list[BillingContract] = []
    more = False
    for contract_id in sorted(contracts):  # id order: replicas lock the same rows in the same order
        contract = contracts[contract_id]
        work = partial(_bill_due_periods, uow, contract, billed[contract_id], now, origin)
        result = await run_item(uow, JOB, f"contract {contract_id}", work)
        if result.outcome is Outcome.DONE:
            made += result.value or []
            billed_contracts.append(contract)
            more = more or len(result.value or []) == PERIODS_PER_CONTRACT
        elif result.outcome is Outcome.DEFERRED:
            # Tried again later, behind the others, so one that cannot be billed never holds up the rest.
            await uow.contracts.schedule_next_bill(contract_id, now + RETRY_DEFERRED_AFTER)
        else:
            await uow.contracts.park(contract_id, now, result.reason)
    await reschedule(uow, billed_contracts)
    return BillRun(taken=len(contract_ids), done=len(made), more=more, bills=made)


async def _bill_all_at_once(
    uow: BillingUnitOfWork,
    contracts: Mapping[UUID, BillingContract],
    billed: Mapping[UUID, Collection[str]],
    now: datetime,
    origin: Origin,
) -> tuple[list[Bill], bool]:
    """The batch's bills in one savepoint, the usual case: a savepoint per contract costs more than
    its bill. Any failure undoes them all (changes and events) and is raised. Also says whether some
    contract has more bills due than one transaction makes."""
    made: list[Bill] = []
    more = False
    async with uow.savepoint(), uow.bills.inserted_together():
        for contract_id in sorted(contracts):  # id order: replicas lock the same rows in the same order
            bills = await _bill_due_periods(uow, contracts[contract_id], billed[contract_id], now, origin)
            made += bills
            more = more or len(bills) == PERIODS_PER_CONTRACT
    return made, more


async def _read_ahead(
    uow: BillingUnitOfWork,
    contracts: Mapping[UUID, BillingContract],
    billed: Mapping[UUID, Collection[str]],
    now: datetime,
) -> None:
    """What the batch's bills are made from, read for all of them at once rather than bill by bill:
    the copies (claimed by `due_for_billing`), their calendars and top-ups, the entries of the cycles
    the bills carry (from the first cycle where unused allowance carries forward), and the bills
    already in those periods."""
    spans: dict[UUID, tuple[datetime, datetime]] = {}
    periods: list[tuple[UUID, str]] = []
    for contract_id, contract in contracts.items():
        for period_name, due_at in contract.bill_due_dates():
            if due_at > now or period_name in billed[contract_id]:
                continue
            periods.append((contract_id, period_name))
            cycle = contract.period(period_name).usage_cycle
            if cycle is None:
                continue
            since = contract.cycles[0].starts_at if contract.terms.carry_forward else cycle.starts_at
            earliest, latest = spans.get(contract_id, (since, cycle.ends_at))
            spans[contract_id] = (min(earliest, since), max(latest, cycle.ends_at))
    await uow.contracts.prefetch_for_billing(contracts, locked=True)
    await uow.usage.prefetch_entries(spans)
    await uow.bills.prefetch_periods(periods)


async def _bill_due_periods(
    uow: BillingUnitOfWork, contract: BillingContract, billed: Collection[str], now: datetime, origin: Origin
) -> list[Bill]:
    """Each bill of `contract` that has fallen due by `now` and is not made yet, in period order (a
    prepaid contract's first bills can fall due together)."""
    made: list[Bill] = []
    for period, due_at in contract.bill_due_dates():
        if len(made) == PERIODS_PER_CONTRACT:
            break  # the rest in the next transaction: the contract is still due
        if due_at <= now and period not in billed:
            request = BillRequest(contract.contract_id, period, made_at=due_at)
            made.append(await make_bill(uow, request, origin=origin, now=now, automatic=True))
    return made


async def run_bills_due_before(
    uow: BillingUnitOfWork, *, due_before: datetime, now: datetime, origin: Origin, limit: int
) -> BillRun:
    """A bill run an operator asks for: the bills the scheduler would make, for up to `limit` contracts
    whose bills fell due before the instant (to catch up after an outage, or before a deadline). Never
    ahead of time: a cycle's bill is made once its boundary has passed."""
    if due_before > now:
        raise BillRunInFuture(f"due_before {due_before.isoformat()} is later than now ({now.isoformat()})")
    return await make_due_bills(uow, now=due_before, limit=limit, origin=origin)


async def contracts_with_bills_due(uow: BillingUnitOfWork, *, due_before: datetime) -> int:
    """How many contracts have a bill that fell due before the instant (parked ones are not counted)."""
    return await uow.contracts.count_due_for_billing(due_before)


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


async def issue_due_drafts(uow: BillingUnitOfWork, *, now: datetime, limit: int = BATCH) -> BatchDone:
    """Issue the drafts whose grace period has ended. A draft that fails on a bug stays a draft, out of
    the scheduler's way, until it is issued by hand; one that cannot be issued yet is tried next tick."""
    due = await uow.bills.drafts_due(now, limit)
    issued = 0
    for bill_id in due:
        work = partial(change_status, uow, bill_id, BillStatus.ISSUED, origin=SCHEDULER)
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
        elif result.outcome is Outcome.PARKED:
            # A bug: logged with its traceback; the review is not tried every tick forever. One that
            # cannot be done yet (DEFERRED) stays pending for the next tick.
            await uow.contracts.reviewed(contract_id)
    return BatchDone(taken=len(due), done=reviewed)
