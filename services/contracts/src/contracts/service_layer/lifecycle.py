"""The scheduler's work: move contracts along their lifecycle by date and send expiry notices.

Both are idempotent: they compare what the dates say today with what was recorded, so running them
twice, on two replicas at once (rows are locked with SKIP LOCKED) or after days of downtime (every
step is caught up in order) publishes each change once.
"""

from __future__ import annotations

from contracts.domain.contracts import Contract, Notice, NoticeKind
from contracts.service_layer.handlers import Clock
from contracts.service_layer.unit_of_work import ContractsUnitOfWork
from contracts_schema import WireModel
from contracts_schema.contracts import ContractExpiredNotice, ContractExpiryApproaching, ContractStatusChanged
from servicekit.dates import latest_local_date

SCHEDULER_ACTOR = "contracts-scheduler"


async def advance_contract_statuses(uow: ContractsUnitOfWork, clock: Clock) -> int:
    """Publish a ContractStatusChanged for every lifecycle step the dates call for; returns how many."""
    now = clock()
    steps = 0
    async with uow:
        for contract in await uow.contracts.due_for_status_change(latest_local_date(now)):
            changes = contract.advance_status(contract.local_today(now))
            if not changes:
                continue  # its zone has not reached that day yet
            await uow.contracts.save(contract, new=False)
            for change in changes:
                _publish(
                    uow,
                    contract,
                    ContractStatusChanged(contract=change.state, previous_status=change.previous),
                )
            steps += len(changes)
    return steps


async def send_expiry_notices(uow: ContractsUnitOfWork, clock: Clock) -> int:
    """Publish each expiry notice that fell due, once; returns how many."""
    now = clock()
    sent = 0
    async with uow:
        for contract in await uow.contracts.due_for_notices(latest_local_date(now)):
            notices = contract.due_notices(contract.local_today(now))
            await uow.contracts.save(contract, new=False)
            for notice in notices:
                _publish(uow, contract, _notice_event(contract, notice))
            sent += len(notices)
    return sent


def _notice_event(contract: Contract, notice: Notice) -> WireModel:
    state, recipients = contract.state(), list(contract.notifications.recipients)
    if notice.kind is NoticeKind.EXPIRY_APPROACHING:
        return ContractExpiryApproaching(
            contract=state, days_before_expiry=notice.days, recipients=recipients
        )
    return ContractExpiredNotice(contract=state, days_after_expiry=notice.days, recipients=recipients)


def _publish(uow: ContractsUnitOfWork, contract: Contract, body: WireModel) -> None:
    uow.publish(
        body, key=str(contract.contract_id), subject=f"contract/{contract.contract_id}", actor=SCHEDULER_ACTOR
    )
