"""entries are kept when deleted and have an audit trail; calendars and contracts' calendar ids for
summaries

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 17:09:59.400421
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from servicekit.tables import Id64

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calendars",
        sa.Column("calendar_id", sa.String(length=36), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("calendar_id"),
    )
    op.create_table(
        "time_entry_audit",
        sa.Column("audit_id", Id64, autoincrement=True, nullable=False),
        sa.Column("entry_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("audit_id"),
    )
    with op.batch_alter_table("time_entry_audit", schema=None) as batch_op:
        batch_op.create_index("ix_time_entry_audit_entry_version", ["entry_id", "version"], unique=False)

    # Contracts kept before have no calendar id until their next event.
    with op.batch_alter_table("covering_contracts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("calendar_id", sa.String(length=36), nullable=True))

    with op.batch_alter_table("time_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deleted", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("time_entries", schema=None) as batch_op:
        batch_op.drop_column("deleted")

    with op.batch_alter_table("covering_contracts", schema=None) as batch_op:
        batch_op.drop_column("calendar_id")

    with op.batch_alter_table("time_entry_audit", schema=None) as batch_op:
        batch_op.drop_index("ix_time_entry_audit_entry_version")

    op.drop_table("time_entry_audit")
    op.drop_table("calendars")
