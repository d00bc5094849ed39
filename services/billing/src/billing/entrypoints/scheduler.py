"""The billing scheduler: a background loop of the service process. Each tick makes the bills that fell
due, issues the drafts whose grace period ended, and reviews contracts whose calendar changed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from billing.service_layer import bill_schedule
from billing.service_layer.contract_cache import ContractCache
from billing.service_layer.unit_of_work import BillingUnitOfWork
from servicekit.clock import Clock
from servicekit.scheduler import every

BATCH = 200
"""Contracts (or drafts) per transaction: a tick with more goes on with the next batch at once."""
REVIEW_BATCH = 20


def bill_scheduler(
    units: Callable[[], BillingUnitOfWork], clock: Clock, contracts: ContractCache, interval_seconds: float
) -> Callable[[], Awaitable[None]]:
    async def tick() -> int:
        done = 0
        while True:
            async with units() as uow:
                run = await bill_schedule.make_due_bills(uow, now=clock(), limit=BATCH)
            done += len(run.bills)
            if run.contracts_taken < BATCH:
                break
        while True:
            async with units() as uow:
                issued = await bill_schedule.issue_due_drafts(uow, now=clock(), limit=BATCH)
            done += issued
            if issued < BATCH:
                break
        while True:
            async with units() as uow:
                reviewed = await bill_schedule.review_changed_contracts(
                    uow, contracts=contracts, now=clock(), limit=REVIEW_BATCH
                )
            done += reviewed
            if reviewed < REVIEW_BATCH:
                return done

    return every(interval_seconds, tick, job=bill_schedule.JOB)
