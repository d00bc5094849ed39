"""What can go wrong with a time entry: one class per rule, so a refusal names the rule it applied."""

from __future__ import annotations

from servicekit.errors import Conflict, DomainError, NotFound


class InvalidTimeEntry(DomainError):
    """An entry, or a change of one, that breaks a rule on what a rep may enter."""


class InvalidSpan(InvalidTimeEntry):
    """The work has no whole minute, ends at or before its start, or lasts implausibly long."""


class StartOutOfRange(InvalidTimeEntry):
    """The work starts too far in the future, or before the earliest date the service accepts."""


class FieldTooLong(InvalidTimeEntry):
    """A text field longer than its documented maximum."""


class InvalidOtherCharges(InvalidTimeEntry):
    """Other charges in another currency than the contract's, with more decimals than their currency has,
    or of an implausible size."""


class PlanForbidsOverride(InvalidTimeEntry):
    """The covering contract's plan does not let reps override the time taken."""


class PlanForbidsOtherCharges(InvalidTimeEntry):
    """The covering contract's plan does not let reps add other charges."""


class EntryOfAnotherAccount(InvalidTimeEntry):
    """An entry of a batch command whose account is not the batch's."""


class ReasonRequired(InvalidTimeEntry):
    """A billed entry changes only with a reason, because its bill must be regenerated."""


class SelectionTooLarge(DomainError):
    """A bulk change whose selection matches more entries than one change may carry."""


class InvalidPeriod(DomainError):
    """A summary over an empty period, or one longer than the service sums at once."""


class TimeEntryNotFound(NotFound):
    pass


class TimeEntryExists(Conflict):
    """An entry id already taken by other values (or by a deleted entry)."""


class TimeEntryIsDeleted(Conflict):
    """A deleted entry is kept for its history and changes no more."""


class TimeEntrySettled(Conflict):
    """An entry a paid bill bills is final: it changes no more."""


class PeriodClosed(Conflict):
    """Time in a span a paid main bill carries: no version of a paid period could ever bill it."""
