"""Repositories of the billing service: bulk writes for usage, one query per lookup."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy import bindparam, case, delete, func, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from billing.adapters import tables, wire
from billing.domain.allowance import CycleStanding
from billing.domain.bill_versions import Bill, BillMade, BillStatus, PeriodBills
from billing.domain.contract import BillingContract
from billing.domain.usage import LoggedEntry, PlacedEntry, UsageEntry
from contracts_schema.billing import BillState
from contracts_schema.contracts import BusinessCalendar as CalendarDocument
from contracts_schema.contracts import ContractState
from servicekit.auth import AccountScope
from servicekit.business_hours import BusinessCalendar
from servicekit.money import Money
from servicekit.sql import (
    BulkInsert,
    as_utc,
    id_text,
    insert_on_conflict,
    instant_as_stored,
    is_postgresql,
    one_of,
    stored_id,
    stored_instant,
    upsert,
)

# pg_advisory_xact_lock key space is the database's; servicekit's relay and migration locks use others.
_PLACEMENT_LOCK_KEY = 7_303_001
_IN_CHUNK = 5000
"""Values per IN list: well below what either database takes in one statement."""


class ContractCopies:
    """Billing's own copy of contract terms, calendars and top-ups, built from contract events.

    Copies are stored as the contract events' state documents and read back as the domain's.
    """

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        # What a bill run read for a whole batch of contracts at once, for the rest of its transaction.
        self._copies: dict[UUID, BillingContract] = {}
        self._calendars: dict[UUID, BusinessCalendar] = {}
        self._top_ups: dict[UUID, list[tuple[int, Money, datetime]]] = {}
        self._locked: set[UUID] = set()

    async def get(self, contract_id: UUID) -> BillingContract | None:
        if contract_id in self._copies:
            return self._copies[contract_id]
        return (await self.many([contract_id])).get(contract_id)

    async def prefetch_for_billing(self, copies: Mapping[UUID, BillingContract], *, locked: bool) -> None:
        """Keep, for the rest of the transaction, the copies (`locked`: this transaction claimed their
        rows), their calendars and their top-ups, read in one query each: a bill run reads them for
        every contract of its batch. Making bills changes none of them."""
        self._copies.update(copies)
        if locked:
            self._locked.update(copies)
        self._calendars.update(await self.calendars({copy.calendar_id for copy in copies.values()}))
        t = tables.top_ups.c
        found: dict[UUID, list[tuple[int, Money, datetime]]] = {contract_id: [] for contract_id in copies}
        for start in range(0, len(found), _IN_CHUNK):
            ids = [str(contract_id) for contract_id in list(found)[start : start + _IN_CHUNK]]
            rows = await self._session.execute(
                select(t.contract_id, t.units, t.price, t.currency, t.bought_at)
                .where(t.contract_id.in_(ids))
                .order_by(t.bought_at)
            )
            for contract_id, units, price, currency, bought_at in rows:
                found[UUID(contract_id)].append((units, Money.of(price, currency), as_utc(bought_at)))
        self._top_ups.update(found)

    async def many(self, contract_ids: Iterable[UUID]) -> dict[UUID, BillingContract]:
        ids = [str(contract_id) for contract_id in set(contract_ids)]
        if not ids:
            return {}
        rows = await self._session.scalars(
            select(tables.contracts.c.state).where(tables.contracts.c.contract_id.in_(ids))
        )
        copies = [wire.billing_contract(ContractState.model_validate(row)) for row in rows]
        return {copy.contract_id: copy for copy in copies}

    async def lock_for_accrual(self, contract_ids: Iterable[UUID]) -> None:
        """Hold the copies shared until the transaction ends (in id order, as bill runs lock them)."""
        ids = sorted(str(contract_id) for contract_id in set(contract_ids))
        if ids and is_postgresql(self._session):
            c = tables.contracts.c
            await self._session.execute(
                select(c.contract_id)
                .where(c.contract_id.in_(ids))
                .order_by(c.contract_id)
                .with_for_update(read=True)
            )

    async def lock_for_billing(self, contract_id: UUID) -> None:
        """Hold the copy alone until the transaction ends: no batch of its entries meanwhile."""
        if contract_id not in self._locked and is_postgresql(self._session):
            c = tables.contracts.c
            await self._session.execute(
                select(c.contract_id).where(c.contract_id == str(contract_id)).with_for_update()
            )

    async def versions(self, contract_ids: Iterable[UUID]) -> dict[UUID, int]:
        """The version of each copy kept, without reading the copies."""
        c = tables.contracts.c
        ids = {id_text(contract_id) for contract_id in contract_ids}
        if not ids:
            return {}
        rows = await self._session.execute(
            select(c.contract_id, c.version).where(one_of(self._session, c.contract_id, ids))
        )
        return {stored_id(contract_id): version for contract_id, version in rows}

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
                    "calendar_id": str(state.terms.calendar_id),
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
        """When its next bill falls due; a parked contract is taken up again."""
        await self.schedule_next_bills({contract_id: due_at})

    async def schedule_next_bills(self, due: Mapping[UUID, datetime | None]) -> None:
        """`schedule_next_bill` for many contracts, in one statement."""
        if not due:
            return
        c = tables.contracts.c
        await self._session.execute(
            update(tables.contracts)
            .where(c.contract_id == bindparam("scheduled_id"))
            .values(next_bill_due_at=bindparam("scheduled_at"), parked_at=None, parked_reason=None),
            [{"scheduled_id": str(contract_id), "scheduled_at": at} for contract_id, at in due.items()],
        )

    async def park(self, contract_id: UUID, at: datetime, reason: str) -> None:
        """No more bill runs for the contract until it changes or an operator takes it up again."""
        await self._session.execute(
            update(tables.contracts)
            .where(tables.contracts.c.contract_id == str(contract_id))
            .values(next_bill_due_at=None, parked_at=as_utc(at), parked_reason=reason[:2000])
        )

    async def due_for_billing(self, now: datetime, limit: int) -> list[UUID]:
        """Contracts with a bill due; on PostgreSQL each is claimed, so replicas bill each once."""
        c = tables.contracts.c
        query = (
            select(c.contract_id).where(c.next_bill_due_at <= now).order_by(c.next_bill_due_at).limit(limit)
        )
        if is_postgresql(self._session):
            query = query.with_for_update(skip_locked=True)
        return [UUID(contract_id) for contract_id in await self._session.scalars(query)]

    async def count_due_for_billing(self, now: datetime) -> int:
        c = tables.contracts.c
        return int(await self._session.scalar(select(func.count()).where(c.next_bill_due_at <= now)) or 0)

    async def review_on_calendar_change(self, calendar_ids: Iterable[UUID]) -> None:
        """Contracts on these calendars: to be reviewed by the scheduler."""
        ids = [str(calendar_id) for calendar_id in set(calendar_ids)]
        if ids:
            await self._session.execute(
                update(tables.contracts)
                .where(tables.contracts.c.calendar_id.in_(ids))
                .values(review_pending=True)
            )

    async def due_for_review(self, limit: int) -> list[UUID]:
        """Contracts to review; on PostgreSQL each is claimed, so replicas review each once."""
        c = tables.contracts.c
        query = select(c.contract_id).where(c.review_pending.is_(True)).order_by(c.contract_id).limit(limit)
        if is_postgresql(self._session):
            query = query.with_for_update(skip_locked=True)
        return [UUID(contract_id) for contract_id in await self._session.scalars(query)]

    async def reviewed(self, contract_id: UUID) -> None:
        await self._session.execute(
            update(tables.contracts)
            .where(tables.contracts.c.contract_id == str(contract_id))
            .values(review_pending=False)
        )

    async def calendars(self, calendar_ids: Iterable[UUID]) -> dict[UUID, BusinessCalendar]:
        wanted = set(calendar_ids)
        if wanted <= self._calendars.keys():
            return {calendar_id: self._calendars[calendar_id] for calendar_id in wanted}
        if not wanted:
            return {}
        rows = await self._session.scalars(
            select(tables.calendars.c.document).where(
                one_of(self._session, tables.calendars.c.calendar_id, map(id_text, wanted))
            )
        )
        documents = [CalendarDocument.model_validate(row) for row in rows]
        return {document.calendar_id: wire.business_calendar(document) for document in documents}

    async def keep_calendars(self, calendars: Sequence[CalendarDocument]) -> set[UUID]:
        """Keep the calendars as they now stand; returns those that existed and changed."""
        documents = {calendar.calendar_id: calendar.model_dump(mode="json") for calendar in calendars}
        c = tables.calendars.c
        stored = await self._session.execute(
            select(c.calendar_id, c.document).where(c.calendar_id.in_([str(key) for key in documents]))
        )
        changed = {UUID(key) for key, document in stored if document != documents[UUID(key)]}
        await upsert(
            self._session,
            tables.calendars,
            [{"calendar_id": str(key), "document": document} for key, document in documents.items()],
            key=["calendar_id"],
        )
        return changed

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
                    one_of(self._session, t.contract_id, map(id_text, found))
                )
            )
            for contract_id, units, bought_at in rows:
                found[stored_id(contract_id)].append((units, as_utc(bought_at)))
        return found

    async def top_ups(self, contract_id: UUID) -> list[tuple[int, Money, datetime]]:
        if contract_id in self._top_ups:
            return self._top_ups[contract_id]
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


_USAGE_COLUMNS = (
    tables.usage_entries.c.entry_id,
    tables.usage_entries.c.request_id,
    instant_as_stored(tables.usage_entries.c.started_at),
    tables.usage_entries.c.minutes,
    tables.usage_entries.c.billable,
    tables.usage_entries.c.include_non_operational,
    tables.usage_entries.c.other_charges,
    tables.usage_entries.c.currency,
    tables.usage_entries.c.product,
    tables.usage_entries.c.work_log_type,
    tables.usage_entries.c.rate_type,
    tables.usage_entries.c.custom_fields,
)


def _usage_entry(row: Sequence[Any]) -> UsageEntry:
    """The entry of a row that starts with `_USAGE_COLUMNS`. Read by position: a bill run reads twenty
    rows a bill, and a Row's attribute lookup by name costs more than the entry itself."""
    (
        entry_id,
        request_id,
        started_at,
        minutes,
        billable,
        include_non_operational,
        other_charges,
        currency,
        product,
        work_log_type,
        rate_type,
        custom_fields,
    ) = row[: len(_USAGE_COLUMNS)]
    return UsageEntry.stored(
        entry_id,
        request_id,
        stored_instant(started_at),
        minutes,
        include_non_operational,
        billable,
        Money.of(other_charges, currency) if other_charges is not None else None,
        wire.entry_traits(product, work_log_type, rate_type, custom_fields or {}),
    )


class UsageLedger:
    """Billable time as billing sees it, and where each cycle stands against its allowance."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._prefetched: dict[str, tuple[datetime, datetime, list[UsageEntry]]] = {}

    async def prefetch_entries(self, spans: Mapping[UUID, tuple[datetime, datetime]]) -> None:
        """Keep, for the rest of the transaction, each contract's entries started in its span, read in
        one query for all: `entries_between` within a span is then answered from them. For a bill run,
        which changes no entry."""
        if not spans:
            return
        c = tables.usage_entries.c
        since, until = min(s for s, _ in spans.values()), max(u for _, u in spans.values())
        kept: dict[str, tuple[datetime, datetime, list[UsageEntry]]] = {
            str(contract_id): (s, u, []) for contract_id, (s, u) in spans.items()
        }
        ids = list(kept)
        for start in range(0, len(ids), _IN_CHUNK):
            rows = await self._session.execute(
                select(*_USAGE_COLUMNS, c.contract_id).where(
                    c.contract_id.in_(ids[start : start + _IN_CHUNK]),
                    c.started_at >= since,
                    c.started_at < until,
                )
            )
            for row in rows:
                entry = _usage_entry(row)
                s, u, entries = kept[row[-1]]
                if s <= entry.started_at < u:
                    entries.append(entry)
        self._prefetched.update(kept)

    async def record(self, entries: Sequence[PlacedEntry]) -> None:
        """Insert or update entries in bulk; a late older version of an entry changes nothing."""
        await _RECORD_ENTRIES.execute(self._session, [_usage_row(placed) for placed in entries])

    async def contracts_with_unplaced_entries(self) -> set[UUID]:
        c = tables.usage_entries.c
        rows = await self._session.scalars(
            select(c.contract_id).where(c.contract_id.is_not(None), c.cycle_index.is_(None)).distinct()
        )
        return {UUID(contract_id) for contract_id in rows}

    async def lock_placement(self, *, shared: bool) -> None:
        """Until the transaction ends: shared by batches of entries, exclusive for copies of contracts
        and calendars, so an entry and the copy it is placed by never commit unseen by each other.
        SQLite already has one writer at a time."""
        if is_postgresql(self._session):
            function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
            await self._session.execute(text(f"SELECT {function}(:key)"), {"key": _PLACEMENT_LOCK_KEY})

    async def entries_of(self, contract_ids: Iterable[UUID], *, unplaced_only: bool) -> list[LoggedEntry]:
        """The contracts' entries, or only those recorded before their contract (or its calendar) was
        known and so not placed in a cycle yet."""
        c = tables.usage_entries.c
        ids = [str(contract_id) for contract_id in contract_ids]
        if not ids:
            return []
        query = select(*_USAGE_COLUMNS, c.contract_id, c.account_id, c.version).where(c.contract_id.in_(ids))
        if unplaced_only:
            query = query.where(c.cycle_index.is_(None))
        rows = await self._session.execute(query)
        return [
            LoggedEntry(_usage_entry(row), stored_id(row.contract_id), row.account_id, row.version)
            for row in rows
        ]

    async def entries(self, entry_ids: Sequence[str]) -> list[UsageEntry]:
        c = tables.usage_entries.c
        found: list[UsageEntry] = []
        for start in range(0, len(entry_ids), _IN_CHUNK):
            rows = await self._session.execute(
                select(*_USAGE_COLUMNS).where(c.entry_id.in_(entry_ids[start : start + _IN_CHUNK]))
            )
            found += [_usage_entry(row) for row in rows]
        return found

    async def placements(self, entry_ids: Sequence[str]) -> dict[str, tuple[UUID, int]]:
        """Where entries were placed before: their contract and cycle, for those placed in one."""
        c = tables.usage_entries.c
        found: dict[str, tuple[UUID, int]] = {}
        for start in range(0, len(entry_ids), _IN_CHUNK):
            rows = await self._session.execute(
                select(c.entry_id, c.contract_id, c.cycle_index).where(
                    c.entry_id.in_(entry_ids[start : start + _IN_CHUNK]),
                    c.contract_id.is_not(None),
                    c.cycle_index.is_not(None),
                )
            )
            found.update({entry_id: (stored_id(contract_id), cycle) for entry_id, contract_id, cycle in rows})
        return found

    async def place(self, placed: Sequence[PlacedEntry]) -> None:
        """Set the cycle and counted minutes of entries recorded before their contract."""
        if not placed:
            return
        c = tables.usage_entries.c
        await self._session.execute(
            update(tables.usage_entries)
            .where(c.entry_id == bindparam("placed_id"))
            .values(
                cycle_index=bindparam("placed_cycle"),
                counted_minutes=bindparam("placed_minutes"),
                by_rule=bindparam("placed_by_rule"),
            ),
            [
                {
                    "placed_id": p.entry.usage.entry_id,
                    "placed_cycle": p.cycle_index,
                    "placed_minutes": p.counted_minutes,
                    "placed_by_rule": p.by_rule,
                }
                for p in placed
            ],
        )

    async def cycle_use(
        self, cycles: Iterable[tuple[UUID, int]], *, in_requests: Iterable[tuple[UUID, int]] = ()
    ) -> dict[tuple[UUID, int], int]:
        """Per (contract, cycle): the billable minutes that draw on the allowance or, for the cycles
        `in_requests`, the distinct requests of the billable entries no bill rule prices (the bill's
        own count). Both are read from one covering index; only the second needs SQLite's temporary
        B-tree for the distinct count, so it is asked for only where the plan counts requests."""
        by_requests = set(in_requests)
        by_minutes = set(cycles) - by_requests
        c = tables.usage_entries.c
        use: dict[tuple[UUID, int], int] = dict.fromkeys(by_minutes | by_requests, 0)
        for wanted, counted in (
            (by_minutes, func.sum(case((c.billable, c.counted_minutes), else_=0))),
            (by_requests, func.count(func.distinct(case((c.billable & ~c.by_rule, c.request_id))))),
        ):
            if not wanted:
                continue
            rows = await self._session.execute(
                select(c.contract_id, c.cycle_index, counted)
                .where(
                    one_of(self._session, c.contract_id, {id_text(contract_id) for contract_id, _ in wanted}),
                    one_of(self._session, c.cycle_index, {index for _, index in wanted}),
                )
                .group_by(c.contract_id, c.cycle_index)
            )
            for contract_id, index, units in rows:
                key = (stored_id(contract_id), index)
                if key in wanted:
                    use[key] = int(units or 0)
        return use

    async def entries_between(
        self, contract_id: UUID, starts_at: datetime, ends_at: datetime
    ) -> list[UsageEntry]:
        kept = self._prefetched.get(str(contract_id))
        if kept is not None and kept[0] <= starts_at and ends_at <= kept[1]:
            return [entry for entry in kept[2] if starts_at <= entry.started_at < ends_at]
        c = tables.usage_entries.c
        rows = await self._session.execute(
            select(*_USAGE_COLUMNS).where(
                c.contract_id == str(contract_id), c.started_at >= starts_at, c.started_at < ends_at
            )
        )
        return [_usage_entry(row) for row in rows]

    async def standings(self, keys: Iterable[tuple[UUID, int]]) -> dict[tuple[UUID, int], CycleStanding]:
        wanted = {(id_text(contract_id), index) for contract_id, index in keys}
        if not wanted:
            return {}
        c = tables.cycle_usage.c
        rows = await self._session.execute(
            select(tables.cycle_usage).where(
                one_of(self._session, c.contract_id, {contract for contract, _ in wanted}),
                one_of(self._session, c.cycle_index, {index for _, index in wanted}),
            )
        )
        return {
            (stored_id(row.contract_id), row.cycle_index): CycleStanding(
                used=row.used,
                allowance=row.allowance,
                carried_in=row.carried_in,
                level_announced=row.percent_announced,
                exhausted_announced=row.exhausted_announced,
            )
            for row in rows
            if (row.contract_id, row.cycle_index) in wanted
        }

    async def save_standings(self, standings: Mapping[tuple[UUID, int], CycleStanding]) -> None:
        await upsert(
            self._session,
            tables.cycle_usage,
            [
                {
                    "contract_id": id_text(contract_id),
                    "cycle_index": index,
                    "used": standing.used,
                    "allowance": standing.allowance,
                    "carried_in": standing.carried_in,
                    "percent_announced": standing.level_announced,
                    "exhausted_announced": standing.exhausted_announced,
                }
                for (contract_id, index), standing in standings.items()
            ],
            key=["contract_id", "cycle_index"],
        )


_RECORD_ENTRIES = BulkInsert(
    tables.usage_entries,
    [
        "entry_id",
        "contract_id",
        "account_id",
        "request_id",
        "started_at",
        "minutes",
        "billable",
        "include_non_operational",
        "other_charges",
        "currency",
        "version",
        "cycle_index",
        "counted_minutes",
        "by_rule",
        "product",
        "work_log_type",
        "rate_type",
        "custom_fields",
    ],
    replacing=["entry_id"],
    newer_by="version",
)


def _usage_row(placed: PlacedEntry) -> tuple[Any, ...]:
    """An entry's row, in the order of `_RECORD_ENTRIES`' columns."""
    entry, usage = placed.entry, placed.entry.usage
    charges, traits = usage.other_charges, usage.traits
    return (
        usage.entry_id,
        id_text(entry.contract_id) if entry.contract_id else None,
        entry.account_id,
        usage.request_id,
        as_utc(usage.started_at),
        usage.minutes,
        usage.billable,
        usage.include_non_operational,
        charges.amount if charges else None,
        charges.currency if charges else None,
        entry.version,
        placed.cycle_index,
        placed.counted_minutes,
        placed.by_rule,
        traits.product,
        traits.work_log_type,
        traits.rate_type,
        dict(traits.custom_fields) or None,
    )


@dataclass(frozen=True)
class BillFilter:
    account_id: str | None = None
    contract_id: UUID | None = None
    period: str | None = None
    status: BillStatus | None = None
    main_only: bool = False
    needs_regeneration: bool | None = None
    scope: AccountScope = None
    """The accounts the caller may see; None: every account."""

    def conditions(self) -> list[Any]:
        c = tables.bills.c
        found: list[Any] = [] if self.scope is None else [c.account_id.in_(sorted(self.scope))]
        if self.account_id is not None:
            found.append(c.account_id == self.account_id)
        if self.contract_id is not None:
            found.append(c.contract_id == str(self.contract_id))
        if self.period is not None:
            found.append(c.period == self.period)
        if self.status is not None:
            found.append(c.status == self.status.value)
        if self.main_only:
            found.append(c.is_main.is_(True))
        if self.needs_regeneration is not None:
            found.append(c.needs_regeneration.is_(self.needs_regeneration))
        return found


@dataclass(frozen=True)
class BillTotals:
    """What the main bills of an account came to in one currency."""

    account_id: str
    currency: str
    bills: int
    subtotal: Money
    discount: Money
    tax: Money
    total: Money


_BILL_COLUMNS = (tables.bills.c.document, tables.bills.c.whole_period)
_COUNTING = (BillStatus.ISSUED.value, BillStatus.SENT.value, BillStatus.PAID.value)


def _bill(row: Any) -> Bill:
    return wire.bill(BillState.model_validate(row.document), whole_period=row.whole_period)


class BillBook:
    """Bills as made, stored as their wire documents beside the columns they are looked up by."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._prefetched: dict[tuple[UUID, str], PeriodBills] = {}
        self._held: list[tuple[Any, ...]] | None = None

    @asynccontextmanager
    async def inserted_together(self) -> AsyncIterator[None]:
        """New bills saved inside the block are inserted together when it ends, in one statement
        (every read of bills inserts them first); none of them if the block fails."""
        self._held = []
        try:
            yield
            await self._insert_held()
        finally:
            self._held = None

    async def _insert_held(self) -> None:
        if self._held:
            rows, self._held[:] = list(self._held), []
            await _INSERT_BILLS.execute(self._session, rows)

    async def prefetch_periods(self, periods: Iterable[tuple[UUID, str]]) -> None:
        """Read (and lock) the bills of many contract periods in one query; the next `period(...,
        lock=True)` of each is answered from them, once: a bill run makes a bill for each."""
        found: dict[tuple[UUID, str], list[Bill]] = {key: [] for key in periods}
        if not found:
            return
        c = tables.bills.c
        # The pairs themselves, not contracts x periods: other periods' bills are not read, nor locked.
        pairs = sorted((str(contract_id), period) for contract_id, period in found)
        for start in range(0, len(pairs), _IN_CHUNK):
            query = select(*_BILL_COLUMNS, c.contract_id, c.period).where(
                tuple_(c.contract_id, c.period).in_(pairs[start : start + _IN_CHUNK])
            )
            if is_postgresql(self._session):
                query = query.with_for_update()
            for row in await self._session.execute(query.order_by(c.contract_id, c.period, c.version)):
                key = (UUID(row.contract_id), row.period)
                if key in found:
                    found[key].append(_bill(row))
        for (contract_id, period), versions in found.items():
            self._prefetched[(contract_id, period)] = PeriodBills(contract_id, period, versions)

    def forget_prefetched(self) -> None:
        """Drop what `prefetch_periods` read: after a failed savepoint its row locks may be gone."""
        self._prefetched.clear()

    async def period(self, contract_id: UUID, period: str, *, lock: bool) -> PeriodBills:
        """Every version of a contract period's bill; `lock` holds them until the transaction ends, so
        changes of one period (a mark-main on two replicas) apply one after the other."""
        prefetched = self._prefetched.pop((contract_id, period), None)
        if prefetched is not None and lock:
            return prefetched  # read before any bill held back was made: none of them is of this period
        await self._insert_held()
        c = tables.bills.c
        query = select(*_BILL_COLUMNS).where(c.contract_id == str(contract_id), c.period == period)
        if lock and is_postgresql(self._session):
            query = query.with_for_update()
        rows = await self._session.execute(query.order_by(c.version))
        return PeriodBills(contract_id, period, [_bill(row) for row in rows])

    async def where_is(self, bill_id: UUID, scope: AccountScope = None) -> tuple[UUID, str] | None:
        """The contract and period a bill belongs to; nothing for a bill of an account out of scope."""
        await self._insert_held()
        c = tables.bills.c
        query = select(c.contract_id, c.period).where(c.bill_id == str(bill_id))
        if scope is not None:
            query = query.where(c.account_id.in_(sorted(scope)))
        row = (await self._session.execute(query)).first()
        return None if row is None else (UUID(row.contract_id), row.period)

    async def save(self, bills: PeriodBills, documents: Mapping[UUID, bytes]) -> None:
        """Insert the versions just made, update the others that changed; `documents` holds the JSON
        document of each changed bill (`PeriodBills.changed_bills`)."""
        made = {event.bill.bill_id for event in bills.events if isinstance(event, BillMade)}
        for bill in bills.changed_bills():
            row = _bill_row(bill, documents[bill.bill_id])
            if bill.bill_id in made:
                if self._held is not None:
                    self._held.append(row)
                else:
                    await _INSERT_BILLS.execute(self._session, [row])
            else:
                changes = dict(zip(_INSERT_BILLS.columns[1:], row[1:], strict=True))
                changes["document"] = orjson.loads(row[-1])
                await self._session.execute(
                    update(tables.bills).where(tables.bills.c.bill_id == row[0]).values(**changes)
                )

    async def get(self, bill_id: UUID, scope: AccountScope = None) -> Bill | None:
        await self._insert_held()
        c = tables.bills.c
        query = select(*_BILL_COLUMNS).where(c.bill_id == str(bill_id))
        if scope is not None:
            query = query.where(c.account_id.in_(sorted(scope)))
        row = (await self._session.execute(query)).first()
        return None if row is None else _bill(row)

    async def billed_periods(self, periods: Iterable[tuple[UUID, str]]) -> set[tuple[UUID, str]]:
        """Which of these contract periods have a bill of any version."""
        await self._insert_held()
        wanted = {(id_text(contract_id), period) for contract_id, period in periods}
        if not wanted:
            return set()
        c = tables.bills.c
        rows = await self._session.execute(
            select(c.contract_id, c.period)
            .where(
                one_of(self._session, c.contract_id, {contract for contract, _ in wanted}),
                one_of(self._session, c.period, {p for _, p in wanted}),
            )
            .distinct()
        )
        return {(stored_id(contract), period) for contract, period in rows if (contract, period) in wanted}

    async def periods_with_bills(self, contract_id: UUID) -> set[str]:
        await self._insert_held()
        c = tables.bills.c
        rows = await self._session.scalars(
            select(c.period).where(c.contract_id == str(contract_id)).distinct()
        )
        return set(rows)

    async def periods_billed(self, contract_ids: Sequence[UUID]) -> dict[UUID, set[str]]:
        """Per contract, the periods that have a bill for the whole period."""
        await self._insert_held()
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

    async def drafts_due(self, now: datetime, limit: int) -> list[UUID]:
        """Drafts whose grace period has ended. Not claimed here: issuing takes the period's lock first,
        as every writer of a period does, and a replica that comes second finds the draft issued."""
        await self._insert_held()
        c = tables.bills.c
        query = (
            select(c.bill_id)
            .where(c.status == BillStatus.DRAFT.value, c.grace_ends_at <= now)
            .order_by(c.grace_ends_at)
            .limit(limit)
        )
        return [UUID(bill_id) for bill_id in await self._session.scalars(query)]

    async def keep_draft(self, bill_id: UUID) -> None:
        """A draft that could not be issued stays one, out of the scheduler's way, until issued by hand."""
        await self._session.execute(
            update(tables.bills).where(tables.bills.c.bill_id == str(bill_id)).values(grace_ends_at=None)
        )

    async def search(self, where: BillFilter, *, limit: int, offset: int) -> tuple[list[Bill], int]:
        await self._insert_held()
        c = tables.bills.c
        conditions = where.conditions()
        total = await self._session.scalar(select(func.count()).select_from(tables.bills).where(*conditions))
        rows = await self._session.execute(
            select(*_BILL_COLUMNS)
            .where(*conditions)
            .order_by(c.bill_date, c.bill_number)
            .limit(limit)
            .offset(offset)
        )
        return [_bill(row) for row in rows], int(total or 0)

    async def totals(
        self, where: BillFilter, *, dated_from: date | None, dated_until: date | None
    ) -> list[BillTotals]:
        """Per account and currency, what the main bills that count came to (issued, sent or paid)."""
        await self._insert_held()
        c = tables.bills.c
        conditions = [*where.conditions(), c.is_main.is_(True), c.status.in_(_COUNTING)]
        if dated_from is not None:
            conditions.append(c.bill_date >= dated_from)
        if dated_until is not None:
            conditions.append(c.bill_date <= dated_until)
        rows = await self._session.execute(
            select(c.account_id, c.currency, c.document).where(*conditions).order_by(c.account_id, c.currency)
        )
        # Summed here, in Decimal per currency, from the documents' exact amounts.
        sums: dict[tuple[str, str], list[Money]] = {}
        counts: dict[tuple[str, str], int] = {}
        for account_id, currency, document in rows:
            state = BillState.model_validate(document)
            parts = [
                wire.money(state.subtotal),
                wire.money(state.discount),
                wire.money(state.tax),
                wire.money(state.total),
            ]
            key = (account_id, currency)
            sums[key] = [a + b for a, b in zip(sums[key], parts, strict=True)] if key in sums else parts
            counts[key] = counts.get(key, 0) + 1
        return [
            BillTotals(account_id, currency, counts[(account_id, currency)], *sums[(account_id, currency)])
            for account_id, currency in sums
        ]


_INSERT_BILLS = BulkInsert(
    tables.bills,
    [
        "bill_id",
        "bill_number",
        "version",
        "contract_id",
        "account_id",
        "period",
        "bill_date",
        "status",
        "is_main",
        "needs_regeneration",
        "grace_ends_at",
        "whole_period",
        "total",
        "currency",
        "document",
    ],
    encoded=["document"],
)


def _bill_row(bill: Bill, document: bytes) -> tuple[Any, ...]:
    """A bill's row, in the order of `_INSERT_BILLS`' columns, its document last."""
    return (
        str(bill.bill_id),
        bill.number,
        bill.version,
        str(bill.contract_id),
        bill.account_id,
        bill.period,
        bill.bill_date,
        bill.status.value,
        bill.is_main,
        bill.needs_regeneration,
        bill.grace_ends_at,
        bill.whole_period,
        bill.total.amount,
        bill.currency,
        document.decode(),
    )
