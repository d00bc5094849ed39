"""The timetracking service's tables: time entries and its read model of contracts."""

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
)

from servicekit.tables import MessagingTables

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
    Column("document", JSON, nullable=False),
    Index("ix_time_entries_account_started", "account_id", "started_at"),
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
)
