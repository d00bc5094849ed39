"""Alembic environment of the contracts service."""

from contracts.adapters.tables import metadata
from servicekit.migrations import run_migrations

run_migrations(metadata)
