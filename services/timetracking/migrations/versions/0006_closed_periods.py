"""the usage cycles paid main bills carry are closed to new time

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 19:58:25.749058
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Bills paid before this revision close nothing: their events were consumed already.
    op.create_table(
        "closed_periods",
        sa.Column("contract_id", sa.String(length=36), nullable=False),
        sa.Column("period", sa.String(length=20), nullable=False),
        sa.Column("bill_number", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("contract_id", "period"),
    )


def downgrade() -> None:
    op.drop_table("closed_periods")
