"""Messages of the timetracking service: time entries, and the commands that log, edit, delete and mark
them."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import AwareDatetime, Field, model_validator

from contracts_schema import edge, limits
from contracts_schema.primitives import MoneyAmount, WireModel

MAX_BATCH = limits.BATCH
"""Entries in one batch command or REST call; entry ids in one bulk billable marking."""

CustomFields = Annotated[
    dict[edge.CustomFieldName, edge.CustomFieldValue],
    Field(
        max_length=limits.CUSTOM_FIELDS,
        description="the help desk's own fields: at most 20, names up to 64 characters, values up to 500",
    ),
]
MINUTES = limits.MAX_ENTRY_MINUTES


class TimeEntryFields(WireModel):
    """What a rep logs. Either `ended_at` or `duration_minutes` is given; minutes are whole."""

    request_id: edge.Identifier
    task_id: edge.ShortText | None = None
    account_id: edge.Identifier
    product: edge.ShortText | None = None
    rep_id: edge.Identifier
    started_at: edge.Moment = Field(description="from 2000-01-01 to a day from now (StartOutOfRange)")
    ended_at: edge.Moment | None = None
    duration_minutes: int | None = Field(default=None, ge=0, le=MINUTES)
    time_taken_minutes: int | None = Field(
        default=None, ge=0, le=MINUTES, description="override, only where the plan allows"
    )
    billable: bool = True
    include_non_operational: bool = True
    other_charges: edge.Money | None = None
    description: edge.Description = ""
    work_log_type: edge.ShortText | None = None
    rate_type: edge.ShortText | None = Field(default=None, description="e.g. standard, on-site, expedited")
    custom_fields: CustomFields = {}

    @model_validator(mode="after")
    def _one_way_to_say_how_long(self) -> TimeEntryFields:
        if (self.ended_at is None) == (self.duration_minutes is None):
            raise ValueError("give exactly one of ended_at or duration_minutes")
        if self.ended_at is not None and self.ended_at < self.started_at:
            raise ValueError("ended_at is before started_at")
        return self


class LogTimeEntry(TimeEntryFields):
    """Command: log a time entry. `entry_id` is chosen by the producer and makes the command idempotent."""

    entry_id: UUID


class TimeEntryState(WireModel):
    entry_id: UUID
    account_id: str
    contract_id: UUID | None = Field(description="the contract that covers the entry, if any")
    request_id: str
    task_id: str | None = None
    product: str | None = None
    rep_id: str
    started_at: AwareDatetime
    minutes: int = Field(ge=0, description="whole minutes counted: time taken where overridden")
    billable: bool
    include_non_operational: bool
    other_charges: MoneyAmount | None = None
    description: str = Field(default="", description=f"at most {limits.DESCRIPTION_LENGTH} characters")
    work_log_type: str | None = None
    billed: bool = False
    version: int = Field(ge=1)
    ended_at: AwareDatetime | None = Field(
        default=None, description="as the rep gave it, if they gave an end"
    )
    duration_minutes: int | None = Field(
        default=None, description="as the rep gave it, if they gave a duration"
    )
    time_taken_minutes: int | None = Field(default=None, description="the override, if the rep made one")
    rate_type: str | None = None
    custom_fields: dict[str, str] = Field(
        default={}, description="at most 20, names up to 64 characters, values up to 500"
    )
    deleted: bool = False
    settled: bool = Field(
        default=False,
        description="the main bill that bills it is paid: the entry is final and changes no more",
    )
    note: str | None = Field(
        default=None,
        description="why the entry is not attached to a contract: none known yet, or what its plan forbids",
    )


class TimeEntryLogged(WireModel):
    entry: TimeEntryState


class TimeEntryChanged(WireModel):
    """An entry changed: edited, marked billable or not, or attached to the contract that covers it."""

    entry: TimeEntryState
    previous: TimeEntryState
    reason: str | None = None


class TimeEntryDeleted(WireModel):
    entry: TimeEntryState
    reason: str | None = None


class TimeEntryRejected(WireModel):
    """Reply to a command on a time entry that was well formed but could not be carried out; the event's
    `causationid` is the command's id. In a batch, `index` says which entry of it."""

    entry_id: UUID | None = None
    account_id: str
    reason: str
    index: int | None = Field(default=None, ge=0)
    command_type: str | None = None
    error: str | None = Field(default=None, description="the rule broken, e.g. ReasonRequired")


class TimeEntriesMarked(WireModel):
    """Reply to a bulk billable marking: which entries changed, and which were refused and why."""

    account_id: str
    billable: bool
    changed: list[UUID]
    refused: dict[str, str] = Field(default={}, description="entry id -> reason")


# --- commands -------------------------------------------------------------------------------------


class LogTimeEntries(WireModel):
    """Command: log many entries; each valid one is kept and each invalid one answered by its index."""

    account_id: edge.Identifier = Field(description="the message key; every entry's account")
    entries: list[LogTimeEntry] = Field(min_length=1, max_length=MAX_BATCH)


class TimeEntryEdits(WireModel):
    """What an edit may change; the fields left out stay as they are."""

    request_id: edge.Identifier | None = None
    task_id: edge.ShortText | None = None
    product: edge.ShortText | None = None
    rep_id: edge.Identifier | None = None
    started_at: edge.Moment | None = None
    ended_at: edge.Moment | None = None
    duration_minutes: int | None = Field(default=None, ge=0, le=MINUTES)
    time_taken_minutes: int | None = Field(default=None, ge=0, le=MINUTES)
    billable: bool | None = None
    include_non_operational: bool | None = None
    other_charges: edge.Money | None = None
    description: edge.Description | None = None
    work_log_type: edge.ShortText | None = None
    rate_type: edge.ShortText | None = None
    custom_fields: CustomFields | None = None


class EditTimeEntry(TimeEntryEdits):
    """Command: edit an entry. A billed entry changes only with a reason, and its bill is flagged."""

    entry_id: UUID
    account_id: edge.Identifier = Field(description="the entry's account: the message key")
    reason: edge.Reason | None = None


class DeleteTimeEntry(WireModel):
    """Command: delete an entry. A billed entry is deleted only with a reason, and its bill is flagged."""

    entry_id: UUID
    account_id: edge.Identifier
    reason: edge.Reason | None = None


class TimeEntrySelection(WireModel):
    """Entries of an account chosen by what they are, for bulk changes."""

    rep_id: edge.Identifier | None = None
    request_id: edge.Identifier | None = None
    contract_id: UUID | None = None
    started_from: edge.Instant | None = None
    started_before: edge.Instant | None = None
    billed: bool | None = None


class MarkTimeEntriesBillable(WireModel):
    """Command: mark entries of an account billable or not, by ids or by a selection. Billed entries
    change only with a reason; answered by TimeEntriesMarked."""

    account_id: edge.Identifier
    billable: bool
    entry_ids: list[UUID] | None = Field(default=None, max_length=MAX_BATCH)
    selection: TimeEntrySelection | None = None
    reason: edge.Reason | None = None

    @model_validator(mode="after")
    def _ids_or_a_selection(self) -> MarkTimeEntriesBillable:
        if (self.entry_ids is None) == (self.selection is None):
            raise ValueError("give exactly one of entry_ids or selection")
        return self
