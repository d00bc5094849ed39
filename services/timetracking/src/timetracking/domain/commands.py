"""What REST bodies and Kafka commands ask of time entries, as one value each, so that both reach the
same use case (`adapters/wire.py` builds them from either)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from timetracking.domain.time_entries import EntryEdits

MAX_BATCH = 500
"""Entries logged by one batch, and entries changed by one bulk billable marking."""


@dataclass(frozen=True, slots=True)
class EntrySelection:
    """Entries chosen by what they are: every field left None matches any entry; deleted entries only
    when asked for."""

    account_id: str | None = None
    rep_id: str | None = None
    request_id: str | None = None
    contract_id: UUID | None = None
    started_from: datetime | None = None
    started_before: datetime | None = None
    billable: bool | None = None
    billed: bool | None = None
    include_deleted: bool = False
    accounts: frozenset[str] | None = None
    """The accounts the caller may see (its token's); None: every account."""


@dataclass(frozen=True, slots=True)
class EntryEdit:
    """Edit an entry. `account_id`, when given, is the account the caller believes it is of: an entry
    of another account is not found."""

    entry_id: UUID
    edits: EntryEdits
    reason: str | None = None
    account_id: str | None = None


@dataclass(frozen=True, slots=True)
class EntryDeletion:
    entry_id: UUID
    reason: str | None = None
    account_id: str | None = None


@dataclass(frozen=True, slots=True)
class BillableMarking:
    """Mark an account's entries billable or not: those listed, or those a selection matches."""

    account_id: str
    billable: bool
    entry_ids: tuple[UUID, ...] | None = None
    selection: EntrySelection | None = None
    reason: str | None = None
