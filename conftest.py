"""Fixtures every test folder shares: the real Kafka broker and a fresh database per use.

TEST_DATABASE=sqlite (default) or postgresql picks the database; with postgresql,
TEST_POSTGRES_URL_PREFIX (e.g. postgresql+asyncpg://user:pw@127.0.0.1:55432/) names the server and
each database is created fresh and dropped at the end. KAFKA_BOOTSTRAP_SERVERS names the broker;
when nothing answers there, the session starts one with scripts/kafka.sh.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.auth import JWKS_FILE

ROOT = Path(__file__).resolve().parent
# Services built in-process read it from their settings; services started as processes inherit it.
os.environ.setdefault("AUTH_JWKS_FILE", str(JWKS_FILE))
DatabaseUrlFactory = Callable[[str], str]


def _answers(bootstrap: str) -> bool:
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    if _answers(bootstrap):
        yield bootstrap
        return
    port = bootstrap.rpartition(":")[2]
    env = {**os.environ, "KAFKA_PORT": port, "KAFKA_HOME": str(ROOT / ".cache" / f"kafka-pytest-{port}")}
    subprocess.run([ROOT / "scripts" / "kafka.sh", "start"], env=env, check=True)
    try:
        yield bootstrap
    finally:
        subprocess.run([ROOT / "scripts" / "kafka.sh", "stop"], env=env, check=False)


def database_kind() -> str:
    kind = os.environ.get("TEST_DATABASE", "sqlite")
    if kind not in ("sqlite", "postgresql"):
        raise pytest.UsageError(f"TEST_DATABASE must be sqlite or postgresql, not {kind!r}")
    return kind


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseUrlFactory]:
    """`database_url("billing")` gives the URL of a new, empty database."""
    kind = database_kind()
    created: list[str] = []
    prefix = os.environ.get("TEST_POSTGRES_URL_PREFIX", "")
    if kind == "postgresql" and not prefix:
        raise pytest.UsageError("TEST_DATABASE=postgresql needs TEST_POSTGRES_URL_PREFIX")

    def make(name: str) -> str:
        unique = f"{name}_{uuid.uuid4().hex[:10]}"
        if kind == "sqlite":
            folder = tmp_path_factory.mktemp("db")
            return f"sqlite+aiosqlite:///{folder / unique}.db"
        _postgres_admin(prefix, f'CREATE DATABASE "{unique}"')
        created.append(unique)
        return prefix + unique

    yield make
    for name in created:
        _postgres_admin(prefix, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _postgres_admin(prefix: str, statement: str) -> None:
    """Run one statement on the server's `postgres` database, from sync or async fixtures alike."""
    import asyncpg  # only the PostgreSQL run needs it

    async def execute() -> None:
        connection = await asyncpg.connect(
            prefix.replace("postgresql+asyncpg://", "postgresql://") + "postgres"
        )
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    # A fixture may be called while the session's event loop runs; asyncio.run needs a thread of its own.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, execute()).result()
