"""The billing service's tables: its copy of contract terms and calendars, usage, top-ups and bills."""

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
    UniqueConstraint,
    false,
    true,
)

from servicekit.tables import MessagingTables

metadata = MetaData()
messaging = MessagingTables(metadata)

contracts = Table(
    "contracts",
    metadata,
    Column("contract_id", String(36), primary_key=True),
    Column("account_id", String(100), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("state", JSON, nullable=False),
    # When the next bill the cycles call for falls due; NULL once every one is made.
    Column("next_bill_due_at", DateTime(timezone=True), nullable=True, index=True),
    # Why a bill run failed on a bug; the contract is left out of bill runs until it changes.
    Column("parked_at", DateTime(timezone=True), nullable=True),
    Column("parked_reason", Text, nullable=True),
    Column("calendar_id", String(36), nullable=True, index=True),
    # Its calendar changed: entries are counted again and billed periods reviewed by the scheduler.
    Column("review_pending", Boolean, nullable=False, server_default=false()),
)

# Deleted contracts, remembered so that a late event of theirs (a renewal read after the deletion,
# from another partition) cannot bring a copy back.
deleted_contracts = Table(
    "deleted_contracts",
    metadata,
    Column("contract_id", String(36), primary_key=True),
)

calendars = Table(
    "calendars",
    metadata,
    Column("calendar_id", String(36), primary_key=True),
    Column("document", JSON, nullable=False),
)

top_ups = Table(
    "top_ups",
    metadata,
    Column("top_up_id", String(36), primary_key=True),
    Column("contract_id", String(36), nullable=False, index=True),
    Column("units", Integer, nullable=False),
    Column("price", Numeric(18, 6), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("bought_at", DateTime(timezone=True), nullable=False),
)

usage_entries = Table(
    "usage_entries",
    metadata,
    Column("entry_id", String(36), primary_key=True),
    Column("contract_id", String(36), nullable=True),
    Column("account_id", String(100), nullable=False),
    Column("request_id", String(100), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("minutes", Integer, nullable=False),
    Column("billable", Boolean, nullable=False),
    Column("include_non_operational", Boolean, nullable=False),
    Column("other_charges", Numeric(18, 6), nullable=True),
    Column("currency", String(3), nullable=True),
    Column("version", Integer, nullable=False),
    # Placed when the entry is recorded, so a cycle's usage is one SUM away: the cycle it starts in
    # and the minutes that draw on the allowance (operational ones only where the terms say so).
    Column("cycle_index", Integer, nullable=True),
    Column("counted_minutes", Integer, nullable=False, server_default="0"),
    Column("by_rule", Boolean, nullable=False, server_default=false()),
    # What bill rules look at.
    Column("product", String(100), nullable=True),
    Column("work_log_type", String(100), nullable=True),
    Column("rate_type", String(100), nullable=True),
    Column("custom_fields", JSON, nullable=True),
    Index("ix_usage_entries_contract_started", "contract_id", "started_at"),
    # Covers a cycle's running use: its minutes and its requests are counted from the index alone.
    Index(
        "ix_usage_entries_cycle_use",
        "contract_id",
        "cycle_index",
        "billable",
        "by_rule",
        "counted_minutes",
        "request_id",
    ),
)

cycle_usage = Table(
    "cycle_usage",
    metadata,
    Column("contract_id", String(36), primary_key=True),
    Column("cycle_index", Integer, primary_key=True),
    Column("used", Integer, nullable=False),
    Column("allowance", Integer, nullable=False),
    Column("carried_in", Integer, nullable=False, server_default="0"),
    Column("percent_announced", Integer, nullable=False, default=0),
    Column("exhausted_announced", Boolean, nullable=False, default=False),
)

bills = Table(
    "bills",
    metadata,
    Column("bill_id", String(36), primary_key=True),
    Column("bill_number", String(120), nullable=False, unique=True),
    Column("version", Integer, nullable=False),
    Column("contract_id", String(36), nullable=False),
    Column("account_id", String(100), nullable=False, index=True),
    Column("period", String(20), nullable=False),
    Column("bill_date", Date, nullable=False),
    Column("status", String(10), nullable=False),
    Column("is_main", Boolean, nullable=False),
    Column("needs_regeneration", Boolean, nullable=False, default=False, index=True),
    # When a draft is issued: the end of its contract's grace period.
    Column("grace_ends_at", DateTime(timezone=True), nullable=True, index=True),
    # False for a bill made before its usage cycle ended (on demand): the scheduler still bills the
    # whole period when it ends.
    Column("whole_period", Boolean, nullable=False, server_default=true()),
    Column("total", Numeric(18, 6), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("document", JSON, nullable=False),
    UniqueConstraint("contract_id", "period", "version", name="uq_bills_contract_period_version"),
)
