"""The whole stack as real processes: the three services on their own databases and the real broker.

A stack may run several processes (replicas) of each service: every replica of a service has its own
port and log, and the same database URL and consumer groups, as replicas have in production.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

SERVICES = ("contracts", "billing", "timetracking")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ServiceProcess:
    name: str
    port: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", f"{self.name}.entrypoints.main"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 120.0) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/ready", timeout=1.0).status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready after {timeout} s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks run, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Stack:
    replicas_of: dict[str, list[ServiceProcess]] = field(default_factory=dict)

    def __getitem__(self, name: str) -> ServiceProcess:
        """The service's first replica (its only one in a stack of one process per service)."""
        return self.replicas_of[name][0]

    def replicas(self, name: str) -> list[ServiceProcess]:
        return self.replicas_of[name]

    def processes(self) -> Iterator[ServiceProcess]:
        for replicas in self.replicas_of.values():
            yield from replicas

    def start(self) -> float:
        """Start every process and return the seconds until all were ready."""
        started = time.monotonic()
        for service in self.processes():
            service.start()
        for service in self.processes():
            service.wait_ready()
        return time.monotonic() - started

    @contextmanager
    def running(self) -> Iterator[float]:
        """Start it, give the seconds until it was ready, and stop it however the block ends."""
        try:
            yield self.start()  # inside the try: a service that never gets ready is stopped too
        finally:
            self.stop()

    def restart(self, name: str, replica: int = 0) -> None:
        """Kill a replica as in a crash, start it again and wait until it is ready."""
        process = self.replicas_of[name][replica]
        process.kill()
        process.start()
        process.wait_ready()

    def stop(self) -> None:
        for service in self.processes():
            service.stop()


def make_stack(
    bootstrap: str,
    database_urls: dict[str, str],
    log_dir: Path,
    extra_env: dict[str, str] | None = None,
    *,
    replicas: int = 1,
) -> Stack:
    """`replicas` processes of each service; replicas share their service's database and groups."""
    stack = Stack()
    for name in SERVICES:
        prefix = name.upper()
        shared = {
            **os.environ,
            **(extra_env or {}),
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            f"{prefix}_DATABASE_URL": database_urls[name],
            f"{prefix}_RELAY_POLL_SECONDS": "0.2",
            f"{prefix}_SCHEDULER_INTERVAL_SECONDS": "1",
        }
        stack.replicas_of[name] = []
        for replica in range(1, replicas + 1):
            port = free_port()
            log_name = f"{name}.log" if replicas == 1 else f"{name}-{replica}.log"
            env = {**shared, f"{prefix}_HTTP_PORT": str(port)}
            stack.replicas_of[name].append(ServiceProcess(name, port, env, log_dir / log_name))
    return stack
