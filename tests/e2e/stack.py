"""The whole stack as real processes: three services on their own databases and the real broker."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
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

    def wait_ready(self, timeout: float = 60.0) -> float:
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
    services: dict[str, ServiceProcess] = field(default_factory=dict)

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.services[name]

    def start(self) -> float:
        """Start all three and return the seconds until all were ready."""
        started = time.monotonic()
        for service in self.services.values():
            service.start()
        for service in self.services.values():
            service.wait_ready()
        return time.monotonic() - started

    def restart(self, name: str) -> None:
        self.services[name].kill()
        self.services[name].start()
        self.services[name].wait_ready()

    def stop(self) -> None:
        for service in self.services.values():
            service.stop()


def make_stack(
    bootstrap: str, database_urls: dict[str, str], log_dir: Path, extra_env: dict[str, str] | None = None
) -> Stack:
    stack = Stack()
    for name in SERVICES:
        prefix = name.upper()
        port = free_port()
        env = {
            **os.environ,
            **(extra_env or {}),
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            f"{prefix}_DATABASE_URL": database_urls[name],
            f"{prefix}_HTTP_PORT": str(port),
            f"{prefix}_RELAY_POLL_SECONDS": "0.2",
            f"{prefix}_SCHEDULER_INTERVAL_SECONDS": "1",
        }
        stack.services[name] = ServiceProcess(name, port, env, log_dir / f"{name}.log")
    return stack
