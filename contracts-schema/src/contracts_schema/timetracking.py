"""Messages of the timetracking service: time entries and the command that logs one."""

from __future__ import annotations

from uuid import UUID

from pydantic import AwareDatetime, Field, model_validator

from contracts_schema.primitives import MoneyAmount, WireModel


class TimeEntryFields(WireModel):
    """What a rep logs. Either `ended_at` or `duration_minutes` is given; minutes are whole."""

    request_id: str = Field(min_length=1, max_length=100)
    task_id: str | None = None
    account_id: str = Field(min_length=1, max_length=100)
    product: str | None = None
    rep_id: str = Field(min_length=1, max_length=100)
    started_at: AwareDatetime
    ended_at: AwareDatetime | None = None
    duration_minutes: int | None = Field(default=None, ge=0, le=60 * 24 * 31)
    time_taken_minutes: int | None = Field(
        default=None, ge=0, le=60 * 24 * 31, description="override, only where the plan allows"
    )
    billable: bool = True
    include_non_operational: bool = True
    other_charges: MoneyAmount | None = None
    description: str = Field(default="", max_length=4000)
    work_log_type: str | None = None

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
    description: str = ""
    work_log_type: str | None = None
    billed: bool = False
    version: int = Field(ge=1)


class TimeEntryLogged(WireModel):
    entry: TimeEntryState


class TimeEntryChanged(WireModel):
    entry: TimeEntryState
    previous: TimeEntryState
    reason: str | None = None


class TimeEntryDeleted(WireModel):
    entry: TimeEntryState
    reason: str | None = None


class TimeEntryRejected(WireModel):
    """Reply to a LogTimeEntry command that was well formed but could not be accepted."""

    entry_id: UUID
    account_id: str
    reason: str
