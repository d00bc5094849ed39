"""What the contracts service keeps of other services' events, and the coverage answer built on it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from contracts.domain.coverage import Coverage, Exhaustion, coverage_at, find_covering_contract
from contracts.service_layer.unit_of_work import ContractsUnitOfWork


async def record_time_entries_logged(uow: ContractsUnitOfWork, contract_ids: Iterable[UUID]) -> None:
    """A contract with time logged against it can no longer be deleted."""
    await uow.activity.record_time_entries(contract_ids)


async def record_bills_issued(uow: ContractsUnitOfWork, contract_ids: Iterable[UUID]) -> None:
    """A contract that was billed can no longer be deleted."""
    await uow.activity.record_bills(contract_ids)


async def record_allowance_exhausted(
    uow: ContractsUnitOfWork, contract_id: UUID, exhaustion: Exhaustion
) -> None:
    if exhaustion.supersedes(await uow.exhaustions.get(contract_id)):
        await uow.exhaustions.save(contract_id, exhaustion)


async def record_allowance_restored(
    uow: ContractsUnitOfWork, contract_id: UUID, cycle_index: int, restored_at: datetime
) -> None:
    exhaustion = await uow.exhaustions.get(contract_id)
    restored = exhaustion.restored(cycle_index, restored_at) if exhaustion else None
    if restored is not None:
        await uow.exhaustions.save(contract_id, restored)


async def coverage(uow: ContractsUnitOfWork, account_id: str, product: str | None, at: datetime) -> Coverage:
    """Which contract covers the account's work on `product` at `at`, and is that work covered."""
    contract = find_covering_contract(await uow.contracts.of_account(account_id), product, at)
    if contract is None:
        return coverage_at(None, at, None, [])
    exhaustion = await uow.exhaustions.get(contract.contract_id)
    bought = [top_up.bought_at for top_up in await uow.top_ups.of_contract(contract.contract_id)]
    return coverage_at(contract, at, exhaustion, bought)
