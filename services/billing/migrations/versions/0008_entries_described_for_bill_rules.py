"""usage entries keep what bill rules look at: product, work-log type, rate type, custom fields

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("usage_entries") as batch:
        batch.add_column(sa.Column("product", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("work_log_type", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("rate_type", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("custom_fields", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("usage_entries") as batch:
        batch.drop_column("custom_fields")
        batch.drop_column("rate_type")
        batch.drop_column("work_log_type")
        batch.drop_column("product")
