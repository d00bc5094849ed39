"""Time entries: what a rep enters, how many minutes an entry counts, and the rules an entry and every
change of it are held to.

An entry keeps what the rep entered (`WorkLog`) on the whole minute in UTC: the start, and the end or
the duration as the rep gave it, with the time taken where the rep overrode it. It counts `minutes`:
the time taken where overridden, else the real elapsed whole minutes from start to end.

Rules that hold whatever the contract (`check_work`) are checked at once. The plan's rules (override,
other charges: `plan_forbids`) are checked against the covering contract timetracking knows; when it
knows none yet, the entry is accepted unattached, its note says so, and the plan's rules are checked
when the contract arrives. An entry its plan forbids is then held back with a note saying why: nothing
accepted is dropped, and the rep can edit it into what the plan allows.

Every change of an entry (edit, deletion, billable marking, attachment) is its next version; a billed
entry changes only with a reason, since its bill must be regenerated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Literal, TypeAlias
from uuid import UUID

from servicekit.money import Money, round_to_currency
from timetracking.domain.bills import NO_CLOSED_PERIODS, ClosedPeriods, check_period_open
from timetracking.domain.contracts import CoveringContract, find_covering_contract
from timetracking.domain.errors import (
    FieldTooLong,
    InvalidOtherCharges,
    InvalidSpan,
    InvalidTimeEntry,
    PlanForbidsOtherCharges,
    PlanForbidsOverride,
    ReasonRequired,
    StartOutOfRange,
    TimeEntryIsDeleted,
    TimeEntrySettled,
)

MAX_TEXT = 100
"""Ids and names a rep enters (request, task, rep, account, product, work-log type, rate type)."""
MAX_DESCRIPTION = 4000
MAX_CUSTOM_FIELDS = 20
MAX_CUSTOM_FIELD_NAME = 64
MAX_CUSTOM_FIELD_VALUE = 500
MAX_MINUTES = 60 * 24 * 31
"""An entry lasts at most 31 days, whether given by its end, its duration or the time taken."""
EARLIEST_START = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_START_AHEAD = timedelta(days=1)
"""Work starts at most a day after now: more is a typo in the date, not a clock a little ahead."""
MAX_OTHER_CHARGES = Decimal(10) ** 9
"""Other charges are stored as NUMERIC(18, 6): anything this large is a typo, not a charge."""

NO_CONTRACT_YET = "no covering contract known yet"
"""The note of an entry no contract timetracking knows covers (yet)."""


@dataclass(frozen=True, slots=True)
class EndedAt:
    """The work ended at this instant."""

    instant: datetime


@dataclass(frozen=True, slots=True)
class Duration:
    """The work took this many minutes."""

    minutes: int


Span: TypeAlias = EndedAt | Duration
"""How long the work took: a rep gives its end or its duration, never both."""


def whole_minute(instant: datetime) -> datetime:
    """The instant in UTC, cut down to the whole minute (time is counted in whole minutes)."""
    return instant.astimezone(UTC).replace(second=0, microsecond=0)


ZERO = timedelta(0)


def on_whole_utc_minute(instant: datetime) -> bool:
    """Whether the instant is on the whole minute in UTC already, as `whole_minute` would make it: its
    zone a fixed offset of zero (pydantic's for a `Z` read from JSON, say), not a zone whose offset
    only happens to be zero at that instant."""
    zone = instant.tzinfo
    return (
        instant.second == 0 and instant.microsecond == 0 and zone is not None and zone.utcoffset(None) == ZERO
    )


@dataclass(frozen=True, slots=True)
class WorkLog:
    """What a rep enters for a time entry; the contract, the version and the billing state come later."""

    request_id: str
    task_id: str | None
    account_id: str
    product: str | None
    rep_id: str
    started_at: datetime
    span: Span
    time_taken_minutes: int | None
    """An override of the minutes the span counts, where the plan lets reps make one."""
    billable: bool
    include_non_operational: bool
    other_charges: Money | None
    description: str
    work_log_type: str | None
    rate_type: str | None = None
    custom_fields: Mapping[str, str] = field(default_factory=dict)

    def elapsed_minutes(self) -> int:
        """Real elapsed whole minutes between the start and end cut down to the minute, or the duration."""
        match self.span:
            case Duration(minutes=minutes):
                return minutes
            case EndedAt(instant=ended_at):
                return (whole_minute(ended_at) - whole_minute(self.started_at)) // timedelta(minutes=1)

    def counted_minutes(self) -> int:
        """The minutes the entry counts: the time taken where overridden, else the elapsed minutes."""
        return self.time_taken_minutes if self.time_taken_minutes is not None else self.elapsed_minutes()

    def on_whole_minutes(self) -> WorkLog:
        """The work as it is kept: start and end in UTC, on the whole minute."""
        ended = self.span.instant if isinstance(self.span, EndedAt) else None
        if on_whole_utc_minute(self.started_at) and (ended is None or on_whole_utc_minute(ended)):
            return self  # as most work is given
        span = EndedAt(whole_minute(ended)) if ended is not None else self.span
        return replace(self, started_at=whole_minute(self.started_at), span=span)


def check_work(work: WorkLog, *, now: datetime) -> None:
    """The rules every entry is held to, whatever its contract: bounded texts, a start between
    2000-01-01 and a day from now, at least one whole minute and at most 31 days, plausible charges."""
    _check_texts(work)
    if work.started_at < EARLIEST_START:
        raise StartOutOfRange(f"the work starts before {EARLIEST_START.date()}, the earliest date accepted")
    if work.started_at > now + LATEST_START_AHEAD:
        raise StartOutOfRange("the work starts more than a day from now")
    match work.span:
        case Duration(minutes=minutes) if minutes < 1:
            raise InvalidSpan("the duration must be at least one minute")
        case EndedAt(instant=ended_at) if ended_at <= work.started_at:
            raise InvalidSpan("the work ends at or before its start")
    elapsed = work.elapsed_minutes()
    if elapsed < 1:
        raise InvalidSpan("the work starts and ends within one minute: an entry counts whole minutes")
    if elapsed > MAX_MINUTES:
        raise InvalidSpan(f"the work lasts more than {MAX_MINUTES} minutes (31 days)")
    if work.time_taken_minutes is not None and not 1 <= work.time_taken_minutes <= MAX_MINUTES:
        raise InvalidSpan(f"the time taken must be from 1 to {MAX_MINUTES} minutes")
    if work.other_charges is not None:
        _check_amount(work.other_charges)


def _check_texts(work: WorkLog) -> None:
    # The schema bounds most of these at the edge; a few of its fields are unbounded, and the domain
    # does not rely on which.
    for name, value, limit in (
        ("request_id", work.request_id, MAX_TEXT),
        ("task_id", work.task_id, MAX_TEXT),
        ("account_id", work.account_id, MAX_TEXT),
        ("product", work.product, MAX_TEXT),
        ("rep_id", work.rep_id, MAX_TEXT),
        ("work_log_type", work.work_log_type, MAX_TEXT),
        ("rate_type", work.rate_type, MAX_TEXT),
        ("description", work.description, MAX_DESCRIPTION),
    ):
        if value is not None and len(value) > limit:
            raise FieldTooLong(f"{name} is longer than {limit} characters")
    if len(work.custom_fields) > MAX_CUSTOM_FIELDS:
        raise FieldTooLong(f"at most {MAX_CUSTOM_FIELDS} custom fields")
    for name, value in work.custom_fields.items():
        if not 1 <= len(name) <= MAX_CUSTOM_FIELD_NAME:
            raise FieldTooLong(f"a custom field's name has 1 to {MAX_CUSTOM_FIELD_NAME} characters")
        if len(value) > MAX_CUSTOM_FIELD_VALUE:
            raise FieldTooLong(f"custom field {name} is longer than {MAX_CUSTOM_FIELD_VALUE} characters")


def _check_amount(charges: Money) -> None:
    amount = charges.amount
    if not 0 <= amount < MAX_OTHER_CHARGES:
        raise InvalidOtherCharges(f"other charges must be from 0 up to {MAX_OTHER_CHARGES}")
    if amount != round_to_currency(amount, charges.currency):
        raise InvalidOtherCharges(
            f"other charges of {amount} have more decimals than {charges.currency} allows"
        )


def plan_forbids(work: WorkLog, contract: CoveringContract) -> InvalidTimeEntry | None:
    """What the contract's plan does not let the rep enter, if anything."""
    if work.time_taken_minutes is not None and not contract.reps_may_override_time_taken:
        return PlanForbidsOverride("the contract's plan does not let reps override the time taken")
    if work.other_charges is not None:
        if not contract.reps_may_add_other_charges:
            return PlanForbidsOtherCharges("the contract's plan does not let reps add other charges")
        if work.other_charges.currency != contract.currency:
            return InvalidOtherCharges(
                f"other charges are in {work.other_charges.currency}, the contract bills in "
                f"{contract.currency}"
            )
    return None


class _Keep(Enum):
    KEEP = "keep"


KEEP = _Keep.KEEP
"""An edit leaves this field as it is."""
Keep: TypeAlias = Literal[_Keep.KEEP]


@dataclass(frozen=True, slots=True)
class EntryEdits:
    """What an edit changes of the work; every field left at KEEP stays as it is. Fields are named as
    those of `WorkLog`, which they replace."""

    request_id: str | Keep = KEEP
    task_id: str | None | Keep = KEEP
    product: str | None | Keep = KEEP
    rep_id: str | Keep = KEEP
    started_at: datetime | Keep = KEEP
    span: Span | Keep = KEEP
    time_taken_minutes: int | None | Keep = KEEP
    billable: bool | Keep = KEEP
    include_non_operational: bool | Keep = KEEP
    other_charges: Money | None | Keep = KEEP
    description: str | Keep = KEEP
    work_log_type: str | None | Keep = KEEP
    rate_type: str | None | Keep = KEEP
    custom_fields: Mapping[str, str] | Keep = KEEP

    def applied_to(self, work: WorkLog) -> WorkLog:
        changes = {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not KEEP}
        return replace(work, **changes)


@dataclass(frozen=True, slots=True)
class TimeEntry:
    """Work logged on a request: what the rep entered, on whole minutes in UTC, and what became of it."""

    entry_id: UUID
    work: WorkLog
    contract_id: UUID | None
    minutes: int
    billed: bool
    version: int
    deleted: bool = False
    note: str | None = None
    """Why the entry is not attached to a contract: none known yet, or what its plan forbids."""
    settled: bool = False
    """The main bill that bills it is paid: a paid bill never changes, so neither does the entry."""

    @property
    def account_id(self) -> str:
        return self.work.account_id

    @property
    def started_at(self) -> datetime:
        return self.work.started_at

    @property
    def product(self) -> str | None:
        return self.work.product

    def edited(
        self,
        work: WorkLog,
        contract: CoveringContract | None,
        *,
        reason: str | None,
        now: datetime,
        closed: ClosedPeriods = NO_CLOSED_PERIODS,
    ) -> TimeEntry:
        """The entry with the work as edited, checked as a new entry would be against the contract that
        covers it now; itself when nothing changed. Edited into billable time of a period a paid bill
        closed (moved there, made billable, or changed while there and billable), it would be time no
        bill could carry: refused. Time there that does not bill can still be corrected, and billable
        time moved out or made non-billable."""
        self._must_be_changeable(reason)
        changed = _checked_entry(self.entry_id, work, contract, now=now, billed=self.billed)
        if (changed.work, changed.contract_id, changed.note) == (self.work, self.contract_id, self.note):
            return self
        if changed.work.billable:
            check_period_open(closed, changed.contract_id, changed.started_at)
        return replace(changed, version=self.version + 1)

    def marked_deleted(self, *, reason: str | None) -> TimeEntry:
        """The entry deleted: kept, with its history, but no longer counted anywhere."""
        self._must_be_changeable(reason)
        return replace(self, deleted=True, version=self.version + 1)

    def marked_billable(
        self, billable: bool, *, reason: str | None, closed: ClosedPeriods = NO_CLOSED_PERIODS
    ) -> TimeEntry:
        """The entry billable or not; itself when it already is. Made billable in a period a paid bill
        closed, it would be billable time no bill could carry: refused."""
        self._must_be_changeable(reason)
        if self.work.billable == billable:
            return self
        if billable:
            check_period_open(closed, self.contract_id, self.started_at)
        return replace(self, work=replace(self.work, billable=billable), version=self.version + 1)

    def attached_to(self, contract: CoveringContract) -> TimeEntry:
        """The entry's next version, covered by a contract timetracking learned of after it was logged."""
        return replace(self, contract_id=contract.contract_id, note=None, version=self.version + 1)

    def held_back(self, note: str) -> TimeEntry:
        """The entry left unattached by a contract that covers it but whose plan forbids what it carries;
        itself when its note already says so."""
        return self if note == self.note else replace(self, note=note, version=self.version + 1)

    def billed_by_main_bill(self) -> TimeEntry:
        """The entry once a main bill includes it. The version stays: nothing the rep entered or the
        contract it counts against changed, and billing, which issued the bill, already knows."""
        return replace(self, billed=True)

    def settled_by_paid_bill(self) -> TimeEntry:
        """The entry once the main bill that bills it is paid; the version stays, as when billed."""
        return replace(self, settled=True)

    def no_longer_billed(self) -> TimeEntry:
        """The entry once the main bill that included it is no longer main (voided, or replaced by a
        version without it); the version stays, as when it was billed."""
        return replace(self, billed=False)

    def _must_be_changeable(self, reason: str | None) -> None:
        if self.deleted:
            raise TimeEntryIsDeleted(f"time entry {self.entry_id} was deleted")
        if self.settled:
            # Its paid bill could never be regenerated for the change: the time would go unbilled or
            # be billed twice without a word. A correction is a new entry (a credit, say) instead.
            raise TimeEntrySettled(f"time entry {self.entry_id} is billed by a paid bill: it changes no more")
        if self.billed and not (reason and reason.strip()):
            raise ReasonRequired(
                f"time entry {self.entry_id} is billed: give a reason, its bill will need regenerating"
            )


def new_time_entry(
    entry_id: UUID, work: WorkLog, contract: CoveringContract | None, *, now: datetime
) -> TimeEntry:
    """Check what the rep entered, against the contract's terms where a contract covers it, and build
    the entry's first version."""
    return _checked_entry(entry_id, work, contract, now=now, billed=False)


def _checked_entry(
    entry_id: UUID, work: WorkLog, contract: CoveringContract | None, *, now: datetime, billed: bool
) -> TimeEntry:
    check_work(work, now=now)
    if contract is not None and (forbidden := plan_forbids(work, contract)) is not None:
        raise forbidden
    return TimeEntry(
        entry_id=entry_id,
        work=work.on_whole_minutes(),
        contract_id=contract.contract_id if contract else None,
        minutes=work.counted_minutes(),
        billed=billed,
        version=1,
        note=None if contract else NO_CONTRACT_YET,
    )


def contract_after_edit(
    entry: TimeEntry, work: WorkLog, contracts: list[CoveringContract]
) -> CoveringContract | None:
    """The contract an edited entry counts against: the one it has, unless the edit moved its start or
    product (then the contract that covers it now, by the one coverage rule), or it has none yet."""
    moved = whole_minute(work.started_at) != entry.started_at or work.product != entry.product
    if entry.contract_id is not None and not moved:
        kept = next((c for c in contracts if c.contract_id == entry.contract_id), None)
        if kept is not None:
            return kept
    return find_covering_contract(contracts, work.product, work.started_at)


def same_entry(logged: TimeEntry, again: TimeEntry) -> bool:
    """Whether a repeated log of an entry id says what was logged the first time: only what the rep
    entered counts, not the contract it was attached to since, its version or its billing state."""
    return logged.work == again.work
