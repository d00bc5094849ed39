"""What happens to a signed contract: top-up, renewal, termination, edit and delete.

Each action comes twice: `verb_contract(uow, ...)` opens its own unit of work (REST), and the function
it wraps runs inside one the caller holds open (a Kafka command, recorded in the inbox with it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID, uuid4

from contracts.domain.contracts import Contract, TermOverrides, TopUp, apply_overrides, snapshot_terms
from contracts.domain.errors import (
    ContractExists,
    ContractNotFound,
    DuplicateContractNumber,
    PlanNotFound,
    TopUpPlanNotFound,
)
from contracts.service_layer.handlers import Clock
from contracts.service_layer.unit_of_work import ContractsUnitOfWork
from contracts_schema.contracts import (
    ContractCreated,
    ContractDeleted,
    ContractRenewed,
    ContractState,
    ContractTerminated,
    ContractToppedUp,
    ContractUpdated,
)
from contracts_schema.primitives import MoneyAmount


async def _contract(uow: ContractsUnitOfWork, contract_id: UUID) -> Contract:
    contract = await uow.contracts.get(contract_id, lock=True)
    if contract is None:
        raise ContractNotFound(f"no contract {contract_id}")
    return contract


def _publish(uow: ContractsUnitOfWork, contract_id: UUID, body: Any, actor: str | None) -> None:
    uow.publish(body, key=str(contract_id), subject=f"contract/{contract_id}", actor=actor)


# --- top-up ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TopUpBought:
    contract: ContractState
    top_up: TopUp


async def top_up_contract(
    uow: ContractsUnitOfWork,
    contract_id: UUID,
    top_up_plan_id: UUID,
    *,
    top_up_id: UUID | None,
    clock: Clock,
    actor: str | None,
) -> TopUpBought:
    async with uow:
        return await buy_top_up(
            uow, contract_id, top_up_plan_id, top_up_id=top_up_id, clock=clock, actor=actor
        )


async def buy_top_up(
    uow: ContractsUnitOfWork,
    contract_id: UUID,
    top_up_plan_id: UUID,
    *,
    top_up_id: UUID | None,
    clock: Clock,
    actor: str | None,
) -> TopUpBought:
    """Add a top-up plan's units to the contract's current cycle; billing charges its price."""
    contract = await _contract(uow, contract_id)
    top_up_plan = await uow.top_up_plans.get(top_up_plan_id)
    if top_up_plan is None:
        raise TopUpPlanNotFound(f"no top-up plan {top_up_plan_id}")
    if top_up_id is not None and await uow.top_ups.exists(top_up_id):
        raise ContractExists(f"top-up {top_up_id} was already bought")
    # Which top-ups a contract may buy is the plan's current offer, not part of the signed terms.
    plan = await uow.plans.get(contract.plan_id)
    offered = plan.top_up_plan_ids if plan is not None else []
    top_up = contract.top_up(top_up_plan, offered, top_up_id=top_up_id or uuid4(), now=clock())
    await uow.contracts.save(contract, new=False)
    await uow.top_ups.add(contract_id, top_up)
    state = contract.state()
    _publish(
        uow,
        contract_id,
        ContractToppedUp(
            contract=state,
            top_up_id=top_up.top_up_id,
            top_up_plan_id=top_up.top_up_plan_id,
            units=top_up.units,
            price=top_up.price,
            bought_at=top_up.bought_at,
        ),
        actor,
    )
    return TopUpBought(state, top_up)


# --- renewal --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenewalRequest:
    """What may change on renewal; everything left out is the old contract's."""

    new_contract_id: UUID | None = None
    plan_id: UUID | None = None
    contract_number: str | None = None
    start_date: date | None = None
    expiry_date: date | None = None
    base_charge_override: MoneyAmount | None = None
    allowance_override: int | None = None


@dataclass(frozen=True)
class Renewal:
    old: ContractState
    new: ContractState


async def renew_contract(
    uow: ContractsUnitOfWork, contract_id: UUID, request: RenewalRequest, *, clock: Clock, actor: str | None
) -> Renewal:
    async with uow:
        return await sign_renewal(uow, contract_id, request, clock=clock, actor=actor)


async def sign_renewal(
    uow: ContractsUnitOfWork, contract_id: UUID, request: RenewalRequest, *, clock: Clock, actor: str | None
) -> Renewal:
    """A new contract linked both ways to the old one; billing makes its first bill on the event."""
    old = await _contract(uow, contract_id)
    overrides = TermOverrides(request.base_charge_override, request.allowance_override)
    if request.plan_id is None:
        plan_id, terms = old.plan_id, apply_overrides(old.terms, overrides)
    else:
        plan = await uow.plans.get(request.plan_id)
        if plan is None:
            raise PlanNotFound(f"no support plan {request.plan_id}")
        plan_id, terms = plan.plan_id, snapshot_terms(plan, overrides)
    new_id = request.new_contract_id or uuid4()
    if await uow.contracts.get(new_id) is not None:
        raise ContractExists(f"contract {new_id} already exists")
    number = request.contract_number or f"C-{new_id.hex[:8].upper()}"
    if await uow.contracts.number_taken(number):
        raise DuplicateContractNumber(f"contract number {number} is taken")
    now = clock()
    new = old.renew(
        now,
        new_contract_id=new_id,
        contract_number=number,
        plan_id=plan_id,
        terms=terms,
        start_date=request.start_date,
        expiry_date=request.expiry_date,
    )
    await uow.contracts.lock_account(old.account_id)
    # The old contract stays in the list: a renewal starting before it ends overlaps it.
    new.ensure_no_overlap(await uow.contracts.of_account(old.account_id))
    await uow.contracts.save(old, new=False)
    await uow.contracts.save(new, new=True)
    renewal = Renewal(old.state(), new.state())
    _publish(uow, new_id, ContractCreated(contract=renewal.new), actor)
    _publish(
        uow,
        contract_id,
        ContractRenewed(contract=renewal.old, new_contract=renewal.new, renewed_at=now),
        actor,
    )
    return renewal


# --- termination ----------------------------------------------------------------------------------------


async def terminate_contract(
    uow: ContractsUnitOfWork,
    contract_id: UUID,
    *,
    termination_date: date | None,
    reason: str,
    clock: Clock,
    actor: str | None,
) -> ContractTerminated:
    async with uow:
        return await end_contract(
            uow, contract_id, termination_date=termination_date, reason=reason, clock=clock, actor=actor
        )


async def end_contract(
    uow: ContractsUnitOfWork,
    contract_id: UUID,
    *,
    termination_date: date | None,
    reason: str,
    clock: Clock,
    actor: str | None,
) -> ContractTerminated:
    """Terminate at the end of the termination date; billing closes the cycle and makes the final bill.

    The status stays active until that day has passed, when the scheduler moves it to terminated.
    """
    contract = await _contract(uow, contract_id)
    terminated_at = contract.terminate(clock(), termination_date)
    await uow.contracts.save(contract, new=False)
    event = ContractTerminated(contract=contract.state(), terminated_at=terminated_at, reason=reason)
    _publish(uow, contract_id, event, actor)
    return event


# --- edit and delete ------------------------------------------------------------------------------------


async def edit_contract(
    uow: ContractsUnitOfWork, contract_id: UUID, changes: Mapping[str, Any], *, actor: str | None
) -> ContractState:
    """Change the editable fields; an edit that changes nothing publishes nothing."""
    async with uow:
        contract = await _contract(uow, contract_id)
        changed = contract.edit(changes)
        if changed:
            await uow.contracts.save(contract, new=False)
            _publish(
                uow, contract_id, ContractUpdated(contract=contract.state(), changed_fields=changed), actor
            )
        return contract.state()


async def delete_contract(uow: ContractsUnitOfWork, contract_id: UUID, *, actor: str | None) -> None:
    """Only while nothing was billed, logged or bought against it; a deleted renewal unlinks its
    predecessor, which may then be renewed again."""
    async with uow:
        contract = await _contract(uow, contract_id)
        contract.ensure_deletable(await uow.activity.get(contract_id))
        if contract.renewed_from is not None:
            await _unlink_renewal(uow, contract.renewed_from, actor)
        await uow.contracts.delete(contract_id)
        _publish(
            uow, contract_id, ContractDeleted(contract_id=contract_id, account_id=contract.account_id), actor
        )


async def _unlink_renewal(uow: ContractsUnitOfWork, contract_id: UUID, actor: str | None) -> None:
    previous = await uow.contracts.get(contract_id, lock=True)
    if previous is None:
        return
    previous.forget_renewal()
    await uow.contracts.save(previous, new=False)
    _publish(
        uow, contract_id, ContractUpdated(contract=previous.state(), changed_fields=["renewed_to"]), actor
    )
