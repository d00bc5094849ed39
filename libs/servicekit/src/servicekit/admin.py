"""Operator commands: `python -m servicekit.admin create-topics [--bootstrap HOST:PORT]`."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from servicekit.kafka import ensure_topics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m servicekit.admin")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-topics", help="create every topic and its .dlq twin")
    create.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    args = parser.parse_args(argv)
    try:
        created = asyncio.run(asyncio.wait_for(ensure_topics(args.bootstrap), timeout=60))
    except Exception as error:  # noqa: BLE001 - an operator gets the reason and a non-zero exit
        print(f"create-topics: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(f"create-topics: {len(created)} created" + (": " + ", ".join(created) if created else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
