"""usage entries no longer record the bill that billed them: the main bill's events say it

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("usage_entries") as table:
        table.drop_column("billed_by")


def downgrade() -> None:
    with op.batch_alter_table("usage_entries") as table:
        table.add_column(sa.Column("billed_by", sa.String(length=36), nullable=True))
