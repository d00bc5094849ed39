"""idempotency keys belong to their caller; inbox rows are purged by age

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

from servicekit.migrations import scope_idempotency_keys_to_callers

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    scope_idempotency_keys_to_callers()


def downgrade() -> None:
    raise NotImplementedError("keys scoped to callers cannot go back to one key space")
