"""The contracts service's tables: queryable columns beside the full document of each aggregate."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from servicekit.tables import MessagingTables

metadata = MetaData()
messaging = MessagingTables(metadata)

calendars = Table(
    "calendars",
    metadata,
    Column("calendar_id", String(36), primary_key=True),
    Column("document", JSON, nullable=False),
)

support_plans = Table(
    "support_plans",
    metadata,
    Column("plan_id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("is_default", Boolean, nullable=False, default=False),
    Column("version", Integer, nullable=False),
    Column("document", JSON, nullable=False),
)

top_up_plans = Table(
    "top_up_plans",
    metadata,
    Column("top_up_plan_id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("document", JSON, nullable=False),
)

contracts = Table(
    "contracts",
    metadata,
    Column("contract_id", String(36), primary_key=True),
    Column("contract_number", String(100), nullable=False),
    Column("account_id", String(100), nullable=False, index=True),
    Column("plan_id", String(36), nullable=False, index=True),
    Column("status", String(20), nullable=False, index=True),
    Column("start_date", Date, nullable=False),
    Column("expiry_date", Date, nullable=False, index=True),
    Column("termination_date", Date, nullable=True),
    Column("version", Integer, nullable=False),
    Column("document", JSON, nullable=False),
    # The scheduler's index of notices still to send; what was sent is remembered beside it.
    Column("next_notice_on", Date, nullable=True, index=True),
    Column("notices_done", JSON, nullable=True),
    # Set when the scheduler hit a bug on the contract (logged with its traceback); the due queries
    # skip it from then on, until an operator who has looked at it clears the column.
    Column("parked_at", DateTime(timezone=True), nullable=True),
    Column("parked_reason", Text, nullable=True),
    UniqueConstraint("contract_number", name="uq_contracts_number"),
)

contract_top_ups = Table(
    "contract_top_ups",
    metadata,
    Column("top_up_id", String(36), primary_key=True),
    Column("contract_id", String(36), nullable=False, index=True),
    Column("bought_at", DateTime(timezone=True), nullable=False),
    Column("document", JSON, nullable=False),
)

# Read models built from other services' events, never from their databases.
contract_activity = Table(
    "contract_activity",
    metadata,
    Column("contract_id", String(36), primary_key=True),
    Column("has_time_entries", Boolean, nullable=False, default=False),
    Column("has_bills", Boolean, nullable=False, default=False),
)

exhausted_cycles = Table(
    "exhausted_cycles",
    metadata,
    Column("contract_id", String(36), primary_key=True),
    Column("cycle_index", Integer, nullable=False),
    Column("exhausted_at", DateTime(timezone=True), nullable=False),
    Column("restored_at", DateTime(timezone=True), nullable=True),
)
