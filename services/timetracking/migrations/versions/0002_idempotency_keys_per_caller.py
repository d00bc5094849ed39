"""idempotency keys belong to their caller; inbox rows are purged by age

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

from servicekit.migrations import scope_idempotency_keys_to_callers

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    scope_idempotency_keys_to_callers()


def downgrade() -> None:
    raise NotImplementedError("keys scoped to callers cannot go back to one key space")
