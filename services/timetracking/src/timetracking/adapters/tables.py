"""The timetracking service's tables: time entries and their audit trail, and its read models of
contracts, the periods their paid bills closed, and business-hours calendars."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    false,
)

from servicekit.tables import Id64, MessagingTables

metadata = MetaData()
messaging = MessagingTables(metadata)

time_entries = Table(
    "time_entries",
    metadata,
    Column("entry_id", String(36), primary_key=True),
    Column("account_id", String(100), nullable=False),
    Column("contract_id", String(36), nullable=True, index=True),
    Column("request_id", String(100), nullable=False, index=True),
    Column("rep_id", String(100), nullable=False, index=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("minutes", Integer, nullable=False),
    Column("billable", Boolean, nullable=False),
    Column("billed", Boolean, nullable=False, default=False),
    Column("other_charges", Numeric(18, 6), nullable=True),
    Column("currency", String(3), nullable=True),
    Column("version", Integer, nullable=False),
    # Deleted entries stay, so that their versions and audit trail do; lists leave them out.
    Column("deleted", Boolean, nullable=False, default=False, server_default=false()),
    Column("document", JSON, nullable=False),
    Index("ix_time_entries_account_started", "account_id", "started_at"),
)

# One row per version of an entry: who made it, when, why, and the entry before and after.
time_entry_audit = Table(
    "time_entry_audit",
    metadata,
    Column("audit_id", Id64, primary_key=True, autoincrement=True),
    Column("entry_id", String(36), nullable=False),
    Column("version", Integer, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", String(30), nullable=False),
    Column("reason", Text, nullable=True),
    Column("before", JSON, nullable=True),
    Column("after", JSON, nullable=False),
    Index("ix_time_entry_audit_entry_version", "entry_id", "version"),
)

covering_contracts = Table(
    "covering_contracts",
    metadata,
    Column("contract_id", String(36), primary_key=True),
    Column("account_id", String(100), nullable=False, index=True),
    Column("all_products", Boolean, nullable=False),
    Column("products", JSON, nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("reps_may_override_time_taken", Boolean, nullable=False),
    Column("reps_may_add_other_charges", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    # Null for contracts kept before calendars were: filled by the contract's next event.
    Column("calendar_id", String(36), nullable=True),
)

# The usage cycles paid main bills carry, by contract and bill period: closed to new time.
closed_periods = Table(
    "closed_periods",
    metadata,
    Column("contract_id", String(36), primary_key=True),
    Column("period", String(20), primary_key=True),
    Column("bill_number", Text, nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
)

calendars = Table(
    "calendars",
    metadata,
    Column("calendar_id", String(36), primary_key=True),
    Column("document", JSON, nullable=False),
)
