"""Repositories of the billing service: bulk writes for usage, one query per lookup."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, case, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from billing.adapters import tables
from billing.domain.usage import UsageEntry
from contracts_schema.billing import BillState, BillStatus
from contracts_schema.contracts import BusinessCalendar, ContractState
from contracts_schema.timetracking import TimeEntryState
from servicekit.money import Money
from servicekit.sql import as_utc, insert_on_conflict, upsert


class ContractCopies:
    """Billing's own copy of contract terms, calendars and top-ups, built from contract events."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, contract_id: UUID) -> ContractState | None:
        state = await self._session.scalar(
            select(tables.contracts.c.state).where(tables.contracts.c.contract_id == str(contract_id))
        )
        return None if state is None else ContractState.model_validate(state)

    async def many(self, contract_ids: Iterable[UUID]) -> dict[UUID, ContractState]:
        ids = [str(contract_id) for contract_id in set(contract_ids)]
        if not ids:
            return {}
        rows = await self._session.scalars(
            select(tables.contracts.c.state).where(tables.contracts.c.contract_id.in_(ids))
        )
        states = [ContractState.model_validate(row) for row in rows]
        return {state.contract_id: state for state in states}

    async def keep(self, states: Sequence[ContractState]) -> None:
        """Keep the newest version of each contract; an older, late version changes nothing, and
        neither does any version of a deleted contract."""
        deleted = set(
            await self._session.scalars(
                select(tables.deleted_contracts.c.contract_id).where(
                    tables.deleted_contracts.c.contract_id.in_({str(state.contract_id) for state in states})
                )
            )
        )
        newest: dict[UUID, ContractState] = {}
        for state in states:
            if str(state.contract_id) in deleted:
                continue
            if state.contract_id not in newest or newest[state.contract_id].version < state.version:
                newest[state.contract_id] = state
        await upsert(
            self._session,
            tables.contracts,
            [
                {
                    "contract_id": str(state.contract_id),
                    "account_id": state.account_id,
                    "version": state.version,
                    "state": state.model_dump(mode="json"),
                }
                for state in newest.values()
            ],
            key=["contract_id"],
            newer_by="version",
        )

    async def forget(self, contract_id: UUID) -> None:
        """A deleted contract: no copy, so no bills fall due, and none comes back later."""
        await self._session.execute(
            delete(tables.contracts).where(tables.contracts.c.contract_id == str(contract_id))
        )
        await self._session.execute(
            insert_on_conflict(self._session)(tables.deleted_contracts)
            .values(contract_id=str(contract_id))
            .on_conflict_do_nothing()
        )

    async def schedule_next_bill(self, contract_id: UUID, due_at: datetime | None) -> None:
        await self._session.execute(
            update(tables.contracts)
            .where(tables.contracts.c.contract_id == str(contract_id))
            .values(next_bill_due_at=due_at)
        )

    async def due_for_billing(self, now: datetime, limit: int) -> list[UUID]:
        """Contracts with a bill due; on PostgreSQL each is claimed, so replicas bill each once."""
        c = tables.contracts.c
        query = (
            select(c.contract_id).where(c.next_bill_due_at <= now).order_by(c.next_bill_due_at).limit(limit)
        )
        if self._session.bind is not None and self._session.bind.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return [UUID(contract_id) for contract_id in await self._session.scalars(query)]

    async def calendar(self, calendar_id: UUID) -> BusinessCalendar | None:
        document = await self._session.scalar(
            select(tables.calendars.c.document).where(tables.calendars.c.calendar_id == str(calendar_id))
        )
        return None if document is None else BusinessCalendar.model_validate(document)

    async def calendars(self, calendar_ids: Iterable[UUID]) -> dict[UUID, BusinessCalendar]:
        ids = [str(calendar_id) for calendar_id in set(calendar_ids)]
        if not ids:
            return {}
        rows = await self._session.scalars(
            select(tables.calendars.c.document).where(tables.calendars.c.calendar_id.in_(ids))
        )
        found = [BusinessCalendar.model_validate(row) for row in rows]
        return {calendar.calendar_id: calendar for calendar in found}

    async def keep_calendars(self, calendars: Sequence[BusinessCalendar]) -> None:
        await upsert(
            self._session,
            tables.calendars,
            [
                {"calendar_id": str(calendar.calendar_id), "document": calendar.model_dump(mode="json")}
                for calendar in calendars
            ],
            key=["calendar_id"],
        )

    async def add_top_up(
        self, top_up_id: UUID, contract_id: UUID, units: int, price: Money, bought_at: datetime
    ) -> None:
        await upsert(
            self._session,
            tables.top_ups,
            [
                {
                    "top_up_id": str(top_up_id),
                    "contract_id": str(contract_id),
                    "units": units,
                    "price": price.amount,
                    "currency": price.currency,
                    "bought_at": as_utc(bought_at),
                }
            ],
            key=["top_up_id"],
        )

    async def top_ups_of(self, contract_ids: Iterable[UUID]) -> dict[UUID, list[tuple[int, datetime]]]:
        """Units and purchase instant of every top-up of the contracts."""
        t = tables.top_ups.c
        found: dict[UUID, list[tuple[int, datetime]]] = {contract_id: [] for contract_id in contract_ids}
        if found:
            rows = await self._session.execute(
                select(t.contract_id, t.units, t.bought_at).where(
                    t.contract_id.in_([str(contract_id) for contract_id in found])
                )
            )
            for contract_id, units, bought_at in rows:
                found[UUID(contract_id)].append((units, as_utc(bought_at)))
        return found

    async def top_ups(self, contract_id: UUID) -> list[tuple[int, Money, datetime]]:
        rows = await self._session.execute(
            select(
                tables.top_ups.c.units,
                tables.top_ups.c.price,
                tables.top_ups.c.currency,
                tables.top_ups.c.bought_at,
            )
            .where(tables.top_ups.c.contract_id == str(contract_id))
            .order_by(tables.top_ups.c.bought_at)
        )
        return [
            (units, Money.of(price, currency), as_utc(bought_at))
            for units, price, currency, bought_at in rows
        ]


class UsageLedger:
    """Billable time as billing sees it, and what each cycle has used so far."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(self, entries: Sequence[PlacedEntry]) -> None:
        """Insert or update entries in bulk; a late older version of an entry changes nothing."""
        await upsert(
            self._session,
            tables.usage_entries,
            [_usage_row(placed) for placed in entries],
            key=["entry_id"],
            newer_by="version",
        )

    async def contracts_with_unplaced_entries(self) -> set[UUID]:
        c = tables.usage_entries.c
        rows = await self._session.scalars(
            select(c.contract_id).where(c.contract_id.is_not(None), c.cycle_index.is_(None)).distinct()
        )
        return {UUID(contract_id) for contract_id in rows}

    async def unplaced(self, contract_ids: Iterable[UUID]) -> list[tuple[str, UUID, datetime, int, bool]]:
        """Entries recorded before their contract was known: id, contract, start, minutes, all hours."""
        c = tables.usage_entries.c
        ids = [str(contract_id) for contract_id in contract_ids]
        if not ids:
            return []
        rows = await self._session.execute(
            select(c.entry_id, c.contract_id, c.started_at, c.minutes, c.include_non_operational).where(
                c.contract_id.in_(ids), c.cycle_index.is_(None)
            )
        )
        return [
            (entry_id, UUID(contract_id), as_utc(at), minutes, everything)
            for entry_id, contract_id, at, minutes, everything in rows
        ]

    async def place(self, placements: Sequence[tuple[str, int | None, int]]) -> None:
        """Set (entry id, cycle index, counted minutes) on entries recorded before their contract."""
        if placements:
            c = tables.usage_entries.c
            await self._session.execute(
                update(tables.usage_entries)
                .where(c.entry_id == bindparam("placed_id"))
                .values(cycle_index=bindparam("placed_cycle"), counted_minutes=bindparam("placed_minutes")),
                [
                    {"placed_id": entry_id, "placed_cycle": cycle, "placed_minutes": minutes}
                    for entry_id, cycle, minutes in placements
                ],
            )

    async def cycle_sums(self, cycles: Iterable[tuple[UUID, int]]) -> dict[tuple[UUID, int], tuple[int, int]]:
        """Per (contract, cycle): billable minutes that draw on the allowance, and distinct requests."""
        wanted = set(cycles)
        if not wanted:
            return {}
        c = tables.usage_entries.c
        rows = await self._session.execute(
            select(
                c.contract_id,
                c.cycle_index,
                func.coalesce(func.sum(case((c.billable, c.counted_minutes), else_=0)), 0),
                func.count(func.distinct(case((c.billable, c.request_id)))),
            )
            .where(
                c.contract_id.in_({str(contract_id) for contract_id, _ in wanted}),
                c.cycle_index.in_({index for _, index in wanted}),
            )
            .group_by(c.contract_id, c.cycle_index)
        )
        sums = {
            (UUID(contract_id), index): (int(minutes), int(requests))
            for contract_id, index, minutes, requests in rows
        }
        return {key: sums.get(key, (0, 0)) for key in wanted}

    async def entries_between(
        self, contract_id: UUID, starts_at: datetime, ends_at: datetime
    ) -> list[UsageEntry]:
        c = tables.usage_entries.c
        rows = await self._session.execute(
            select(
                c.entry_id,
                c.request_id,
                c.started_at,
                c.minutes,
                c.billable,
                c.include_non_operational,
                c.other_charges,
                c.currency,
            ).where(c.contract_id == str(contract_id), c.started_at >= starts_at, c.started_at < ends_at)
        )
        return [
            UsageEntry(
                entry_id=row.entry_id,
                request_id=row.request_id,
                started_at=as_utc(row.started_at),
                minutes=row.minutes,
                include_non_operational=row.include_non_operational,
                billable=row.billable,
                other_charges=Money.of(row.other_charges, row.currency)
                if row.other_charges is not None
                else None,
            )
            for row in rows
        ]

    async def mark_billed(self, entry_ids: Sequence[str], bill_id: UUID) -> None:
        c = tables.usage_entries.c
        for start in range(0, len(entry_ids), 5000):
            await self._session.execute(
                update(tables.usage_entries)
                .where(c.entry_id.in_(entry_ids[start : start + 5000]))
                .values(billed_by=str(bill_id))
            )

    async def cycle_usage(self, keys: Iterable[tuple[UUID, int]]) -> dict[tuple[UUID, int], dict[str, Any]]:
        wanted = {(str(contract_id), index) for contract_id, index in keys}
        if not wanted:
            return {}
        c = tables.cycle_usage.c
        rows = await self._session.execute(
            select(tables.cycle_usage).where(
                c.contract_id.in_({contract for contract, _ in wanted}),
                c.cycle_index.in_({index for _, index in wanted}),
            )
        )
        return {
            (UUID(row["contract_id"]), row["cycle_index"]): dict(row)
            for row in rows.mappings()
            if (row["contract_id"], row["cycle_index"]) in wanted
        }

    async def save_cycle_usage(self, rows: Sequence[dict[str, Any]]) -> None:
        await upsert(self._session, tables.cycle_usage, rows, key=["contract_id", "cycle_index"])


@dataclass(frozen=True, slots=True)
class PlacedEntry:
    """A time entry with the cycle it starts in and the minutes that draw on the allowance."""

    entry: TimeEntryState
    cycle_index: int | None
    counted_minutes: int


def _usage_row(placed: PlacedEntry) -> dict[str, Any]:
    entry = placed.entry
    return {
        "cycle_index": placed.cycle_index,
        "counted_minutes": placed.counted_minutes,
        "entry_id": str(entry.entry_id),
        "contract_id": str(entry.contract_id) if entry.contract_id else None,
        "account_id": entry.account_id,
        "request_id": entry.request_id,
        "started_at": as_utc(entry.started_at),
        "minutes": entry.minutes,
        "billable": entry.billable,
        "include_non_operational": entry.include_non_operational,
        "other_charges": entry.other_charges.amount if entry.other_charges else None,
        "currency": entry.other_charges.currency if entry.other_charges else None,
        "version": entry.version,
    }


@dataclass(frozen=True)
class BillFilter:
    account_id: str | None = None
    contract_id: UUID | None = None
    period: str | None = None
    status: BillStatus | None = None
    main_only: bool = False


class BillBook:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, bill: BillState, *, whole_period: bool) -> None:
        await self._session.execute(insert(tables.bills).values(**_bill_row(bill), whole_period=whole_period))

    async def partial_main(self, contract_id: UUID, period: str) -> BillState | None:
        """The period's main bill if it was made before the period ended and is not sent or paid yet."""
        c = tables.bills.c
        document = await self._session.scalar(
            select(c.document).where(
                c.contract_id == str(contract_id),
                c.period == period,
                c.is_main.is_(True),
                c.whole_period.is_(False),
                c.status == BillStatus.ISSUED.value,
            )
        )
        return None if document is None else BillState.model_validate(document)

    async def demote(self, bill: BillState) -> None:
        demoted = bill.model_copy(update={"is_main": False})
        await self._session.execute(
            update(tables.bills)
            .where(tables.bills.c.bill_id == str(bill.bill_id))
            .values(is_main=False, document=demoted.model_dump(mode="json"))
        )

    async def get(self, bill_id: UUID) -> BillState | None:
        document = await self._session.scalar(
            select(tables.bills.c.document).where(tables.bills.c.bill_id == str(bill_id))
        )
        return None if document is None else BillState.model_validate(document)

    async def versions(self, contract_id: UUID, period: str) -> list[BillState]:
        c = tables.bills.c
        rows = await self._session.scalars(
            select(c.document)
            .where(c.contract_id == str(contract_id), c.period == period)
            .order_by(c.version)
        )
        return [BillState.model_validate(row) for row in rows]

    async def periods_billed(self, contract_ids: Sequence[UUID]) -> dict[UUID, set[str]]:
        """Per contract, the periods that have a bill for the whole period."""
        c = tables.bills.c
        found: dict[UUID, set[str]] = {contract_id: set() for contract_id in contract_ids}
        if contract_ids:
            rows = await self._session.execute(
                select(c.contract_id, c.period)
                .where(
                    c.contract_id.in_([str(contract_id) for contract_id in contract_ids]),
                    c.whole_period.is_(True),
                )
                .distinct()
            )
            for contract_id, period in rows:
                found[UUID(contract_id)].add(period)
        return found

    async def search(self, where: BillFilter, *, limit: int, offset: int) -> tuple[list[BillState], int]:
        c = tables.bills.c
        conditions: list[Any] = []
        if where.account_id is not None:
            conditions.append(c.account_id == where.account_id)
        if where.contract_id is not None:
            conditions.append(c.contract_id == str(where.contract_id))
        if where.period is not None:
            conditions.append(c.period == where.period)
        if where.status is not None:
            conditions.append(c.status == where.status.value)
        if where.main_only:
            conditions.append(c.is_main.is_(True))
        total = await self._session.scalar(select(func.count()).select_from(tables.bills).where(*conditions))
        rows = await self._session.scalars(
            select(c.document)
            .where(*conditions)
            .order_by(c.bill_date, c.bill_number)
            .limit(limit)
            .offset(offset)
        )
        return [BillState.model_validate(row) for row in rows], int(total or 0)


def _bill_row(bill: BillState) -> dict[str, Any]:
    return {
        "bill_id": str(bill.bill_id),
        "bill_number": bill.bill_number,
        "version": bill.version,
        "contract_id": str(bill.contract_id),
        "account_id": bill.account_id,
        "period": bill.period,
        "bill_date": bill.bill_date,
        "status": bill.status.value,
        "is_main": bill.is_main,
        "total": bill.total.amount,
        "currency": bill.currency,
        "document": bill.model_dump(mode="json"),
    }
