"""Use cases on bills: make and preview them, regenerate, change the main bill and statuses, edit,
reconcile; and the review that recomputes drafts or flags issued bills when time or terms change
after them.

A period's bills are loaded locked (`uow.bills.period`), changed through the `PeriodBills` aggregate,
saved, and what changed is published: two changes of one period, from two replicas, apply one after
the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

from billing.adapters import wire
from billing.domain.bill_versions import Bill, BillMade, BillStatus, PeriodBills
from billing.domain.contract import ContractBook
from billing.domain.errors import BillIdTaken, BillNotFound, BillStatusConflict, PeriodNotStarted
from billing.domain.reconciliation import Reconciliation, reconcile
from billing.service_layer.books import contract_book, draft_bill
from billing.service_layer.unit_of_work import BillingUnitOfWork
from servicekit.auth import AccountScope
from servicekit.metrics import BILLS_MADE
from servicekit.origin import Origin

BILLING = Origin("billing")
"""Flags, recomputed drafts and usage notices are billing's own doing, whatever change led to them."""


@dataclass(frozen=True)
class BillRequest:
    contract_id: UUID
    period: str
    made_at: datetime | None = None
    """When the bill counts as made (a cycle boundary, a renewal); now when not given."""
    bill_id: UUID | None = None


async def preview_bill(
    uow: BillingUnitOfWork, request: BillRequest, *, now: datetime, scope: AccountScope = None
) -> Bill:
    """The bill that would be made now, not saved and not announced."""
    book = await contract_book(uow, request.contract_id, scope)
    period = book.contract.period(request.period)
    bills = await uow.bills.period(request.contract_id, period.name, lock=False)
    bill = Bill.make(
        book.contract,
        period,
        await draft_bill(uow, book, period.name),
        bill_id=uuid4(),
        version=bills.next_version,
        made_at=now,
    )
    bills.add(bill)
    return bill


async def make_bill(
    uow: BillingUnitOfWork, request: BillRequest, *, origin: Origin, now: datetime, automatic: bool = False
) -> Bill:
    """Make a bill for a contract's period; a period that already has bills gets a new version.

    An automatic bill (the scheduler's, a renewal's) of a contract with a grace period is a draft, its
    grace counted from now; any other is issued at once. A bill id given again for the same period is
    a retry: the bill made the first time is the answer. A period whose main bill is paid is closed to
    new versions asked for by hand.
    """
    book = await contract_book(uow, request.contract_id, origin.accounts)
    period = book.contract.period(request.period)
    await uow.contracts.lock_for_billing(request.contract_id)
    bills = await uow.bills.period(request.contract_id, period.name, lock=True)
    if request.bill_id is not None:
        made_before = await _made_before(uow, bills, request.bill_id)
        if made_before is not None:
            return made_before
    if not automatic and period.opens_at > now:
        raise PeriodNotStarted(
            f"period {period.name} starts on {period.first_day}: a bill can be made from then on "
            "(preview it meanwhile)"
        )
    main = bills.main
    if not automatic and main is not None and main.status is BillStatus.PAID:
        raise BillStatusConflict(f"the main bill {main.number} is paid: its period takes no new version")
    bill = Bill.make(
        book.contract,
        period,
        await draft_bill(uow, book, period.name),
        bill_id=request.bill_id or uuid4(),
        version=bills.next_version,
        made_at=request.made_at or now,
        draft_from=now if automatic else None,
        made_on=now,
    )
    bills.add(bill)
    await save(uow, bills, origin)
    return bill


async def _made_before(uow: BillingUnitOfWork, bills: PeriodBills, bill_id: UUID) -> Bill | None:
    """The bill a retried request made, or nothing; an id taken by another period's bill is a conflict."""
    for version in bills.versions:
        if version.bill_id == bill_id:
            return version
    if await uow.bills.where_is(bill_id) is not None:
        raise BillIdTaken(f"bill id {bill_id} belongs to a bill of another contract or period")
    return None


async def regenerate_bill(
    uow: BillingUnitOfWork,
    bill_id: UUID,
    *,
    new_bill_id: UUID | None,
    origin: Origin,
    now: datetime,
    contract_id: UUID | None = None,
) -> Bill:
    """A new version of the bill's period from current time and terms; earlier versions stay. It is
    not the main bill until it is marked so."""
    bills = await _period_of(uow, bill_id, origin, contract_id=contract_id)
    bill = bills.bill(bill_id)
    if bill.status is BillStatus.VOID:
        raise BillStatusConflict(f"bill {bill.number} is void: regenerate from a version that is not")
    return await make_bill(
        uow, BillRequest(bill.contract_id, bill.period, bill_id=new_bill_id), origin=origin, now=now
    )


async def mark_main(
    uow: BillingUnitOfWork, bill_id: UUID, *, origin: Origin, contract_id: UUID | None = None
) -> Bill:
    """Make a version its period's main bill; the new main is reviewed at once, so a version made
    before later time arrived is flagged rather than silently leaving that time unbilled."""
    bills = await _period_of(uow, bill_id, origin, contract_id=contract_id)
    bills.mark_main(bill_id)
    await _review(uow, bills, "time entries or terms changed since this version was made")
    await save(uow, bills, origin)
    return bills.bill(bill_id)


async def change_status(
    uow: BillingUnitOfWork,
    bill_id: UUID,
    status: BillStatus,
    *,
    origin: Origin,
    contract_id: UUID | None = None,
    reason: str = "",
) -> Bill:
    """Issue a draft, send, pay or void a bill (a void may say why)."""
    bills = await _period_of(uow, bill_id, origin, contract_id=contract_id)
    match status:
        case BillStatus.ISSUED:
            bills.issue(bill_id)
        case BillStatus.SENT:
            bills.send(bill_id)
        case BillStatus.PAID:
            bills.pay(bill_id, await uow.contracts.get(bills.contract_id))
        case BillStatus.VOID:
            bills.void(bill_id, reason)
            # The main may have counted on the voided version to carry what it lacks: look again.
            await _review(uow, bills, "time entries or terms changed since the main bill was made")
        case BillStatus.DRAFT:
            raise BillStatusConflict("a bill becomes a draft only when it is made")
    await save(uow, bills, origin)
    return bills.bill(bill_id)


async def edit_bill(
    uow: BillingUnitOfWork,
    bill_id: UUID,
    changes: Mapping[str, object],
    *,
    origin: Origin,
    contract_id: UUID | None = None,
) -> Bill:
    bills = await _period_of(uow, bill_id, origin, contract_id=contract_id)
    bills.edit(bill_id, changes)
    await save(uow, bills, origin)
    return bills.bill(bill_id)


async def _period_of(
    uow: BillingUnitOfWork, bill_id: UUID, origin: Origin, *, contract_id: UUID | None = None
) -> PeriodBills:
    """The locked bills of the period `bill_id` belongs to; `contract_id`, when given, must be its
    contract (a command names both). A bill of an account the origin may not touch is not found."""
    found = await uow.bills.where_is(bill_id, origin.accounts)
    if found is None or (contract_id is not None and found[0] != contract_id):
        raise BillNotFound(f"no bill {bill_id}" + (f" of contract {contract_id}" if contract_id else ""))
    return await uow.bills.period(*found, lock=True)


async def save(uow: BillingUnitOfWork, bills: PeriodBills, origin: Origin) -> None:
    """Store what changed in the period's bills and publish the changes (the main bill's events tell
    time tracking which entries are billed). Each changed bill's JSON document is built once, for its
    row and its events alike: it is most of what saving a new bill costs."""
    documents = {bill.bill_id: wire.bill_document(bill) for bill in bills.changed_bills()}
    await uow.bills.save(bills, documents)
    for event in bills.events:
        if isinstance(event, BillMade):
            uow.after_commit(BILLS_MADE.labels(event.bill.status.value).inc)
        uow.publish(
            wire.bill_event(event, documents),
            key=str(bills.contract_id),
            subject=f"contract/{bills.contract_id}/period/{bills.period}",
            origin=origin,
        )
    bills.events.clear()


# --- review: time and terms that change after a bill ------------------------------------------------


async def review_periods(
    uow: BillingUnitOfWork, book: ContractBook, periods: Mapping[str, str], *, origin: Origin = BILLING
) -> None:
    """After time or terms of some billed periods changed (`periods`: period -> what changed): each
    draft of the period is recomputed in place; an issued main bill whose figures would change is
    flagged, with what changed as the reason. `origin`: billing's own doing, caused by the message
    that changed the time or terms, when one did."""
    for period_name, reason in sorted(periods.items()):
        bills = await uow.bills.period(book.contract.contract_id, period_name, lock=True)
        await _review(uow, bills, reason, book)
        await save(uow, bills, origin)


async def _review(
    uow: BillingUnitOfWork, bills: PeriodBills, reason: str, book: ContractBook | None = None
) -> None:
    """A period's bills against a recomputation from current data; a main bill already known to be
    stale for this reason is not recomputed again."""
    if bills.needs_review(reason):
        book = book or await contract_book(uow, bills.contract_id)
        bills.review(await draft_bill(uow, book, bills.period), reason)


# --- reconciliation -----------------------------------------------------------------------------------


async def reconcile_bill(
    uow: BillingUnitOfWork, bill_id: UUID, *, contract_id: UUID | None = None, scope: AccountScope = None
) -> Reconciliation:
    """Recompute a bill from the raw entries and terms and compare it line by line."""
    found = await uow.bills.where_is(bill_id, scope)
    if found is None or (contract_id is not None and found[0] != contract_id):
        raise BillNotFound(f"no bill {bill_id}")
    bill = (await uow.bills.period(*found, lock=False)).bill(bill_id)
    book = await contract_book(uow, bill.contract_id)
    return reconcile(bill, await draft_bill(uow, book, bill.period))


def reject_bill_command(
    uow: BillingUnitOfWork,
    *,
    contract_id: UUID | None,
    period: str | None,
    bill_id: UUID | None,
    origin: Origin,
    error: Exception,
) -> None:
    """Answer a bill command that could not be carried out, naming the rule and the reason."""
    uow.publish(
        wire.bill_command_rejected(
            contract_id=contract_id, period=period, bill_id=bill_id, error=error, command=origin.cause
        ),
        key=str(contract_id),
        subject=f"contract/{contract_id}",
        origin=origin,
    )
