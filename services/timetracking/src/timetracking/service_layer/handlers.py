"""Use cases on time entries: each works inside a unit of work its entrypoint opened, is signed by an
`Origin`, and is given `now` where a rule needs the time.

Every change of an entry is saved, recorded in its audit trail and announced in the same unit of work:
logged (`TimeEntryLogged`), edited or marked billable (`TimeEntryChanged`), deleted (`TimeEntryDeleted`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID, uuid4

from servicekit.errors import DomainError, Forbidden
from servicekit.origin import Origin
from timetracking.adapters import wire
from timetracking.domain.audit import AuditAction, AuditRecord
from timetracking.domain.bills import NO_CLOSED_PERIODS, ClosedPeriods, check_period_open
from timetracking.domain.commands import MAX_BATCH, BillableMarking, EntryDeletion, EntryEdit, EntrySelection
from timetracking.domain.contracts import CoveringContract, find_covering_contract
from timetracking.domain.errors import (
    EntryOfAnotherAccount,
    SelectionTooLarge,
    TimeEntryExists,
    TimeEntryNotFound,
)
from timetracking.domain.summaries import SummaryQuery, TimeSummary, summarize
from timetracking.domain.time_entries import (
    TimeEntry,
    WorkLog,
    contract_after_edit,
    new_time_entry,
    same_entry,
    whole_minute,
)
from timetracking.service_layer.unit_of_work import TimeTrackingUnitOfWork


@dataclass(frozen=True, slots=True)
class LogRequest:
    """One entry to log: its id (the caller's, so that asking again is the same entry), what the rep
    entered, and who asked for it. An entry of a batch command also has its index in the batch and the
    batch's account, which every entry of it must be of."""

    entry_id: UUID
    work: WorkLog
    origin: Origin
    index: int | None = None
    batch_account_id: str | None = None
    new_id: bool = False
    """The id was made for this request (`for_a_new_entry`), not given: no entry can have it yet, so it
    is not looked up (most REST calls; a group of them then reads no entries at all)."""

    @classmethod
    def for_a_new_entry(cls, work: WorkLog, origin: Origin) -> LogRequest:
        """Under an id made here, a random UUID: the only way to a request with `new_id`."""
        return cls(uuid4(), work, origin, new_id=True)


async def log_time_entries(
    uow: TimeTrackingUnitOfWork, requests: Sequence[LogRequest], *, now: datetime
) -> list[TimeEntry | DomainError]:
    """Log many entries with a fixed number of queries, whatever their number.

    Each request gets its entry, or the rule it broke; accepted entries (and their audit records) are
    written in one bulk insert each and announced through the outbox, each signed by its own request's
    origin. An entry logged again with the same values is answered with what was logged, again.
    """
    existing = await uow.time_entries.get_many(request.entry_id for request in requests if not request.new_id)
    contracts, closed = await uow.contracts.of_accounts_with_closed_periods(
        (request.work.account_id for request in requests),
        (whole_minute(request.work.started_at) for request in requests),
    )
    outcomes: list[TimeEntry | DomainError] = []
    accepted: list[AuditRecord] = []
    documents: dict[UUID, str] = {}
    for request in requests:
        outcome = _log_one(request, existing, contracts[request.work.account_id], closed, now=now)
        outcomes.append(outcome)
        if isinstance(outcome, DomainError):
            continue
        # Its stored document is the state its event carries: made once, for its row, its record and
        # its event.
        document = wire.time_entry_json(outcome)
        if outcome.entry_id not in existing:
            existing[outcome.entry_id] = outcome
            accepted.append(AuditRecord(now, request.origin.actor, AuditAction.LOGGED, None, None, outcome))
            documents[outcome.entry_id] = document
        uow.publish(
            wire.time_entry_logged_around(document),
            key=outcome.account_id,
            subject=wire.time_entry_subject(outcome.entry_id),
            origin=request.origin,
        )
    await uow.time_entries.add_all([record.after for record in accepted], documents)
    await uow.audit.add_all(accepted, documents)
    return outcomes


def _log_one(
    request: LogRequest,
    existing: dict[UUID, TimeEntry],
    contracts: list[CoveringContract],
    closed: ClosedPeriods,
    *,
    now: datetime,
) -> TimeEntry | DomainError:
    work = request.work
    if request.batch_account_id is not None and work.account_id != request.batch_account_id:
        return EntryOfAnotherAccount(
            f"the entry is of account {work.account_id}, the batch of account {request.batch_account_id}"
        )
    covering = find_covering_contract(contracts, work.product, work.started_at)
    try:
        entry = new_time_entry(request.entry_id, work, covering, now=now)
        earlier = existing.get(entry.entry_id)
        if earlier is None:
            # Only a new entry: one logged before its period was paid, logged again, is answered below.
            # Time that does not bill is kept even there: no bill carries it anyway.
            if entry.work.billable:
                check_period_open(closed, entry.contract_id, entry.started_at)
            return entry
    except DomainError as error:
        return error
    # The entry id makes logging idempotent: the same entry again is answered with what was logged;
    # other values under a taken id are refused, and so is a deleted entry's id.
    if earlier.deleted:
        return TimeEntryExists(f"time entry {entry.entry_id} was logged and deleted")
    if not same_entry(earlier, entry):
        return TimeEntryExists(f"time entry {entry.entry_id} already exists with other values")
    return earlier


async def edit_time_entry(
    uow: TimeTrackingUnitOfWork, edit: EntryEdit, *, origin: Origin, now: datetime, of_rep: str | None = None
) -> TimeEntry:
    """Change what the rep entered. The entry is checked again as a whole, against the contract that
    covers it after the edit; a billed entry needs a reason. `of_rep`: the caller may change only that
    rep's entries (a support rep's own)."""
    entry = await _entry_to_change(uow, edit.entry_id, edit.account_id, origin, of_rep)
    work = edit.edits.applied_to(entry.work)
    if of_rep is not None and work.rep_id != of_rep:
        raise Forbidden("a support rep keeps their own time: rep_id stays the token's subject")
    contracts = (await uow.contracts.of_accounts([entry.account_id]))[entry.account_id]
    contract = contract_after_edit(entry, work, contracts)
    closed = await uow.closed_periods.of_contracts(
        [contract.contract_id] if contract else [], [whole_minute(work.started_at)]
    )
    edited = entry.edited(work, contract, reason=edit.reason, now=now, closed=closed)
    if edited is entry:
        return entry
    await uow.time_entries.save(edited)
    await uow.audit.add_all([AuditRecord(now, origin.actor, AuditAction.EDITED, edit.reason, entry, edited)])
    _publish_changed(uow, edited, entry, edit.reason, origin)
    return edited


async def delete_time_entry(
    uow: TimeTrackingUnitOfWork,
    deletion: EntryDeletion,
    *,
    origin: Origin,
    now: datetime,
    of_rep: str | None = None,
) -> TimeEntry:
    """Delete an entry: it stays, marked deleted, with its history; a billed one needs a reason."""
    entry = await _entry_to_change(uow, deletion.entry_id, deletion.account_id, origin, of_rep)
    deleted = entry.marked_deleted(reason=deletion.reason)
    await uow.time_entries.save(deleted)
    await uow.audit.add_all(
        [AuditRecord(now, origin.actor, AuditAction.DELETED, deletion.reason, entry, deleted)]
    )
    uow.publish(
        wire.time_entry_deleted(deleted, deletion.reason),
        key=deleted.account_id,
        subject=wire.time_entry_subject(deleted.entry_id),
        origin=origin,
    )
    return deleted


@dataclass(frozen=True, slots=True)
class MarkedEntries:
    """What a bulk marking did: the entries it changed, and those it refused with the rule each broke.
    Entries that already were as asked are in neither."""

    changed: list[TimeEntry]
    refused: dict[UUID, DomainError]


async def mark_time_entries_billable(
    uow: TimeTrackingUnitOfWork, marking: BillableMarking, *, origin: Origin, now: datetime
) -> MarkedEntries:
    """Mark entries of an account billable or not, those listed or those a selection matches (at most
    MAX_BATCH of them that would change). A billed entry changes only with a reason; one that cannot
    change is refused alone, the others still change."""
    origin.require_account(marking.account_id)
    refused: dict[UUID, DomainError] = {}
    if marking.entry_ids is not None:
        if len(marking.entry_ids) > MAX_BATCH:
            raise SelectionTooLarge(f"at most {MAX_BATCH} entry ids in one marking")
        found = await uow.time_entries.get_many(marking.entry_ids, lock=True)
        candidates: list[TimeEntry] = []
        for entry_id in marking.entry_ids:
            entry = found.get(entry_id)
            if entry is None or entry.account_id != marking.account_id:
                refused[entry_id] = TimeEntryNotFound(
                    f"no time entry {entry_id} of account {marking.account_id}"
                )
            else:
                candidates.append(entry)
    else:
        selection = replace(
            marking.selection or EntrySelection(),
            account_id=marking.account_id,
            billable=not marking.billable,
            include_deleted=False,
        )
        candidates = await uow.time_entries.selected(selection, limit=MAX_BATCH + 1, lock=True)
        if len(candidates) > MAX_BATCH:
            raise SelectionTooLarge(
                f"the selection matches more than {MAX_BATCH} entries to change: narrow it, by dates say"
            )
    closed = NO_CLOSED_PERIODS
    if marking.billable:  # only time made billable could need a bill that cannot come
        closed = await uow.closed_periods.of_contracts(
            {entry.contract_id for entry in candidates if entry.contract_id},
            (entry.started_at for entry in candidates),
        )
    changed: list[tuple[TimeEntry, TimeEntry]] = []
    for entry in candidates:
        try:
            marked = entry.marked_billable(marking.billable, reason=marking.reason, closed=closed)
        except DomainError as error:
            refused[entry.entry_id] = error
            continue
        if marked is not entry:
            changed.append((marked, entry))
    action = AuditAction.MARKED_BILLABLE if marking.billable else AuditAction.MARKED_NON_BILLABLE
    await uow.time_entries.save_all([marked for marked, _ in changed])
    await uow.audit.add_all(
        [AuditRecord(now, origin.actor, action, marking.reason, entry, marked) for marked, entry in changed]
    )
    reason = marking.reason or ("marked billable" if marking.billable else "marked non-billable")
    for marked, entry in changed:
        _publish_changed(uow, marked, entry, reason, origin)
    return MarkedEntries([marked for marked, _ in changed], refused)


async def summarize_time_entries(uow: TimeTrackingUnitOfWork, query: SummaryQuery) -> list[TimeSummary]:
    """Time and charges per rep or account over a period, with minutes by the category of each entry's
    contract calendar, as timetracking knows it."""
    query.check()
    entries = await uow.time_entries.selected(
        EntrySelection(
            account_id=query.account_id,
            rep_id=query.rep_id,
            started_from=query.started_from,
            started_before=query.started_before,
            accounts=query.accounts,
        )
    )
    contracts = await uow.contracts.get_many(entry.contract_id for entry in entries if entry.contract_id)
    calendars = await uow.calendars.get_many(
        contract.calendar_id for contract in contracts.values() if contract.calendar_id
    )
    on_contract_clock = {
        contract_id: calendars[contract.calendar_id].in_zone(contract.time_zone)
        for contract_id, contract in contracts.items()
        if contract.calendar_id in calendars
    }
    return summarize(entries, query.group_by, on_contract_clock)


async def _entry_to_change(
    uow: TimeTrackingUnitOfWork, entry_id: UUID, account_id: str | None, origin: Origin, of_rep: str | None
) -> TimeEntry:
    """The entry, locked until the work ends; an entry of another account than the caller named, or
    than its accounts, is not found, as if it did not exist."""
    entry = await uow.time_entries.get(entry_id, lock=True, scope=origin.accounts)
    if entry is None or (account_id is not None and entry.account_id != account_id):
        raise TimeEntryNotFound(f"no time entry {entry_id}")
    if of_rep is not None and entry.work.rep_id != of_rep:
        raise Forbidden(f"time entry {entry_id} is another rep's: a support rep changes only their own")
    return entry


def _publish_changed(
    uow: TimeTrackingUnitOfWork, entry: TimeEntry, previous: TimeEntry, reason: str | None, origin: Origin
) -> None:
    uow.publish(
        wire.time_entry_changed(entry, previous, reason),
        key=entry.account_id,
        subject=wire.time_entry_subject(entry.entry_id),
        origin=origin,
    )
