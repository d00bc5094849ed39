"""What the scheduler does to one contract: move it along its lifecycle by date, send its expiry notices.

Both compare what the dates say today with what was recorded, so running them twice, or after days
of downtime (every step is caught up in order), publishes each change once.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from contracts.adapters import wire
from contracts.service_layer.contracts import locked_contract, publish_contract_event
from contracts.service_layer.unit_of_work import ContractsUnitOfWork
from servicekit.origin import Origin


async def advance_contract_status(
    uow: ContractsUnitOfWork, contract_id: UUID, *, origin: Origin, now: datetime
) -> int:
    """Publish a ContractStatusChanged for every lifecycle step the dates call for; returns how many."""
    contract = await locked_contract(uow, contract_id, origin)
    changes = contract.advance_status(contract.local_today(now))
    if not changes:
        return 0  # its zone has not reached that day yet
    await uow.contracts.save(contract, new=False)
    for change in changes:
        publish_contract_event(uow, contract_id, wire.contract_status_changed(change), origin)
    return len(changes)


async def send_expiry_notices(
    uow: ContractsUnitOfWork, contract_id: UUID, *, origin: Origin, now: datetime
) -> int:
    """Publish each expiry notice of the contract that fell due, once; returns how many."""
    contract = await locked_contract(uow, contract_id, origin)
    notices = contract.due_notices(contract.local_today(now))
    await uow.contracts.save(contract, new=False)
    for notice in notices:
        publish_contract_event(uow, contract_id, wire.expiry_notice(contract, notice), origin)
    return len(notices)
