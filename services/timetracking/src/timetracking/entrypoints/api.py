"""REST API of the timetracking service: each route opens its unit of work and calls the service layer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Query, status
from pydantic import AwareDatetime, BaseModel

from contracts_schema.timetracking import TimeEntryFields, TimeEntryState
from servicekit import api
from servicekit.auth import Caller, Role
from servicekit.errors import DomainError, Forbidden
from servicekit.idempotency import IDEMPOTENT_WRITE
from servicekit.problems import responses
from timetracking.adapters import wire
from timetracking.adapters.repositories import TimeEntryFilter
from timetracking.domain.errors import TimeEntryNotFound
from timetracking.service_layer import handlers
from timetracking.service_layer.unit_of_work import TimeTrackingUnitOfWork

Units = Annotated[api.UnitsOfWork[TimeTrackingUnitOfWork], Depends(api.units_of_work)]
Authenticated = Annotated[Caller, Depends(api.authenticated)]

# Who may do what, declared once, beside the routes: reads are every role's, scoped to the caller's
# accounts; a support rep logs time as themselves, an integration or an admin for any rep.
READERS = api.allow(*Role)
LOGGERS = api.allow(Role.ADMIN, Role.INTEGRATION, Role.SUPPORT_REP)


class TimeEntryIn(TimeEntryFields):
    entry_id: UUID | None = None


class TimeEntryPage(BaseModel):
    items: list[TimeEntryState]
    total: int
    limit: int
    offset: int


router = APIRouter(tags=["time entries"], responses=responses(401, 403, 422, 503))


@router.post(
    "/time-entries",
    status_code=status.HTTP_201_CREATED,
    dependencies=[*IDEMPOTENT_WRITE, LOGGERS],
    responses=responses(409, 413),
)
async def log_time_entry(body: TimeEntryIn, units: Units, caller: Authenticated) -> TimeEntryState:
    caller.origin.require_account(body.account_id)
    if not caller.has(Role.ADMIN, Role.INTEGRATION) and body.rep_id != caller.subject:
        raise Forbidden("a support rep logs time as themselves: rep_id must be the token's subject")
    request = handlers.LogRequest(body.entry_id or uuid4(), wire.work_log(body), caller.origin)
    async with units.write() as uow:
        (outcome,) = await handlers.log_time_entries(uow, [request])
        if isinstance(outcome, DomainError):
            raise outcome
    return wire.time_entry_state(outcome)


@router.get("/time-entries", dependencies=[READERS])
async def list_time_entries(
    units: Units,
    caller: Authenticated,
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
        scope=caller.accounts,
    )
    async with units.read() as uow:
        items, total = await uow.time_entries.search(where, limit=limit, offset=offset)
    return TimeEntryPage(
        items=[wire.time_entry_state(entry) for entry in items], total=total, limit=limit, offset=offset
    )


@router.get("/time-entries/{entry_id}", dependencies=[READERS], responses=responses(404))
async def get_time_entry(entry_id: UUID, units: Units, caller: Authenticated) -> TimeEntryState:
    async with units.read() as uow:
        entry = await uow.time_entries.get(entry_id, caller.accounts)
    if entry is None:
        raise TimeEntryNotFound(f"no time entry {entry_id}")
    return wire.time_entry_state(entry)


def _utc(instant: datetime | None) -> datetime | None:
    """Stored instants are UTC; SQLite compares them as text, so bounds must be UTC too."""
    return instant.astimezone(UTC) if instant is not None else None
