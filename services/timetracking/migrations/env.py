"""Alembic environment of the timetracking service."""

from servicekit.migrations import run_migrations
from timetracking.adapters.tables import metadata

run_migrations(metadata)
