"""REST API of the timetracking service: each route opens its unit of work and calls the service layer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Query, status
from pydantic import AwareDatetime, BaseModel

from contracts_schema.timetracking import TimeEntryFields, TimeEntryState
from servicekit.api import ANONYMOUS, UnitsOfWork, caller, units_of_work
from servicekit.errors import DomainError
from servicekit.idempotency import IDEMPOTENT_WRITE
from servicekit.origin import Origin
from timetracking.adapters import wire
from timetracking.adapters.repositories import TimeEntryFilter
from timetracking.domain.errors import TimeEntryNotFound
from timetracking.service_layer import handlers
from timetracking.service_layer.unit_of_work import TimeTrackingUnitOfWork

Units = Annotated[UnitsOfWork[TimeTrackingUnitOfWork], Depends(units_of_work)]
Caller = Annotated[Origin, Depends(caller)]


class TimeEntryIn(TimeEntryFields):
    entry_id: UUID | None = None


class TimeEntryPage(BaseModel):
    items: list[TimeEntryState]
    total: int
    limit: int
    offset: int


router = APIRouter(tags=["time entries"])


@router.post("/time-entries", status_code=status.HTTP_201_CREATED, dependencies=IDEMPOTENT_WRITE)
async def log_time_entry(body: TimeEntryIn, units: Units, origin: Caller) -> TimeEntryState:
    request = handlers.LogRequest(
        body.entry_id or uuid4(), wire.work_log(body), _logged_by(origin, body.rep_id)
    )
    async with units.write() as uow:
        (outcome,) = await handlers.log_time_entries(uow, [request])
        if isinstance(outcome, DomainError):
            raise outcome
    return wire.time_entry_state(outcome)


@router.get("/time-entries")
async def list_time_entries(
    units: Units,
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
    async with units.read() as uow:
        items, total = await uow.time_entries.search(where, limit=limit, offset=offset)
    return TimeEntryPage(
        items=[wire.time_entry_state(entry) for entry in items], total=total, limit=limit, offset=offset
    )


@router.get("/time-entries/{entry_id}")
async def get_time_entry(entry_id: UUID, units: Units) -> TimeEntryState:
    async with units.read() as uow:
        entry = await uow.time_entries.get(entry_id)
    if entry is None:
        raise TimeEntryNotFound(f"no time entry {entry_id}")
    return wire.time_entry_state(entry)


def _logged_by(caller: Origin, rep_id: str) -> Origin:
    """A rep logging their own time sends no X-Actor header: the entry is then the rep's doing."""
    return caller if caller.actor != ANONYMOUS else Origin(actor=rep_id)


def _utc(instant: datetime | None) -> datetime | None:
    """Stored instants are UTC; SQLite compares them as text, so bounds must be UTC too."""
    return instant.astimezone(UTC) if instant is not None else None
