"""What can go wrong with a time entry."""

from __future__ import annotations

from servicekit.errors import Conflict, DomainError, NotFound


class InvalidTimeEntry(DomainError):
    pass


class TimeEntryNotFound(NotFound):
    pass


class TimeEntryExists(Conflict):
    pass


class ReasonRequired(DomainError):
    """A billed entry changes only with a reason, because its bill must be regenerated."""
