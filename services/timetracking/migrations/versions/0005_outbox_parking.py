"""an outbox row Kafka will not take is parked with the reason, and the rows of its key after it

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

from servicekit.migrations import add_outbox_parking, drop_outbox_parking

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_outbox_parking()


def downgrade() -> None:
    drop_outbox_parking()
