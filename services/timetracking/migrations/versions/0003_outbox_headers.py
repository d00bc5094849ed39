"""outbox rows carry the Kafka headers they are sent with (W3C trace context)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 17:20:00
"""

from collections.abc import Sequence

from servicekit.migrations import add_outbox_headers, drop_outbox_headers

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_outbox_headers()


def downgrade() -> None:
    drop_outbox_headers()
