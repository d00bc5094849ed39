"""Alembic environment of the billing service."""

from billing.adapters.tables import metadata
from servicekit.migrations import run_migrations

run_migrations(metadata)
