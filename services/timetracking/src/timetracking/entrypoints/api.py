"""REST API of the timetracking service: each route opens its unit of work and calls one use case.

Every route declares who may call it (`api.allow`); reads and changes are scoped to the token's
accounts, and a support rep logs and changes only their own time. A rule broken answers its status
(403, 404, 409, 422) as a problem detail; writes accept an `Idempotency-Key`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from contracts_schema import edge, limits
from contracts_schema.primitives import MoneyAmount
from contracts_schema.timetracking import (
    MarkTimeEntriesBillable,
    TimeEntriesMarked,
    TimeEntryEdits,
    TimeEntryFields,
    TimeEntryState,
)
from servicekit import api
from servicekit.auth import Caller, Role
from servicekit.errors import DomainError, Forbidden
from servicekit.group_commit import GroupCommit
from servicekit.idempotency import idempotent_write
from servicekit.origin import Origin
from servicekit.problems import responses
from timetracking.adapters import wire
from timetracking.domain.audit import AuditAction
from timetracking.domain.commands import MAX_BATCH, EntryDeletion, EntrySelection
from timetracking.domain.errors import TimeEntryNotFound
from timetracking.domain.summaries import CATEGORIES, GroupBy, SummaryQuery, TimeSummary
from timetracking.domain.time_entries import TimeEntry
from timetracking.service_layer import handlers
from timetracking.service_layer.unit_of_work import TimeTrackingUnitOfWork

Units = Annotated[api.UnitsOfWork[TimeTrackingUnitOfWork], Depends(api.units_of_work)]
Now = Annotated[datetime, Depends(api.now)]
Authenticated = Annotated[Caller, Depends(api.authenticated)]


GATHER_SECONDS = 0.002
"""How long the logger, after a group with company, waits for the next requests (`GroupCommit`)."""


async def entry_logger(request: Request) -> GroupCommit[handlers.LogRequest, TimeEntry | DomainError]:
    """The app's one logger of single entries: entries of concurrent requests are checked and written
    together, in one unit of work, each answered once it has committed (`servicekit.group_commit`)."""
    state = request.app.state
    if getattr(state, "entry_logger", None) is None:
        units: api.UnitsOfWork[TimeTrackingUnitOfWork] = state.units
        clock = state.clock

        async def log_together(requests: Sequence[handlers.LogRequest]) -> list[TimeEntry | DomainError]:
            async with units.write() as uow:
                return await handlers.log_time_entries(uow, requests, now=clock())

        state.entry_logger = GroupCommit(log_together, gather_seconds=GATHER_SECONDS)
    logger: GroupCommit[handlers.LogRequest, TimeEntry | DomainError] = state.entry_logger
    return logger


EntryLogger = Annotated[GroupCommit[handlers.LogRequest, TimeEntry | DomainError], Depends(entry_logger)]

# Who may do what, declared once, beside the routes: reads are every role's, scoped to the caller's
# accounts; a support rep logs and changes time as themselves, an integration or an admin for any rep;
# marking billable is also the billing team's.
READERS = api.allow(*Role)
LOGGERS = api.allow(Role.ADMIN, Role.INTEGRATION, Role.SUPPORT_REP)
MARKERS = api.allow(Role.ADMIN, Role.INTEGRATION, Role.BILLING)

REASON = "why a billed entry changes: required for a billed entry, whose bill will need regenerating"


def _one_of_end_or_duration(schema: dict[str, Any]) -> None:
    # The OpenAPI document says what the model checks: exactly one of the two, and not null.
    schema["oneOf"] = [
        {"required": [given], "properties": {given: {"not": {"type": "null"}}}, "not": {"required": [other]}}
        for given, other in (("ended_at", "duration_minutes"), ("duration_minutes", "ended_at"))
    ]


class TimeEntryIn(TimeEntryFields):
    model_config = ConfigDict(json_schema_extra=_one_of_end_or_duration)

    entry_id: UUID | None = Field(default=None, description="chosen by the caller to make retries safe")


class TimeEntryEditIn(TimeEntryEdits):
    """The fields to change; those not sent stay. Null clears task_id, product, time_taken_minutes,
    other_charges, work_log_type and rate_type, and leaves any other field as it is."""

    reason: edge.Reason | None = Field(default=None, description=REASON)


class TimeEntryPage(BaseModel):
    items: list[TimeEntryState]
    total: int
    limit: int
    offset: int


class BatchResult(BaseModel):
    index: int = Field(description="the entry's position in the request, from 0")
    status: int = Field(
        description="201 logged (or logged before with the same values), 409 its id is taken or it "
        "starts in a period a paid bill closed (PeriodClosed), 422 a rule broken"
    )
    entry: TimeEntryState | None = None
    error: str | None = Field(default=None, description="the rule broken, e.g. InvalidSpan")
    detail: str | None = None


class BatchOut(BaseModel):
    logged: int
    refused: int
    results: list[BatchResult] = Field(description="one per entry, in the order sent")


class SummaryGroup(BaseModel):
    key: str = Field(description="the rep id or the account id")
    entries: int
    minutes: int
    minutes_by_category: dict[str, int] = Field(
        description=f"by the contract calendar's categories: {', '.join(CATEGORIES)}; they add up to minutes"
    )
    billable_minutes: int
    non_billable_minutes: int
    billed_minutes: int
    unbilled_minutes: int
    other_charges: list[MoneyAmount] = Field(description="the entries' other charges, one sum per currency")


class SummaryOut(BaseModel):
    group_by: GroupBy
    started_from: datetime
    started_before: datetime
    groups: list[SummaryGroup] = Field(
        description="in key order; reps or accounts with no entries are left out"
    )


class AuditRecordOut(BaseModel):
    version: int = Field(description="the entry's version this record made")
    at: datetime
    actor: str
    action: AuditAction
    reason: str | None
    before: TimeEntryState | None
    after: TimeEntryState


router = APIRouter(tags=["time entries"], responses=responses(401, 403, 422, 503))


@api.direct_route(  # the hot path of the API: served without FastAPI's generic dependency solving
    router,
    "/time-entries",
    methods=["POST"],
    status_code=status.HTTP_201_CREATED,
    dependencies=[LOGGERS],
    openapi_extra=idempotent_write(),
    responses=responses(409, 413),
)
async def log_time_entry(body: TimeEntryIn, logger: EntryLogger, caller: Authenticated) -> TimeEntryState:
    """Log one entry. Logging it again with the same id and values answers what was logged. An entry no
    known contract covers is kept unattached (`note`: no covering contract known yet) and attached
    when its contract arrives. 409: the entry id is taken by other values, or by a deleted entry; or
    the entry starts in a period of its contract whose main bill is paid (`PeriodClosed`: no bill could
    carry it any more, so log it in an open period)."""
    _may_log(caller, body)
    # Answered once committed, with the entries of concurrent requests.
    outcome = await logger.submit(_log_request(body, caller.origin))
    if isinstance(outcome, DomainError):
        raise outcome
    return wire.time_entry_state(outcome)


@router.post(
    "/time-entries/batch",
    status_code=status.HTTP_201_CREATED,
    dependencies=[LOGGERS],
    openapi_extra=idempotent_write(),
    responses={
        201: {"description": "every entry was logged"},
        207: {"model": BatchOut, "description": "some entries were refused: each result says why"},
        **responses(409, 413),
    },
)
async def log_time_entries(
    body: Annotated[list[TimeEntryIn], Body(min_length=1, max_length=MAX_BATCH)],
    units: Units,
    caller: Authenticated,
    now: Now,
    response: Response,
) -> BatchOut:
    """Log up to 500 entries: each valid one is kept, each invalid one refused by its index (409
    `PeriodClosed` for one that starts in a period of its contract whose main bill is paid). A body
    that is not well formed (any entry of it), or with an entry the caller may not log (another
    account's, another rep's), is refused as a whole."""
    for entry in body:
        _may_log(caller, entry)
    requests = [_log_request(entry, caller.origin) for entry in body]
    async with units.write() as uow:
        outcomes = await handlers.log_time_entries(uow, requests, now=now)
    results = [_batch_result(index, outcome) for index, outcome in enumerate(outcomes)]
    refused = sum(isinstance(outcome, DomainError) for outcome in outcomes)
    if refused:
        response.status_code = status.HTTP_207_MULTI_STATUS
    return BatchOut(logged=len(outcomes) - refused, refused=refused, results=results)


@router.post(
    "/time-entries/billable",
    dependencies=[MARKERS],
    openapi_extra=idempotent_write(),
    responses=responses(409, 413),
)
async def mark_time_entries_billable(
    body: MarkTimeEntriesBillable, units: Units, caller: Authenticated, now: Now
) -> TimeEntriesMarked:
    """Mark an account's entries billable or not: those listed, or those a selection matches (at most
    500 that would change; more is refused as a whole). A billed entry needs a reason; each
    entry that cannot change is listed in `refused` with why, and the others still change."""
    async with units.write() as uow:
        marked = await handlers.mark_time_entries_billable(
            uow, wire.billable_marking(body), origin=caller.origin, now=now
        )
    return wire.time_entries_marked(
        body.account_id, body.billable, [entry.entry_id for entry in marked.changed], marked.refused
    )


@router.get("/time-entries", dependencies=[READERS])
async def list_time_entries(
    units: Units,
    caller: Authenticated,
    account_id: Annotated[edge.ShortText | None, Query()] = None,
    rep_id: Annotated[edge.ShortText | None, Query()] = None,
    request_id: Annotated[edge.ShortText | None, Query()] = None,
    contract_id: UUID | None = None,
    started_from: edge.Instant | None = None,
    started_before: edge.Instant | None = None,
    billable: bool | None = None,
    billed: bool | None = None,
    include_deleted: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=limits.MAX_PAGE_OFFSET)] = 0,
) -> TimeEntryPage:
    """Entries in start order (ties by entry id, so pages neither overlap nor skip); deleted entries only
    with include_deleted."""
    where = EntrySelection(
        account_id=account_id,
        rep_id=rep_id,
        request_id=request_id,
        contract_id=contract_id,
        started_from=started_from,
        started_before=started_before,
        billable=billable,
        billed=billed,
        include_deleted=include_deleted,
        accounts=caller.accounts,
    )
    async with units.read() as uow:
        items, total = await uow.time_entries.search(where, limit=limit, offset=offset)
    return TimeEntryPage(
        items=[wire.time_entry_state(entry) for entry in items], total=total, limit=limit, offset=offset
    )


@router.get("/time-entries/summary", dependencies=[READERS])
async def summarize_time_entries(
    units: Units,
    caller: Authenticated,
    group_by: GroupBy,
    started_from: edge.Instant,
    started_before: edge.Instant,
    account_id: Annotated[edge.ShortText | None, Query()] = None,
    rep_id: Annotated[edge.ShortText | None, Query()] = None,
) -> SummaryOut:
    """Time and charges per rep or per account of the entries started in [started_from, started_before),
    at most 366 days: minutes by category of the contract's business-hours calendar (`uncategorized`
    where timetracking knows no contract or calendar for the entry), billable or not, billed or not,
    and other charges by currency."""
    query = SummaryQuery(
        group_by,
        started_from,
        started_before,
        account_id=account_id,
        rep_id=rep_id,
        accounts=caller.accounts,
    )
    async with units.read() as uow:
        summaries = await handlers.summarize_time_entries(uow, query)
    return SummaryOut(
        group_by=group_by,
        started_from=started_from,
        started_before=started_before,
        groups=[_summary_group(summary) for summary in summaries],
    )


@router.get("/time-entries/{entry_id}", dependencies=[READERS], responses=responses(404))
async def get_time_entry(entry_id: UUID, units: Units, caller: Authenticated) -> TimeEntryState:
    """The entry, deleted or not."""
    async with units.read() as uow:
        entry = await uow.time_entries.get(entry_id, scope=caller.accounts)
    if entry is None:
        raise TimeEntryNotFound(f"no time entry {entry_id}")
    return wire.time_entry_state(entry)


@router.get("/time-entries/{entry_id}/audit", dependencies=[READERS], responses=responses(404))
async def time_entry_audit(entry_id: UUID, units: Units, caller: Authenticated) -> list[AuditRecordOut]:
    """Every version of the entry, oldest first: who made it, when, why, and the entry before and after."""
    async with units.read() as uow:
        if await uow.time_entries.get(entry_id, scope=caller.accounts) is None:
            raise TimeEntryNotFound(f"no time entry {entry_id}")
        records = await uow.audit.of_entry(entry_id)
    return [
        AuditRecordOut(
            version=record.after.version,
            at=record.at,
            actor=record.actor,
            action=record.action,
            reason=record.reason,
            before=wire.time_entry_state(record.before) if record.before else None,
            after=wire.time_entry_state(record.after),
        )
        for record in records
    ]


@router.patch(
    "/time-entries/{entry_id}",
    dependencies=[LOGGERS],
    openapi_extra=idempotent_write(),
    responses=responses(404, 409, 413),
)
async def edit_time_entry(
    entry_id: UUID, body: TimeEntryEditIn, units: Units, caller: Authenticated, now: Now
) -> TimeEntryState:
    """Change the fields sent. The entry is checked again as a whole, against the contract that covers it
    after the edit (a new start or product may move it to another); a billed entry needs a `reason`,
    and its bill is flagged for regeneration. 409: the entry was deleted, or a paid bill bills it, so it
    changes no more; or the edit moves it (a new start, or another contract) into a period of its
    contract whose main bill is paid (`PeriodClosed`)."""
    async with units.write() as uow:
        entry = await handlers.edit_time_entry(
            uow,
            wire.entry_edit(body, entry_id, body.reason),
            origin=caller.origin,
            now=now,
            of_rep=_own(caller),
        )
    return wire.time_entry_state(entry)


@router.delete(
    "/time-entries/{entry_id}",
    dependencies=[LOGGERS],
    openapi_extra=idempotent_write(),
    responses=responses(404, 409),
)
async def delete_time_entry(
    entry_id: UUID,
    units: Units,
    caller: Authenticated,
    now: Now,
    reason: Annotated[edge.Reason | None, Query(description=REASON)] = None,
) -> TimeEntryState:
    """Delete the entry: it stays readable (`deleted`: true) with its audit trail, and counts nowhere; a
    billed entry needs a `reason`, and its bill is flagged for regeneration. Answers the deleted entry;
    409: it was deleted before."""
    async with units.write() as uow:
        entry = await handlers.delete_time_entry(
            uow, EntryDeletion(entry_id, reason), origin=caller.origin, now=now, of_rep=_own(caller)
        )
    return wire.time_entry_state(entry)


def _log_request(entry: TimeEntryIn, origin: Origin) -> handlers.LogRequest:
    """The entry to log: under the caller's id, or under one made here."""
    if entry.entry_id is None:
        return handlers.LogRequest.for_a_new_entry(wire.work_log(entry), origin)
    return handlers.LogRequest(entry.entry_id, wire.work_log(entry), origin)


def _batch_result(index: int, outcome: TimeEntry | DomainError) -> BatchResult:
    if isinstance(outcome, DomainError):
        return BatchResult(
            index=index, status=outcome.status_code, error=type(outcome).__name__, detail=str(outcome)
        )
    return BatchResult(index=index, status=status.HTTP_201_CREATED, entry=wire.time_entry_state(outcome))


def _summary_group(summary: TimeSummary) -> SummaryGroup:
    return SummaryGroup(
        key=summary.key,
        entries=summary.entries,
        minutes=summary.minutes,
        minutes_by_category=dict(summary.minutes_by_category),
        billable_minutes=summary.billable_minutes,
        non_billable_minutes=summary.non_billable_minutes,
        billed_minutes=summary.billed_minutes,
        unbilled_minutes=summary.unbilled_minutes,
        other_charges=[wire.money_amount(charges) for charges in summary.other_charges],
    )


def _may_log(caller: Caller, entry: TimeEntryFields) -> None:
    caller.origin.require_account(entry.account_id)
    if _own(caller) not in (None, entry.rep_id):
        raise Forbidden("a support rep logs time as themselves: rep_id must be the token's subject")


def _own(caller: Caller) -> str | None:
    """The rep whose entries the caller may change: a support rep's own; None for any rep."""
    return None if caller.has(Role.ADMIN, Role.INTEGRATION) else caller.subject
