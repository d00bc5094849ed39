"""usage entries say whether a bill rule prices them: such an entry counts as no request in the
running usage, as on the bill

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("usage_entries") as table:
        table.add_column(sa.Column("by_rule", sa.Boolean(), nullable=False, server_default=sa.false()))
    # Entries recorded before count as they did (as requests) until they are placed again (an edit,
    # a calendar change): that only errs towards announcing a request too many, never a bill figure.


def downgrade() -> None:
    with op.batch_alter_table("usage_entries") as table:
        table.drop_column("by_rule")
