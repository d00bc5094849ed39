"""bills: drafts in a grace period and flags for regeneration; contracts: reviews after a calendar change

Revision ID: 0007
Revises: 0006
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("bills") as batch:
        batch.add_column(sa.Column("grace_ends_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index(batch.f("ix_bills_grace_ends_at"), ["grace_ends_at"], unique=False)
        batch.create_index(batch.f("ix_bills_needs_regeneration"), ["needs_regeneration"], unique=False)
    with op.batch_alter_table("contracts") as batch:
        batch.add_column(sa.Column("calendar_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("review_pending", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.create_index(batch.f("ix_contracts_calendar_id"), ["calendar_id"], unique=False)
    # Copies kept before: their calendar is in the stored state.
    connection = op.get_bind()
    contracts = sa.table("contracts", sa.column("contract_id", sa.String), sa.column("state", sa.JSON))
    rows = connection.execute(sa.select(contracts.c.contract_id, contracts.c.state)).all()
    for contract_id, state in rows:
        document = json.loads(state) if isinstance(state, str) else state
        connection.execute(
            sa.text("UPDATE contracts SET calendar_id = :calendar WHERE contract_id = :contract"),
            {"calendar": document["terms"]["calendar_id"], "contract": contract_id},
        )


def downgrade() -> None:
    with op.batch_alter_table("contracts") as batch:
        batch.drop_index(batch.f("ix_contracts_calendar_id"))
        batch.drop_column("review_pending")
        batch.drop_column("calendar_id")
    with op.batch_alter_table("bills") as batch:
        batch.drop_index(batch.f("ix_bills_needs_regeneration"))
        batch.drop_index(batch.f("ix_bills_grace_ends_at"))
        batch.drop_column("grace_ends_at")
