"""The contract lifecycle scheduler: a background loop of the service process."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from contracts.service_layer.handlers import Clock
from contracts.service_layer.lifecycle import advance_contract_statuses, send_expiry_notices
from contracts.service_layer.unit_of_work import ContractsUnitOfWork

log = logging.getLogger(__name__)


def lifecycle_loop(
    uow: Callable[[], ContractsUnitOfWork], clock: Clock, interval_seconds: float
) -> Callable[[], Awaitable[None]]:
    """Every interval: statuses first, so a notice carries the status the dates give that day."""

    async def run() -> None:
        while True:
            steps = await advance_contract_statuses(uow(), clock)
            notices = await send_expiry_notices(uow(), clock)
            if steps or notices:
                log.info("scheduler: %d status change(s), %d expiry notice(s)", steps, notices)
            await asyncio.sleep(interval_seconds)

    return run
