"""Developer command: `python -m servicekit.make_migration SERVICE "message"` autogenerates a revision.

It diffs the service's tables against a scratch SQLite database brought to the current head.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from alembic import command

from servicekit.migrations import alembic_config

SERVICES = ("contracts", "billing", "timetracking")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m servicekit.make_migration")
    parser.add_argument("service", choices=SERVICES)
    parser.add_argument("message")
    parser.add_argument("--rev-id", default=None)
    args = parser.parse_args(argv)
    root = Path(__file__).resolve().parents[4]
    script_location = root / "services" / args.service / "migrations"
    with tempfile.TemporaryDirectory() as scratch:
        config = alembic_config(f"sqlite+aiosqlite:///{scratch}/scratch.db", script_location)
        command.upgrade(config, "head")
        command.revision(config, message=args.message, autogenerate=True, rev_id=args.rev_id)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
