"""REST API of the timetracking service."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Header, Query, Request, status
from pydantic import AwareDatetime, BaseModel

from contracts_schema.timetracking import TimeEntryFields, TimeEntryState
from servicekit.idempotency import IDEMPOTENT_WRITE
from timetracking.adapters.repositories import TimeEntryFilter
from timetracking.bootstrap import TimeTracking
from timetracking.domain.errors import TimeEntryNotFound
from timetracking.service_layer import handlers


def get_timetracking(request: Request) -> TimeTracking:
    return request.app.state.service_app  # type: ignore[no-any-return]


TimeTrackingDep = Annotated[TimeTracking, Depends(get_timetracking)]
Actor = Annotated[str | None, Header(alias="X-Actor", description="who is making the change")]


class TimeEntryIn(TimeEntryFields):
    entry_id: UUID | None = None


class TimeEntryPage(BaseModel):
    items: list[TimeEntryState]
    total: int
    limit: int
    offset: int


router = APIRouter(tags=["time entries"])


@router.post("/time-entries", status_code=status.HTTP_201_CREATED, dependencies=IDEMPOTENT_WRITE)
async def log_time_entry(body: TimeEntryIn, app: TimeTrackingDep, actor: Actor = None) -> TimeEntryState:
    fields = TimeEntryFields.model_validate(body.model_dump(exclude={"entry_id"}))
    request = handlers.LogRequest(body.entry_id or uuid4(), fields, actor or body.rep_id)
    return await handlers.log_time_entry(app.uow(), request)


@router.get("/time-entries")
async def list_time_entries(
    app: TimeTrackingDep,
    account_id: str | None = None,
    rep_id: str | None = None,
    request_id: str | None = None,
    contract_id: UUID | None = None,
    started_from: AwareDatetime | None = None,
    started_before: AwareDatetime | None = None,
    billable: bool | None = None,
    billed: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> TimeEntryPage:
    where = TimeEntryFilter(
        account_id,
        rep_id,
        request_id,
        contract_id,
        _utc(started_from),
        _utc(started_before),
        billable,
        billed,
    )
    async with app.read() as uow:
        items, total = await uow.time_entries.search(where, limit=limit, offset=offset)
    return TimeEntryPage(items=items, total=total, limit=limit, offset=offset)


@router.get("/time-entries/{entry_id}")
async def get_time_entry(entry_id: UUID, app: TimeTrackingDep) -> TimeEntryState:
    async with app.read() as uow:
        entry = await uow.time_entries.get(entry_id)
    if entry is None:
        raise TimeEntryNotFound(f"no time entry {entry_id}")
    return entry


def _utc(instant: datetime | None) -> datetime | None:
    """Stored instants are UTC; SQLite compares them as text, so bounds must be UTC too."""
    return instant.astimezone(UTC) if instant is not None else None
