"""Repositories of the timetracking service: bulk writes, one query per lookup.

An entry is stored as the JSON document `wire.py` makes of it, beside the columns it is searched by.
Reads for a change take `lock=True`: the rows stay locked until the transaction ends, so two changes of
one entry (an edit and a bill event, say) apply one after the other and neither is lost. SQLite has
one writer at a time anyway.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import RowMapping, bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from contracts_schema.contracts import BusinessCalendar as CalendarDocument
from servicekit.auth import AccountScope
from servicekit.business_hours import BusinessCalendar
from servicekit.sql import BulkInsert, as_utc, upsert
from timetracking.adapters import wire
from timetracking.adapters.tables import (
    calendars,
    closed_periods,
    covering_contracts,
    time_entries,
    time_entry_audit,
)
from timetracking.domain.audit import AuditAction, AuditRecord
from timetracking.domain.bills import ClosedPeriod
from timetracking.domain.commands import EntrySelection
from timetracking.domain.contracts import CoveringContract
from timetracking.domain.time_entries import TimeEntry

_ENTRY_COLUMNS = (
    "entry_id",
    "account_id",
    "contract_id",
    "request_id",
    "rep_id",
    "started_at",
    "minutes",
    "billable",
    "billed",
    "other_charges",
    "currency",
    "version",
    "deleted",
    "document",
)
_ADD_ENTRIES = BulkInsert(time_entries, _ENTRY_COLUMNS, encoded=["document"])


def _entry_values(entry: TimeEntry, document: Any) -> tuple[Any, ...]:
    """The entry's row, in `_ENTRY_COLUMNS`' order; `document` as the statement takes it: JSON text for
    `_ADD_ENTRIES`, the document itself for SQLAlchemy's statements."""
    work = entry.work
    charges = work.other_charges
    return (
        str(entry.entry_id),
        work.account_id,
        str(entry.contract_id) if entry.contract_id else None,
        work.request_id,
        work.rep_id,
        work.started_at,
        entry.minutes,
        work.billable,
        entry.billed,
        charges.amount if charges else None,
        charges.currency if charges else None,
        entry.version,
        entry.deleted,
        document,
    )


def _conditions(where: EntrySelection) -> list[Any]:
    c = time_entries.c
    found: list[Any] = [] if where.accounts is None else [c.account_id.in_(sorted(where.accounts))]
    for column, value in (
        (c.account_id, where.account_id),
        (c.rep_id, where.rep_id),
        (c.request_id, where.request_id),
        (c.billable, where.billable),
        (c.billed, where.billed),
    ):
        if value is not None:
            found.append(column == value)
    if where.contract_id is not None:
        found.append(c.contract_id == str(where.contract_id))
    # Stored instants are UTC; SQLite compares them as text, so bounds must be UTC too.
    if where.started_from is not None:
        found.append(c.started_at >= as_utc(where.started_from))
    if where.started_before is not None:
        found.append(c.started_at < as_utc(where.started_before))
    if not where.include_deleted:
        found.append(c.deleted.is_(False))
    return found


# The statements of logging a batch, built once: building one (a list of ids coerced value by value)
# costs more than running it, and a batch of a REST group commit is a few entries.
_DOCUMENTS_BY_ID = select(time_entries.c.document).where(
    time_entries.c.entry_id.in_(bindparam("ids", expanding=True))
)
_CONTRACTS_OF_ACCOUNTS = select(covering_contracts).where(
    covering_contracts.c.account_id.in_(bindparam("ids", expanding=True))
)
# A closed period that holds an instant between `since` and `until` (the earliest and the latest start
# of a batch's entries).
_HOLDING = (closed_periods.c.ends_at > bindparam("since")) & (
    closed_periods.c.starts_at <= bindparam("until")
)
_CLOSED_PERIODS_HOLDING = select(closed_periods).where(
    closed_periods.c.contract_id.in_(bindparam("ids", expanding=True)), _HOLDING
)
_CLOSED_COLUMNS = ("period", "bill_number", "starts_at", "ends_at")
_CONTRACTS_WITH_CLOSED_PERIODS = (
    select(covering_contracts, *(closed_periods.c[name].label(f"closed_{name}") for name in _CLOSED_COLUMNS))
    .outerjoin(closed_periods, (closed_periods.c.contract_id == covering_contracts.c.contract_id) & _HOLDING)
    .where(covering_contracts.c.account_id.in_(bindparam("ids", expanding=True)))
)


def _locked(statement: Select[Any], lock: bool) -> Select[Any]:
    return statement.with_for_update() if lock else statement


class TimeEntryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_all(self, entries: Sequence[TimeEntry], documents: Mapping[UUID, str]) -> None:
        """Insert new entries; `documents`, by entry id, are their stored documents as JSON text
        (`wire.time_entry_json`), made once for their rows, their audit records and their events."""
        await _ADD_ENTRIES.execute(
            self._session, [_entry_values(entry, documents[entry.entry_id]) for entry in entries]
        )

    async def get_many(self, entry_ids: Iterable[UUID], *, lock: bool = False) -> dict[UUID, TimeEntry]:
        ids = [str(entry_id) for entry_id in entry_ids]
        if not ids:
            return {}
        rows = await self._session.scalars(_locked(_DOCUMENTS_BY_ID, lock), {"ids": ids})
        found = [wire.time_entry_of_document(row) for row in rows]
        return {entry.entry_id: entry for entry in found}

    async def get(
        self, entry_id: UUID, *, lock: bool = False, scope: AccountScope = None
    ) -> TimeEntry | None:
        """The entry; nothing for an entry of an account out of `scope`."""
        c = time_entries.c
        query = select(c.document).where(c.entry_id == str(entry_id))
        if scope is not None:
            query = query.where(c.account_id.in_(sorted(scope)))
        document = await self._session.scalar(_locked(query, lock))
        return None if document is None else wire.time_entry_of_document(document)

    async def save(self, entry: TimeEntry) -> None:
        await self.save_all([entry])

    async def save_all(self, entries: Sequence[TimeEntry]) -> None:
        """Write the entries' new states, in one statement however many."""
        if not entries:
            return
        rows = [
            dict(zip(_ENTRY_COLUMNS, _entry_values(entry, wire.time_entry_document(entry)), strict=True))
            for entry in entries
        ]
        for row in rows:
            row["key"] = row.pop("entry_id")
        await self._session.execute(
            update(time_entries).where(time_entries.c.entry_id == bindparam("key")), rows
        )

    async def unattached(self, contract: CoveringContract) -> list[TimeEntry]:
        """The account's entries no contract covered when they were logged, started on the contract's
        days, locked: those it may attach."""
        since, until = contract.covered_instants()
        c = time_entries.c
        rows = await self._session.scalars(
            select(c.document)
            .where(
                c.account_id == contract.account_id,
                c.contract_id.is_(None),
                c.deleted.is_(False),
                c.started_at >= as_utc(since),
                c.started_at < as_utc(until),
            )
            .order_by(c.started_at, c.entry_id)
            .with_for_update()
        )
        return [wire.time_entry_of_document(row) for row in rows]

    async def search(
        self, where: EntrySelection, *, limit: int, offset: int = 0, lock: bool = False
    ) -> tuple[list[TimeEntry], int]:
        """A page of the entries selected, in start order (ties by entry id, so pages never overlap),
        and how many there are in all."""
        conditions = _conditions(where)
        total = await self._session.scalar(select(func.count()).select_from(time_entries).where(*conditions))
        return await self.selected(where, limit=limit, offset=offset, lock=lock), int(total or 0)

    async def selected(
        self, where: EntrySelection, *, limit: int | None = None, offset: int = 0, lock: bool = False
    ) -> list[TimeEntry]:
        """The entries selected, in start order (ties by entry id)."""
        c = time_entries.c
        statement = (
            select(c.document).where(*_conditions(where)).order_by(c.started_at, c.entry_id).offset(offset)
        )
        if limit is not None:
            statement = statement.limit(limit)
        rows = await self._session.scalars(_locked(statement, lock))
        return [wire.time_entry_of_document(row) for row in rows]


_ADD_AUDIT = BulkInsert(
    time_entry_audit,
    ("entry_id", "version", "at", "actor", "action", "reason", "before", "after"),
    encoded=["before", "after"],
)
"""A record's `before` is JSON too: `null` for an entry's first version, as SQLAlchemy writes a None."""


class AuditTrail:
    """Every version of every entry, with who made it, when and why."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_all(
        self, records: Sequence[AuditRecord], documents: Mapping[UUID, str] | None = None
    ) -> None:
        """Add records; `documents`, by entry id, are the entries' stored documents as JSON text when
        already made (`wire.time_entry_json`)."""
        made = documents or {}
        await _ADD_AUDIT.execute(
            self._session,
            [
                (
                    str(record.entry_id),
                    record.after.version,
                    as_utc(record.at),
                    record.actor,
                    record.action.value,
                    record.reason,
                    wire.time_entry_json(record.before) if record.before else "null",
                    made.get(record.entry_id) or wire.time_entry_json(record.after),
                )
                for record in records
            ],
        )

    async def of_entry(self, entry_id: UUID) -> list[AuditRecord]:
        """The entry's records, oldest version first."""
        c = time_entry_audit.c
        rows = await self._session.execute(
            select(c.at, c.actor, c.action, c.reason, c.before, c.after)
            .where(c.entry_id == str(entry_id))
            .order_by(c.version, c.audit_id)
        )
        return [
            AuditRecord(
                at=as_utc(row.at),
                actor=row.actor,
                action=AuditAction(row.action),
                reason=row.reason,
                before=wire.time_entry_of_document(row.before) if row.before is not None else None,
                after=wire.time_entry_of_document(row.after),
            )
            for row in rows
        ]


def _contract(row: Any) -> CoveringContract:
    return CoveringContract(
        contract_id=UUID(row["contract_id"]),
        account_id=row["account_id"],
        all_products=row["all_products"],
        products=frozenset(row["products"]),
        start_date=row["start_date"],
        end_date=row["end_date"],
        time_zone=row["time_zone"],
        currency=row["currency"],
        reps_may_override_time_taken=row["reps_may_override_time_taken"],
        reps_may_add_other_charges=row["reps_may_add_other_charges"],
        version=row["version"],
        calendar_id=UUID(row["calendar_id"]) if row["calendar_id"] else None,
    )


class CoveringContractRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def of_accounts(self, account_ids: Iterable[str]) -> dict[str, list[CoveringContract]]:
        ids = list(set(account_ids))
        found: dict[str, list[CoveringContract]] = {account_id: [] for account_id in ids}
        if not ids:
            return found
        rows = await self._session.execute(_CONTRACTS_OF_ACCOUNTS, {"ids": ids})
        for row in rows.mappings():
            contract = _contract(row)
            found[contract.account_id].append(contract)
        return found

    async def of_accounts_with_closed_periods(
        self, account_ids: Iterable[str], starts: Iterable[datetime]
    ) -> tuple[dict[str, list[CoveringContract]], dict[UUID, list[ClosedPeriod]]]:
        """`of_accounts`, and what `ClosedPeriodRepository.of_contracts` answers for those contracts and
        `starts`, in one query: logging a batch needs both, and a query costs more than either answer."""
        ids = list(set(account_ids))
        instants = list(starts)
        found: dict[str, list[CoveringContract]] = {account_id: [] for account_id in ids}
        closed: dict[UUID, list[ClosedPeriod]] = {}
        if not ids:
            return found, closed
        if not instants:  # no instant a period could close over: the contracts alone
            return await self.of_accounts(ids), closed
        rows = await self._session.execute(
            _CONTRACTS_WITH_CLOSED_PERIODS,
            {"ids": ids, "since": as_utc(min(instants)), "until": as_utc(max(instants))},
        )
        seen: dict[str, CoveringContract] = {}
        for row in rows.mappings():
            contract = seen.get(row["contract_id"])
            if contract is None:  # a contract comes once per closed period it has, or once with none
                contract = seen[row["contract_id"]] = _contract(row)
                found[contract.account_id].append(contract)
            if row["closed_period"] is not None:
                closed.setdefault(contract.contract_id, []).append(
                    _closed_period(contract.contract_id, row, prefix="closed_")
                )
        return found, closed

    async def get_many(self, contract_ids: Iterable[UUID]) -> dict[UUID, CoveringContract]:
        ids = [str(contract_id) for contract_id in set(contract_ids)]
        if not ids:
            return {}
        rows = await self._session.execute(
            select(covering_contracts).where(covering_contracts.c.contract_id.in_(ids))
        )
        return {contract.contract_id: contract for contract in map(_contract, rows.mappings())}

    async def keep(self, contract: CoveringContract) -> None:
        """Insert or replace the contract, unless a newer version is already kept."""
        c = covering_contracts.c
        current = await self._session.scalar(
            select(c.version).where(c.contract_id == str(contract.contract_id))
        )
        values = {
            "account_id": contract.account_id,
            "all_products": contract.all_products,
            "products": sorted(contract.products),
            "start_date": contract.start_date,
            "end_date": contract.end_date,
            "time_zone": contract.time_zone,
            "currency": contract.currency,
            "reps_may_override_time_taken": contract.reps_may_override_time_taken,
            "reps_may_add_other_charges": contract.reps_may_add_other_charges,
            "version": contract.version,
            "calendar_id": str(contract.calendar_id) if contract.calendar_id else None,
        }
        if current is None:
            await self._session.execute(
                insert(covering_contracts).values(contract_id=str(contract.contract_id), **values)
            )
        elif current < contract.version:
            await self._session.execute(
                update(covering_contracts).where(c.contract_id == str(contract.contract_id)).values(**values)
            )

    async def forget(self, contract_id: UUID) -> None:
        await self._session.execute(
            delete(covering_contracts).where(covering_contracts.c.contract_id == str(contract_id))
        )


class ClosedPeriodRepository:
    """The periods paid main bills closed to new time."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def keep(self, period: ClosedPeriod) -> None:
        """Record the period; again, as a redelivered payment would, changes nothing."""
        await upsert(
            self._session,
            closed_periods,
            [
                {
                    "contract_id": str(period.contract_id),
                    "period": period.period,
                    "bill_number": period.bill_number,
                    "starts_at": as_utc(period.starts_at),
                    "ends_at": as_utc(period.ends_at),
                }
            ],
            key=["contract_id", "period"],
        )

    async def of_contracts(
        self, contract_ids: Iterable[UUID], starts: Iterable[datetime]
    ) -> dict[UUID, list[ClosedPeriod]]:
        """The contracts' closed periods that hold an instant between the earliest and the latest of
        `starts` (when a batch of entries starts), in one query: a batch of recent time finds none."""
        ids = [str(contract_id) for contract_id in set(contract_ids)]
        instants = list(starts)
        found: dict[UUID, list[ClosedPeriod]] = {}
        if not ids or not instants:
            return found
        since, until = min(instants), max(instants)
        rows = await self._session.execute(
            _CLOSED_PERIODS_HOLDING, {"ids": ids, "since": as_utc(since), "until": as_utc(until)}
        )
        for row in rows.mappings():
            period = _closed_period(UUID(row["contract_id"]), row)
            found.setdefault(period.contract_id, []).append(period)
        return found


def _closed_period(contract_id: UUID, row: RowMapping, *, prefix: str = "") -> ClosedPeriod:
    """A closed period of the contract from a row of `closed_periods`' columns, named with `prefix`."""
    return ClosedPeriod(
        contract_id=contract_id,
        period=row[f"{prefix}period"],
        bill_number=row[f"{prefix}bill_number"],
        starts_at=as_utc(row[f"{prefix}starts_at"]),
        ends_at=as_utc(row[f"{prefix}ends_at"]),
    )


class CalendarRepository:
    """Business-hours calendars as the contracts service last announced them."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def keep(self, announced: Sequence[CalendarDocument]) -> None:
        await upsert(
            self._session,
            calendars,
            [
                {"calendar_id": str(calendar.calendar_id), "document": wire.calendar_document(calendar)}
                for calendar in announced
            ],
            key=["calendar_id"],
        )

    async def get_many(self, calendar_ids: Iterable[UUID]) -> dict[UUID, BusinessCalendar]:
        ids = [str(calendar_id) for calendar_id in set(calendar_ids)]
        if not ids:
            return {}
        rows = await self._session.execute(
            select(calendars.c.calendar_id, calendars.c.document).where(calendars.c.calendar_id.in_(ids))
        )
        return {UUID(key): wire.calendar_of_document(document) for key, document in rows}
