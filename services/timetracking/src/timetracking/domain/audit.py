"""The audit trail of a time entry: who did what to it, when, why, and what it was before and after."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from timetracking.domain.time_entries import TimeEntry


class AuditAction(StrEnum):
    LOGGED = "logged"
    EDITED = "edited"
    DELETED = "deleted"
    MARKED_BILLABLE = "marked_billable"
    MARKED_NON_BILLABLE = "marked_non_billable"
    ATTACHED = "attached"
    """Attached to a contract timetracking learned of after the entry was logged."""
    HELD_BACK = "held_back"
    """Not attached to the contract that covers it, whose plan forbids what the entry carries."""


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One version of an entry, and what made it: every version an entry has is recorded once."""

    at: datetime
    actor: str
    action: AuditAction
    reason: str | None
    before: TimeEntry | None
    after: TimeEntry

    @property
    def entry_id(self) -> UUID:
        return self.after.entry_id
