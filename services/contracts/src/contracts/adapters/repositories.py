"""Repositories: aggregates in and out of the tables, one query per operation.

Each aggregate is stored as the document of its wire form (through `wire`), beside the columns that
queries filter on.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Row, Select, delete, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.adapters import tables, wire
from contracts.domain.calendars import BusinessCalendar
from contracts.domain.contracts import Contract, ContractActivity, ContractStatus, NoticeKind, TopUp
from contracts.domain.coverage import Exhaustion
from contracts.domain.plans import SupportPlan, TopUpPlan
from servicekit.auth import AccountScope
from servicekit.sql import as_utc, insert_on_conflict

# Advisory-lock key space of account sign-ups (servicekit's relay and migration locks use other keys).
_ACCOUNT_LOCK_SPACE = 7_302


class CalendarRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, calendar_id: UUID) -> BusinessCalendar | None:
        document = await self._session.scalar(
            select(tables.calendars.c.document).where(tables.calendars.c.calendar_id == str(calendar_id))
        )
        return None if document is None else wire.calendar_of_document(document)

    async def save(self, calendar: BusinessCalendar, *, new: bool) -> None:
        values = {"document": wire.calendar_document(calendar)}
        if new:
            await self._session.execute(
                tables.calendars.insert().values(calendar_id=str(calendar.calendar_id), **values)
            )
        else:
            await self._session.execute(
                update(tables.calendars)
                .where(tables.calendars.c.calendar_id == str(calendar.calendar_id))
                .values(**values)
            )

    async def list(self) -> list[BusinessCalendar]:
        rows = await self._session.scalars(select(tables.calendars.c.document))
        return [wire.calendar_of_document(document) for document in rows]


class PlanRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, plan_id: UUID) -> SupportPlan | None:
        document = await self._session.scalar(
            select(tables.support_plans.c.document).where(tables.support_plans.c.plan_id == str(plan_id))
        )
        return None if document is None else wire.plan_of_document(document)

    async def default(self) -> SupportPlan | None:
        document = await self._session.scalar(
            select(tables.support_plans.c.document).where(tables.support_plans.c.is_default.is_(True))
        )
        return None if document is None else wire.plan_of_document(document)

    async def list(self) -> list[SupportPlan]:
        rows = await self._session.scalars(
            select(tables.support_plans.c.document).order_by(tables.support_plans.c.name)
        )
        return [wire.plan_of_document(document) for document in rows]

    async def save(self, plan: SupportPlan, *, new: bool) -> None:
        values = {
            "name": plan.name,
            "is_default": plan.is_default,
            "version": plan.version,
            "document": wire.plan_document(plan),
        }
        if new:
            await self._session.execute(
                tables.support_plans.insert().values(plan_id=str(plan.plan_id), **values)
            )
        else:
            await self._session.execute(
                update(tables.support_plans)
                .where(tables.support_plans.c.plan_id == str(plan.plan_id))
                .values(**values)
            )


class TopUpPlanRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, top_up_plan_id: UUID) -> TopUpPlan | None:
        document = await self._session.scalar(
            select(tables.top_up_plans.c.document).where(
                tables.top_up_plans.c.top_up_plan_id == str(top_up_plan_id)
            )
        )
        return None if document is None else wire.top_up_plan_of_document(document)

    async def list(self) -> list[TopUpPlan]:
        rows = await self._session.scalars(
            select(tables.top_up_plans.c.document).order_by(tables.top_up_plans.c.name)
        )
        return [wire.top_up_plan_of_document(document) for document in rows]

    async def save(self, top_up_plan: TopUpPlan, *, new: bool) -> None:
        values = {
            "name": top_up_plan.name,
            "version": top_up_plan.version,
            "document": wire.top_up_plan_document(top_up_plan),
        }
        if new:
            await self._session.execute(
                tables.top_up_plans.insert().values(top_up_plan_id=str(top_up_plan.top_up_plan_id), **values)
            )
        else:
            await self._session.execute(
                update(tables.top_up_plans)
                .where(tables.top_up_plans.c.top_up_plan_id == str(top_up_plan.top_up_plan_id))
                .values(**values)
            )

    async def delete(self, top_up_plan_id: UUID) -> None:
        await self._session.execute(
            delete(tables.top_up_plans).where(tables.top_up_plans.c.top_up_plan_id == str(top_up_plan_id))
        )


class ContractRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(
        self, contract_id: UUID, *, lock: bool = False, scope: AccountScope = None
    ) -> Contract | None:
        """`lock` holds the row until the transaction ends, so concurrent changes (a REST call and
        the scheduler on another replica) apply one after the other instead of overwriting. A contract
        of an account outside `scope` is not found."""
        query = self._select().where(tables.contracts.c.contract_id == str(contract_id), *_in_scope(scope))
        if lock:
            query = query.with_for_update()
        row = (await self._session.execute(query)).first()
        return None if row is None else _contract(row)

    @staticmethod
    def _select() -> Select[tuple[Any, Any]]:
        return select(tables.contracts.c.document, tables.contracts.c.notices_done)

    async def due_for_status_change(self, latest_day: date) -> list[UUID]:
        """Contracts whose dates may have moved their status by local day `latest_day` (the latest
        day any zone shows), locked; rows another replica is changing are skipped, it handles them."""
        c = tables.contracts.c
        return await self._due(
            or_(
                (c.status == ContractStatus.UPCOMING.value) & (c.start_date <= latest_day),
                (c.status == ContractStatus.ACTIVE.value)
                & or_(c.expiry_date < latest_day, c.termination_date < latest_day),
            )
        )

    async def due_for_notices(self, latest_day: date) -> list[UUID]:
        """Contracts with a notice that may fall due by local day `latest_day`, locked like the above."""
        return await self._due(tables.contracts.c.next_notice_on <= latest_day)

    async def _due(self, condition: ColumnElement[bool]) -> list[UUID]:
        c = tables.contracts.c
        query = (
            select(c.contract_id)
            .where(condition, c.parked_at.is_(None))
            .order_by(c.contract_id)
            .with_for_update(skip_locked=True)
        )
        return [UUID(contract_id) for contract_id in await self._session.scalars(query)]

    async def park(self, contract_id: UUID, at: datetime, reason: str) -> None:
        """Keep the scheduler off a contract it failed on with a bug, so it is not retried every tick."""
        await self._session.execute(
            update(tables.contracts)
            .where(tables.contracts.c.contract_id == str(contract_id))
            .values(parked_at=as_utc(at), parked_reason=reason[:2000])
        )

    async def delete(self, contract_id: UUID) -> None:
        await self._session.execute(
            delete(tables.contracts).where(tables.contracts.c.contract_id == str(contract_id))
        )

    async def lock_account(self, account_id: str) -> None:
        """Serialise sign-ups of one account until the transaction ends, so two contracts checked for
        overlap at the same time cannot both pass. SQLite already has one writer at a time."""
        if self._session.bind is not None and self._session.bind.dialect.name == "postgresql":
            await self._session.execute(
                text("SELECT pg_advisory_xact_lock(:space, hashtext(:account))"),
                {"space": _ACCOUNT_LOCK_SPACE, "account": account_id},
            )

    async def number_taken(self, contract_number: str) -> bool:
        found = await self._session.scalar(
            select(func.count())
            .select_from(tables.contracts)
            .where(tables.contracts.c.contract_number == contract_number)
        )
        return bool(found)

    async def of_account(self, account_id: str) -> list[Contract]:
        rows = await self._session.execute(self._select().where(tables.contracts.c.account_id == account_id))
        return [_contract(row) for row in rows.all()]

    async def search(
        self,
        *,
        account_id: str | None = None,
        status: ContractStatus | None = None,
        plan_id: UUID | None = None,
        expiring_by: date | None = None,
        limit: int = 50,
        offset: int = 0,
        scope: AccountScope = None,
    ) -> tuple[list[Contract], int]:
        c = tables.contracts.c
        conditions: list[Any] = _in_scope(scope)
        if account_id is not None:
            conditions.append(c.account_id == account_id)
        if status is not None:
            conditions.append(c.status == status.value)
        if plan_id is not None:
            conditions.append(c.plan_id == str(plan_id))
        if expiring_by is not None:
            conditions += [c.expiry_date <= expiring_by, c.status.in_(("active", "upcoming"))]
        total = await self._session.scalar(
            select(func.count()).select_from(tables.contracts).where(*conditions)
        )
        rows = await self._session.execute(
            self._select()
            .where(*conditions)
            .order_by(c.start_date, c.contract_number)
            .limit(limit)
            .offset(offset)
        )
        return [_contract(row) for row in rows.all()], int(total or 0)

    async def save(self, contract: Contract, *, new: bool) -> None:
        values = {
            "contract_number": contract.contract_number,
            "account_id": contract.account_id,
            "plan_id": str(contract.plan_id),
            "status": contract.status.value,
            "start_date": contract.start_date,
            "expiry_date": contract.expiry_date,
            "termination_date": contract.termination_date,
            "version": contract.version,
            "document": wire.contract_document(contract),
            "next_notice_on": contract.next_notice_on,
            "notices_done": sorted(contract.notices_done),
        }
        if new:
            await self._session.execute(
                tables.contracts.insert().values(contract_id=str(contract.contract_id), **values)
            )
        else:
            await self._session.execute(
                update(tables.contracts)
                .where(tables.contracts.c.contract_id == str(contract.contract_id))
                .values(**values)
            )


def _in_scope(scope: AccountScope) -> list[Any]:
    """The condition that keeps a query to the caller's accounts; none for every account."""
    return [] if scope is None else [tables.contracts.c.account_id.in_(sorted(scope))]


def _contract(row: Row[Any]) -> Contract:
    notices_done = {NoticeKind(kind) for kind in row.notices_done or ()}
    return wire.contract_of_document(row.document, notices_done)


class TopUpRepository:
    """Top-ups bought on contracts: their history, and what coverage needs to clear an exhaustion."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, contract_id: UUID, top_up: TopUp) -> None:
        await self._session.execute(
            tables.contract_top_ups.insert().values(
                top_up_id=str(top_up.top_up_id),
                contract_id=str(contract_id),
                bought_at=as_utc(top_up.bought_at),
                document=wire.top_up_document(top_up),
            )
        )

    async def exists(self, top_up_id: UUID) -> bool:
        found = await self._session.scalar(
            select(func.count())
            .select_from(tables.contract_top_ups)
            .where(tables.contract_top_ups.c.top_up_id == str(top_up_id))
        )
        return bool(found)

    async def of_contract(self, contract_id: UUID) -> list[TopUp]:
        t = tables.contract_top_ups.c
        rows = await self._session.execute(
            select(t.top_up_id, t.document).where(t.contract_id == str(contract_id)).order_by(t.bought_at)
        )
        return [wire.top_up_of_document(UUID(row.top_up_id), row.document) for row in rows.all()]


class ActivityRepository:
    """Which contracts had time entries logged or bills issued against them (from events)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, contract_id: UUID) -> ContractActivity:
        a = tables.contract_activity.c
        row = (
            await self._session.execute(
                select(a.has_time_entries, a.has_bills).where(a.contract_id == str(contract_id))
            )
        ).first()
        top_ups = await self._session.scalar(
            select(func.count())
            .select_from(tables.contract_top_ups)
            .where(tables.contract_top_ups.c.contract_id == str(contract_id))
        )
        return ContractActivity(
            has_time_entries=bool(row and row.has_time_entries),
            has_bills=bool(row and row.has_bills),
            has_top_ups=bool(top_ups),
        )

    async def record_time_entries(self, contract_ids: Iterable[UUID]) -> None:
        await self._mark(contract_ids, "has_time_entries")

    async def record_bills(self, contract_ids: Iterable[UUID]) -> None:
        await self._mark(contract_ids, "has_bills")

    async def _mark(self, contract_ids: Iterable[UUID], flag: str) -> None:
        ids = sorted({str(contract_id) for contract_id in contract_ids})
        if not ids:
            return
        insert = insert_on_conflict(self._session)
        statement = insert(tables.contract_activity).values(
            [{"contract_id": cid, "has_time_entries": False, "has_bills": False, flag: True} for cid in ids]
        )
        await self._session.execute(
            statement.on_conflict_do_update(index_elements=["contract_id"], set_={flag: True})
        )


class ExhaustionRepository:
    """The latest AllowanceExhausted event of each contract."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, contract_id: UUID) -> Exhaustion | None:
        e = tables.exhausted_cycles.c
        row = (
            await self._session.execute(
                select(e.cycle_index, e.exhausted_at).where(e.contract_id == str(contract_id))
            )
        ).first()
        return None if row is None else Exhaustion(row.cycle_index, as_utc(row.exhausted_at))

    async def save(self, contract_id: UUID, exhaustion: Exhaustion) -> None:
        insert = insert_on_conflict(self._session)
        values = {"cycle_index": exhaustion.cycle_index, "exhausted_at": as_utc(exhaustion.exhausted_at)}
        statement = insert(tables.exhausted_cycles).values(contract_id=str(contract_id), **values)
        await self._session.execute(
            statement.on_conflict_do_update(index_elements=["contract_id"], set_=values)
        )
