"""The contract lifecycle scheduler: a background loop of the service process.

Every interval it finds the contracts whose dates call for a status change or an expiry notice and
handles each in its own savepoint (`servicekit.scheduler.run_item`), so one contract that fails does
not hold up the others: a broken rule defers it to the next tick, a bug parks it (its
`parked_at` and `parked_reason` are set and the due queries skip it until an operator clears it). The due
contracts are locked with SKIP LOCKED, so replicas running the same tick share the work instead of
doing it twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from datetime import datetime
from functools import partial
from typing import Protocol
from uuid import UUID

from contracts.service_layer import lifecycle
from contracts.service_layer.unit_of_work import ContractsUnitOfWork
from servicekit.api import UnitsOfWork
from servicekit.clock import Clock
from servicekit.dates import latest_local_date
from servicekit.origin import Origin
from servicekit.scheduler import Outcome, every, run_item
from servicekit.service import BackgroundLoop

SCHEDULER = Origin(actor="contracts-scheduler")


class ContractWork(Protocol):
    """What a job does to one due contract (a `lifecycle` use case); returns how many events it
    published."""

    def __call__(
        self, uow: ContractsUnitOfWork, contract_id: UUID, *, origin: Origin, now: datetime
    ) -> Awaitable[int]: ...


def lifecycle_loop(
    units: UnitsOfWork[ContractsUnitOfWork], clock: Clock, interval_seconds: float
) -> BackgroundLoop:
    """Both jobs every interval, at the time the service's clock reads at the start of the tick."""

    async def tick() -> int:
        now = clock()
        # Statuses first, so a notice carries the status the dates give that day.
        return await advance_contract_statuses(units, now) + await send_expiry_notices(units, now)

    return every(interval_seconds, tick, job="contract-lifecycle")


async def advance_contract_statuses(units: UnitsOfWork[ContractsUnitOfWork], now: datetime) -> int:
    """Move every due contract along its lifecycle; returns how many status changes were published."""
    async with units.write() as uow:
        due = await uow.contracts.due_for_status_change(latest_local_date(now))
        return await _each(uow, "contract-status", due, lifecycle.advance_contract_status, now)


async def send_expiry_notices(units: UnitsOfWork[ContractsUnitOfWork], now: datetime) -> int:
    """Send every expiry notice that fell due; returns how many were published."""
    async with units.write() as uow:
        due = await uow.contracts.due_for_notices(latest_local_date(now))
        return await _each(uow, "expiry-notices", due, lifecycle.send_expiry_notices, now)


async def _each(
    uow: ContractsUnitOfWork, job: str, due: Sequence[UUID], work: ContractWork, now: datetime
) -> int:
    """Each due contract in a savepoint of its own; one that is parked is marked in this transaction."""
    published = 0
    for contract_id in due:
        published += await _one(uow, job, contract_id, work, now)
    return published


async def _one(
    uow: ContractsUnitOfWork, job: str, contract_id: UUID, work: ContractWork, now: datetime
) -> int:
    result = await run_item(
        uow, job, str(contract_id), partial(work, uow, contract_id, origin=SCHEDULER, now=now)
    )
    if result.outcome is Outcome.PARKED:
        await uow.contracts.park(contract_id, now, result.reason)
    return result.value or 0
