"""the keys of parked outbox rows are read from an index of parked rows alone; message ids are not
indexed

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

from servicekit.migrations import outbox_before_the_relay_indexes, outbox_for_the_relay

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    outbox_for_the_relay()


def downgrade() -> None:
    outbox_before_the_relay_indexes()
