"""Use cases of a contract: sign, top up, renew, terminate, edit and delete.

Each runs inside a unit of work its entrypoint opened (a REST request, or a Kafka command together
with its inbox record), signs what it publishes with `origin`, and takes the time as `now`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from contracts.adapters import wire
from contracts.domain.calendars import ensure_time_zone
from contracts.domain.commands import NewContract, RenewalRequest, TerminationRequest, TopUpRequest
from contracts.domain.contracts import (
    Contract,
    TermOverrides,
    TopUp,
    apply_overrides,
    snapshot_terms,
    status_on,
)
from contracts.domain.errors import (
    CalendarNotFound,
    ContractExists,
    ContractNotFound,
    DuplicateContractNumber,
    PlanNotFound,
    TopUpPlanNotFound,
)
from contracts.service_layer.unit_of_work import ContractsUnitOfWork
from contracts_schema import WireModel
from servicekit.origin import Origin


@dataclass(frozen=True)
class TopUpBought:
    contract: Contract
    top_up: TopUp


@dataclass(frozen=True)
class Renewal:
    old: Contract
    """The renewed contract, now linked to the new one."""
    new: Contract


async def sign_contract(
    uow: ContractsUnitOfWork, request: NewContract, *, origin: Origin, now: datetime
) -> Contract:
    """The plan's terms (with the contract's overrides) are copied onto the contract for good."""
    origin.require_account(request.account_id)
    plan = await (uow.plans.get(request.plan_id) if request.plan_id else uow.plans.default())
    if plan is None:
        raise PlanNotFound(
            f"no support plan {request.plan_id}" if request.plan_id else "no default support plan"
        )
    calendar = await uow.calendars.get(plan.terms.calendar_id)
    if calendar is None:
        raise CalendarNotFound(f"no business-hours calendar {plan.terms.calendar_id}")
    contract_id = request.contract_id or uuid4()
    if request.contract_id and await uow.contracts.get(contract_id) is not None:
        raise ContractExists(f"contract {contract_id} already exists")
    number = request.contract_number or _number_of(contract_id)
    if await uow.contracts.number_taken(number):
        raise DuplicateContractNumber(f"contract number {number} is taken")
    time_zone = request.time_zone or calendar.time_zone
    local_today = now.astimezone(ensure_time_zone(time_zone)).date()
    contract = Contract(
        contract_id=contract_id,
        contract_number=number,
        account_id=request.account_id,
        name=request.name,
        description=request.description,
        plan_id=plan.plan_id,
        status=status_on(local_today, request.start_date, request.expiry_date, None),
        start_date=request.start_date,
        expiry_date=request.expiry_date,
        time_zone=time_zone,
        scope=request.scope,
        notifications=request.notifications,
        billing_email=request.billing_email,
        payment_terms_days=request.payment_terms_days,
        discount_percent=request.discount_percent,
        tax_percent=request.tax_percent,
        terms=snapshot_terms(plan, TermOverrides(request.base_charge_override, request.allowance_override)),
    )
    await uow.contracts.lock_account(contract.account_id)
    contract.ensure_no_overlap(await uow.contracts.of_account(contract.account_id))
    await uow.contracts.save(contract, new=True)
    publish_contract_event(uow, contract_id, wire.contract_created(contract), origin)
    return contract


async def top_up_contract(
    uow: ContractsUnitOfWork, request: TopUpRequest, *, origin: Origin, now: datetime
) -> TopUpBought:
    """Add a top-up plan's units to the contract's current cycle; billing charges its price."""
    contract = await locked_contract(uow, request.contract_id, origin)
    top_up_plan = await uow.top_up_plans.get(request.top_up_plan_id)
    if top_up_plan is None:
        raise TopUpPlanNotFound(f"no top-up plan {request.top_up_plan_id}")
    if request.top_up_id is not None and await uow.top_ups.exists(request.top_up_id):
        raise ContractExists(f"top-up {request.top_up_id} was already bought")
    # Which top-ups a contract may buy is the plan's current offer, not part of the signed terms.
    plan = await uow.plans.get(contract.plan_id)
    offered = plan.top_up_plan_ids if plan is not None else []
    top_up = contract.top_up(top_up_plan, offered, top_up_id=request.top_up_id or uuid4(), now=now)
    await uow.contracts.save(contract, new=False)
    await uow.top_ups.add(contract.contract_id, top_up)
    publish_contract_event(uow, contract.contract_id, wire.contract_topped_up(contract, top_up), origin)
    return TopUpBought(contract, top_up)


async def renew_contract(
    uow: ContractsUnitOfWork, request: RenewalRequest, *, origin: Origin, now: datetime
) -> Renewal:
    """A new contract linked both ways to the old one; billing makes its first bill on the event."""
    old = await locked_contract(uow, request.contract_id, origin)
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
    number = request.contract_number or _number_of(new_id)
    if await uow.contracts.number_taken(number):
        raise DuplicateContractNumber(f"contract number {number} is taken")
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
    publish_contract_event(uow, new_id, wire.contract_created(new), origin)
    publish_contract_event(uow, old.contract_id, wire.contract_renewed(old, new, now), origin)
    return Renewal(old, new)


async def terminate_contract(
    uow: ContractsUnitOfWork, request: TerminationRequest, *, origin: Origin, now: datetime
) -> Contract:
    """Terminate at the end of the termination date; billing closes the cycle and makes the final bill.

    The status stays active until that day has passed, when the scheduler moves it to terminated.
    """
    contract = await locked_contract(uow, request.contract_id, origin)
    contract.terminate(now, request.termination_date)
    await uow.contracts.save(contract, new=False)
    publish_contract_event(
        uow, contract.contract_id, wire.contract_terminated(contract, request.reason), origin
    )
    return contract


async def edit_contract(
    uow: ContractsUnitOfWork, contract_id: UUID, changes: Mapping[str, Any], *, origin: Origin
) -> Contract:
    """Change the editable fields; an edit that changes nothing publishes nothing."""
    contract = await locked_contract(uow, contract_id, origin)
    changed = contract.edit(changes)
    if changed:
        await uow.contracts.save(contract, new=False)
        publish_contract_event(uow, contract_id, wire.contract_updated(contract, changed), origin)
    return contract


async def delete_contract(uow: ContractsUnitOfWork, contract_id: UUID, *, origin: Origin) -> None:
    """Only while nothing was billed, logged or bought against it; a deleted renewal unlinks its
    predecessor, which may then be renewed again."""
    contract = await locked_contract(uow, contract_id, origin)
    contract.ensure_deletable(await uow.activity.get(contract_id))
    if contract.renewed_from is not None:
        await _unlink_renewal(uow, contract.renewed_from, origin)
    await uow.contracts.delete(contract_id)
    publish_contract_event(uow, contract_id, wire.contract_deleted(contract), origin)


async def _unlink_renewal(uow: ContractsUnitOfWork, contract_id: UUID, origin: Origin) -> None:
    previous = await uow.contracts.get(contract_id, lock=True)
    if previous is None:
        return
    previous.forget_renewal()
    await uow.contracts.save(previous, new=False)
    publish_contract_event(uow, contract_id, wire.contract_updated(previous, ["renewed_to"]), origin)


async def locked_contract(uow: ContractsUnitOfWork, contract_id: UUID, origin: Origin) -> Contract:
    """The contract, its row locked until the unit of work ends (see `ContractRepository.get`); one
    of an account the origin may not touch is not found."""
    contract = await uow.contracts.get(contract_id, lock=True, scope=origin.accounts)
    if contract is None:
        raise ContractNotFound(f"no contract {contract_id}")
    return contract


def _number_of(contract_id: UUID) -> str:
    """The contract number when the caller chose none."""
    return f"C-{contract_id.hex[:8].upper()}"


def publish_contract_event(
    uow: ContractsUnitOfWork, contract_id: UUID, body: WireModel, origin: Origin
) -> None:
    """Publish an event about a contract: keyed by its id, so its events stay in order."""
    uow.publish(body, key=str(contract_id), subject=f"contract/{contract_id}", origin=origin)
