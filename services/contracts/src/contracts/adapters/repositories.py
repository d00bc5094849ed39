"""Repositories: aggregates in and out of the tables, one query per operation."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.adapters import tables
from contracts.domain.contracts import Contract
from contracts.domain.plans import SupportPlan
from contracts_schema.contracts import BusinessCalendar, ContractState, ContractStatus, SupportPlanState


class CalendarRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, calendar_id: UUID) -> BusinessCalendar | None:
        document = await self._session.scalar(
            select(tables.calendars.c.document).where(tables.calendars.c.calendar_id == str(calendar_id))
        )
        return None if document is None else BusinessCalendar.model_validate(document)

    async def save(self, calendar: BusinessCalendar, *, new: bool) -> None:
        values = {"document": calendar.model_dump(mode="json")}
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
        return [BusinessCalendar.model_validate(document) for document in rows]


class PlanRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, plan_id: UUID) -> SupportPlan | None:
        document = await self._session.scalar(
            select(tables.support_plans.c.document).where(tables.support_plans.c.plan_id == str(plan_id))
        )
        return None if document is None else _plan(document)

    async def default(self) -> SupportPlan | None:
        document = await self._session.scalar(
            select(tables.support_plans.c.document).where(tables.support_plans.c.is_default.is_(True))
        )
        return None if document is None else _plan(document)

    async def list(self) -> list[SupportPlan]:
        rows = await self._session.scalars(
            select(tables.support_plans.c.document).order_by(tables.support_plans.c.name)
        )
        return [_plan(document) for document in rows]

    async def save(self, plan: SupportPlan, *, new: bool) -> None:
        values = {
            "name": plan.name,
            "is_default": plan.is_default,
            "version": plan.version,
            "document": plan.state().model_dump(mode="json"),
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


def _plan(document: dict[str, Any]) -> SupportPlan:
    state = SupportPlanState.model_validate(document)
    return SupportPlan(
        plan_id=state.plan_id,
        name=state.name,
        description=state.description,
        terms=state.terms,
        top_up_plan_ids=list(state.top_up_plan_ids),
        is_default=state.is_default,
        version=state.version,
    )


class ContractRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, contract_id: UUID) -> Contract | None:
        document = await self._session.scalar(
            select(tables.contracts.c.document).where(tables.contracts.c.contract_id == str(contract_id))
        )
        return None if document is None else Contract.from_state(ContractState.model_validate(document))

    async def number_taken(self, contract_number: str) -> bool:
        found = await self._session.scalar(
            select(func.count())
            .select_from(tables.contracts)
            .where(tables.contracts.c.contract_number == contract_number)
        )
        return bool(found)

    async def of_account(self, account_id: str) -> list[Contract]:
        rows = await self._session.scalars(
            select(tables.contracts.c.document).where(tables.contracts.c.account_id == account_id)
        )
        return [Contract.from_state(ContractState.model_validate(document)) for document in rows]

    async def search(
        self,
        *,
        account_id: str | None = None,
        status: ContractStatus | None = None,
        plan_id: UUID | None = None,
        expiring_by: date | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[ContractState], int]:
        c = tables.contracts.c
        conditions: list[Any] = []
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
        rows = await self._session.scalars(
            select(c.document)
            .where(*conditions)
            .order_by(c.start_date, c.contract_number)
            .limit(limit)
            .offset(offset)
        )
        return [ContractState.model_validate(document) for document in rows], int(total or 0)

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
            "document": contract.state().model_dump(mode="json"),
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
