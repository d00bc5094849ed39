"""The billing scheduler: a background loop of the service process. Each tick makes the bills that
fell due, issues the drafts whose grace period ended, and reviews the contracts whose calendar changed
(`billing.service_layer.bill_schedule`), a batch per transaction until a batch finds no more."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from billing.service_layer import bill_schedule
from billing.service_layer.bill_schedule import BATCH, REVIEW_BATCH, BatchDone
from billing.service_layer.contract_cache import ContractCache
from billing.service_layer.unit_of_work import BillingUnitOfWork
from servicekit.api import UnitsOfWork
from servicekit.clock import Clock
from servicekit.scheduler import every
from servicekit.service import BackgroundLoop


def bill_scheduler(
    units: UnitsOfWork[BillingUnitOfWork], clock: Clock, contracts: ContractCache, interval_seconds: float
) -> BackgroundLoop:
    async def tick() -> int:
        made = await _in_batches(units, BATCH, lambda uow: bill_schedule.make_due_bills(uow, now=clock()))
        issued = await _in_batches(units, BATCH, lambda uow: bill_schedule.issue_due_drafts(uow, now=clock()))
        reviewed = await _in_batches(
            units,
            REVIEW_BATCH,
            lambda uow: bill_schedule.review_changed_contracts(uow, contracts=contracts, now=clock()),
        )
        return made + issued + reviewed

    return every(interval_seconds, tick, job=bill_schedule.JOB)


async def _in_batches(
    units: UnitsOfWork[BillingUnitOfWork],
    batch: int,
    run: Callable[[BillingUnitOfWork], Awaitable[BatchDone]],
) -> int:
    """Batch after batch, a transaction each, until one takes up fewer items than a whole batch, or
    gets none done (items that defer are taken again at the next tick, not at once)."""
    done = 0
    while True:
        async with units.write() as uow:
            result = await run(uow)
        done += result.done
        if (result.taken < batch and not result.more) or result.done == 0:
            return done
