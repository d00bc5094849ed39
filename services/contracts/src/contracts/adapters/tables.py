"""The contracts service's tables: queryable columns beside the full document of each aggregate."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Date, Integer, MetaData, String, Table, UniqueConstraint

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
    UniqueConstraint("contract_number", name="uq_contracts_number"),
)
