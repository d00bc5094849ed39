"""the keys of parked outbox rows are read from an index of parked rows alone

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

from servicekit.migrations import drop_parked_outbox_rows_index, index_parked_outbox_rows

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    index_parked_outbox_rows()


def downgrade() -> None:
    drop_parked_outbox_rows_index()
