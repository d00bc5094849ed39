"""The bill scheduler: a background loop of the service process that makes the bills that fell due."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from billing.service_layer import bill_schedule
from billing.service_layer.unit_of_work import BillingUnitOfWork
from servicekit.clock import Clock
from servicekit.scheduler import every

BATCH = 200
"""Contracts billed per transaction: a tick with more due goes on with the next batch at once."""


def bill_scheduler(
    units: Callable[[], BillingUnitOfWork], clock: Clock, interval_seconds: float
) -> Callable[[], Awaitable[None]]:
    async def bill_run() -> int:
        made = 0
        while True:
            async with units() as uow:
                run = await bill_schedule.make_due_bills(uow, now=clock(), limit=BATCH)
            made += len(run.bills)
            if run.contracts_taken < BATCH:
                return made

    return every(interval_seconds, bill_run, job=bill_schedule.JOB)
