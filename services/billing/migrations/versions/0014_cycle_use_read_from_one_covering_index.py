"""a cycle's running use (its billable minutes, its distinct requests) is read from one covering
index instead of the entries' rows

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ["contract_id", "cycle_index", "billable", "by_rule", "counted_minutes", "request_id"]


def upgrade() -> None:
    op.create_index("ix_usage_entries_cycle_use", "usage_entries", _COLUMNS)
    # Its first two columns answer every lookup the narrower index did.
    op.drop_index("ix_usage_entries_contract_cycle", table_name="usage_entries")


def downgrade() -> None:
    op.create_index("ix_usage_entries_contract_cycle", "usage_entries", ["contract_id", "cycle_index"])
    op.drop_index("ix_usage_entries_cycle_use", table_name="usage_entries")
