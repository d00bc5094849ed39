"""Operator commands for the broker, run as its administrator (docs/security.md):

    python -m servicekit.admin create-topics           every topic and its .dlq twin
    python -m servicekit.admin users NAME...           SCRAM users, each password from KAFKA_PASSWORD_<NAME>
    python -m servicekit.admin acls list [--markdown]  the declared ACLs (servicekit.kafka_acls)
    python -m servicekit.admin acls apply              create those the broker lacks
    python -m servicekit.admin acls check              exit 1 when the broker's differ from the declared

Each finds the broker in KAFKA_BOOTSTRAP_SERVERS (or --bootstrap) and authenticates with the services'
KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_* and KAFKA_SSL_* variables.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Sequence

from servicekit.kafka import ensure_topics
from servicekit.kafka_acls import INTEGRATION, AclBinding, declared_bindings, markdown
from servicekit.kafka_admin import (
    SCRAM_MECHANISMS,
    admin_requests,
    apply_acls,
    describe_acls,
    set_scram_credentials,
)
from servicekit.kafka_security import KafkaSecurity, from_environment

TIMEOUT_SECONDS = 60


def main(argv: list[str] | None = None) -> int:
    broker = argparse.ArgumentParser(add_help=False)
    broker.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    parser = argparse.ArgumentParser(prog="python -m servicekit.admin")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("create-topics", parents=[broker], help="create every topic and its .dlq twin")
    users = commands.add_parser("users", parents=[broker], help="create SCRAM users or set their passwords")
    users.add_argument("names", nargs="+", metavar="NAME", help="password from KAFKA_PASSWORD_<NAME>")
    users.add_argument("--mechanism", choices=sorted(SCRAM_MECHANISMS), default="SCRAM-SHA-512")
    acls = commands.add_parser("acls", parents=[broker], help="the ACLs of the services and integrations")
    acls.add_argument("action", choices=["list", "apply", "check"])
    acls.add_argument(
        "--integration",
        action="append",
        metavar="NAME",
        help=f"a connected system's user, given the integration access (repeatable; default {INTEGRATION})",
    )
    acls.add_argument("--markdown", action="store_true", help="list as docs/security.md's table")
    args = parser.parse_args(argv)

    if args.command == "acls" and args.action == "list":
        bindings = declared_bindings(args.integration or [INTEGRATION])
        print(markdown() if args.markdown else "\n".join(binding.describe() for binding in bindings))
        return 0
    try:
        security = from_environment()
        run = _command(args, security)
    except ValueError as error:
        print(f"{args.command}: {error}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(asyncio.wait_for(run(), timeout=TIMEOUT_SECONDS))
    except Exception as error:  # noqa: BLE001 - an operator gets the reason and a non-zero exit
        print(f"{args.command}: {type(error).__name__}: {error}", file=sys.stderr)
        return 1


def _command(args: argparse.Namespace, security: KafkaSecurity) -> Callable[[], Awaitable[int]]:
    bootstrap: str = args.bootstrap
    if args.command == "create-topics":
        return lambda: _create_topics(bootstrap, security)
    if args.command == "users":
        passwords = _passwords(args.names)
        return lambda: _users(bootstrap, security, passwords, args.mechanism)
    bindings = declared_bindings(args.integration or [INTEGRATION])
    if args.action == "apply":
        return lambda: _apply(bootstrap, security, bindings)
    return lambda: _check(bootstrap, security, bindings)


def _passwords(names: Sequence[str]) -> dict[str, str]:
    passwords: dict[str, str] = {}
    for name in names:
        variable = "KAFKA_PASSWORD_" + name.upper().replace("-", "_").replace(".", "_")
        password = os.environ.get(variable)
        if not password:
            raise ValueError(f"set {variable} to {name}'s password (it is never read from the command line)")
        passwords[name] = password
    return passwords


async def _create_topics(bootstrap: str, security: KafkaSecurity) -> int:
    created = await ensure_topics(bootstrap, security=security)
    print(f"create-topics: {len(created)} created" + (": " + ", ".join(created) if created else ""))
    return 0


async def _users(bootstrap: str, security: KafkaSecurity, passwords: dict[str, str], mechanism: str) -> int:
    async with admin_requests(bootstrap, security) as send:
        await set_scram_credentials(send, passwords, mechanism=mechanism)
    print(f"users: {mechanism} credentials set for {', '.join(passwords)}")
    return 0


async def _apply(bootstrap: str, security: KafkaSecurity, bindings: list[AclBinding]) -> int:
    async with admin_requests(bootstrap, security) as send:
        created = await apply_acls(send, bindings)
    for binding in created:
        print(f"  created: {binding.describe()}")
    print(f"acls: {len(created)} created, {len(bindings) - len(created)} were there")
    return 0


async def _check(bootstrap: str, security: KafkaSecurity, bindings: list[AclBinding]) -> int:
    async with admin_requests(bootstrap, security) as send:
        existing = await describe_acls(send)
    principals = {binding.principal for binding in bindings}
    missing = sorted(set(bindings) - existing)
    extra = sorted(binding for binding in existing - set(bindings) if binding.principal in principals)
    for binding in missing:
        print(f"  missing: {binding.describe()}")
    for binding in extra:
        print(f"  not declared: {binding.describe()}")
    print(f"acls: {len(missing)} missing, {len(extra)} not declared, of {len(bindings)} declared")
    return 1 if missing or extra else 0


if __name__ == "__main__":
    raise SystemExit(main())
