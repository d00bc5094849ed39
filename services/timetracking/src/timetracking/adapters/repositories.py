"""Repositories of the timetracking service: bulk writes, one query per lookup.

An entry is stored as the JSON document `wire.py` makes of it, beside the columns it is searched by.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.auth import AccountScope
from servicekit.sql import as_utc
from timetracking.adapters import wire
from timetracking.adapters.tables import covering_contracts, time_entries
from timetracking.domain.time_entries import CoveringContract, TimeEntry


def _entry_row(entry: TimeEntry) -> dict[str, Any]:
    return {
        "entry_id": str(entry.entry_id),
        "account_id": entry.account_id,
        "contract_id": str(entry.contract_id) if entry.contract_id else None,
        "request_id": entry.request_id,
        "rep_id": entry.rep_id,
        "started_at": entry.started_at,
        "minutes": entry.minutes,
        "billable": entry.billable,
        "billed": entry.billed,
        "other_charges": entry.other_charges.amount if entry.other_charges else None,
        "currency": entry.other_charges.currency if entry.other_charges else None,
        "version": entry.version,
        "document": wire.time_entry_document(entry),
    }


@dataclass(frozen=True)
class TimeEntryFilter:
    account_id: str | None = None
    rep_id: str | None = None
    request_id: str | None = None
    contract_id: UUID | None = None
    started_from: datetime | None = None
    started_before: datetime | None = None
    billable: bool | None = None
    billed: bool | None = None
    scope: AccountScope = None
    """The accounts the caller may see; None: every account."""

    def conditions(self) -> list[Any]:
        c = time_entries.c
        found: list[Any] = [] if self.scope is None else [c.account_id.in_(sorted(self.scope))]
        for column, value in (
            (c.account_id, self.account_id),
            (c.rep_id, self.rep_id),
            (c.request_id, self.request_id),
            (c.billable, self.billable),
            (c.billed, self.billed),
        ):
            if value is not None:
                found.append(column == value)
        if self.contract_id is not None:
            found.append(c.contract_id == str(self.contract_id))
        if self.started_from is not None:
            found.append(c.started_at >= self.started_from)
        if self.started_before is not None:
            found.append(c.started_at < self.started_before)
        return found


class TimeEntryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_all(self, entries: Sequence[TimeEntry]) -> None:
        if entries:
            await self._session.execute(insert(time_entries), [_entry_row(entry) for entry in entries])

    async def get_many(self, entry_ids: Iterable[UUID]) -> dict[UUID, TimeEntry]:
        ids = [str(entry_id) for entry_id in entry_ids]
        if not ids:
            return {}
        rows = await self._session.scalars(
            select(time_entries.c.document).where(time_entries.c.entry_id.in_(ids))
        )
        found = [wire.time_entry_of_document(row) for row in rows]
        return {entry.entry_id: entry for entry in found}

    async def get(self, entry_id: UUID, scope: AccountScope = None) -> TimeEntry | None:
        c = time_entries.c
        query = select(c.document).where(c.entry_id == str(entry_id))
        if scope is not None:
            query = query.where(c.account_id.in_(sorted(scope)))
        document = await self._session.scalar(query)
        return None if document is None else wire.time_entry_of_document(document)

    async def save(self, entry: TimeEntry) -> None:
        row = _entry_row(entry)
        await self._session.execute(
            update(time_entries).where(time_entries.c.entry_id == row.pop("entry_id")).values(**row)
        )

    async def unattached(self, account_id: str, since: datetime, until: datetime) -> list[TimeEntry]:
        """The account's entries that no contract covered when they were logged, started in [since, until)."""
        c = time_entries.c
        rows = await self._session.scalars(
            select(c.document).where(
                c.account_id == account_id,
                c.contract_id.is_(None),
                c.started_at >= as_utc(since),
                c.started_at < as_utc(until),
            )
        )
        return [wire.time_entry_of_document(row) for row in rows]

    async def search(self, where: TimeEntryFilter, *, limit: int, offset: int) -> tuple[list[TimeEntry], int]:
        conditions = where.conditions()
        total = await self._session.scalar(select(func.count()).select_from(time_entries).where(*conditions))
        rows = await self._session.scalars(
            select(time_entries.c.document)
            .where(*conditions)
            .order_by(time_entries.c.started_at, time_entries.c.entry_id)
            .limit(limit)
            .offset(offset)
        )
        return [wire.time_entry_of_document(row) for row in rows], int(total or 0)


class CoveringContractRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def of_accounts(self, account_ids: Iterable[str]) -> dict[str, list[CoveringContract]]:
        ids = list(set(account_ids))
        found: dict[str, list[CoveringContract]] = {account_id: [] for account_id in ids}
        if not ids:
            return found
        rows = await self._session.execute(
            select(covering_contracts).where(covering_contracts.c.account_id.in_(ids))
        )
        for row in rows.mappings():
            contract = CoveringContract(
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
            )
            found[contract.account_id].append(contract)
        return found

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
