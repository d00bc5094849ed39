"""The dev stack on this machine: Kafka (scripts/kafka.sh) and the three services as processes, with
their pid files under `<var>/run` and logs under `<var>/log`; readable console logs by default."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from servicekit import dev_token
from supportctl.settings import ROOT, SERVICES, service_port


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    pid: int | None
    running: bool
    ready: dict[str, bool] | None


class StackError(Exception):
    pass


def kafka_script(command: str, kafka_port: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KAFKA_PORT": str(kafka_port)}
    return subprocess.run(
        [str(ROOT / "scripts" / "kafka.sh"), command], env=env, capture_output=True, text=True, check=False
    )


def _pid_file(var: Path, name: str) -> Path:
    return var / "run" / f"{name}.pid"


def _pid(var: Path, name: str) -> int | None:
    try:
        return int(_pid_file(var, name).read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A child we started and that exited is a zombie until reaped: reap it, so it reads as gone.
    try:
        done, _status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == 0


def signing_keys(folder: Path) -> Path:
    """The dev stack's own token signing key, made once; returns the key set the services verify with."""
    return dev_token.init(folder)


def start_service(var: Path, name: str, *, bootstrap: str, log_format: str, jwks: Path) -> int:
    pid = _pid(var, name)
    if _alive(pid):
        assert pid is not None
        return pid
    (var / "run").mkdir(parents=True, exist_ok=True)
    (var / "log").mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "LOG_FORMAT": os.environ.get("LOG_FORMAT", log_format),
        f"{name.upper()}_HTTP_PORT": str(service_port(name)),
        "AUTH_JWKS_FILE": os.environ.get("AUTH_JWKS_FILE", str(jwks)),
    }
    env.setdefault(f"{name.upper()}_DATABASE_URL", f"sqlite+aiosqlite:///{var / name}.db")
    with (var / "log" / f"{name}.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", f"{name}.entrypoints.main"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # not stopped by the terminal's Ctrl-C meant for supportctl
        )
    _pid_file(var, name).write_text(str(process.pid))
    return process.pid


def ready(name: str) -> dict[str, bool] | None:
    try:
        response = httpx.get(f"http://127.0.0.1:{service_port(name)}/ready", timeout=2.0)
    except httpx.HTTPError:
        return None
    checks: dict[str, bool] = response.json()
    return checks


def wait_ready(var: Path, name: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        checks = ready(name)
        if checks is not None and all(checks.values()):
            return
        if not _alive(_pid(var, name)):
            raise StackError(f"{name} exited during start-up (log: {var / 'log' / name}.log)")
        time.sleep(0.3)
    raise StackError(f"{name} not ready after {timeout:.0f} s (log: {var / 'log' / name}.log)")


def stop_service(var: Path, name: str) -> bool:
    """SIGTERM, then SIGKILL after 15 s; returns whether it was running."""
    pid = _pid(var, name)
    was_running = _alive(pid)
    if pid is not None and was_running:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    _pid_file(var, name).unlink(missing_ok=True)
    return was_running


def status(var: Path) -> list[ServiceStatus]:
    found: list[ServiceStatus] = []
    for name in SERVICES:
        pid = _pid(var, name)
        running = _alive(pid)
        found.append(ServiceStatus(name, pid, running, ready(name) if running else None))
    return found
