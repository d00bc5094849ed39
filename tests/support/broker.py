"""A Kafka broker of a test's (or a benchmark's) own: scripts/kafka.sh on a chosen port, its data in a
folder of its own, so that it can be stopped and started again without touching anyone else's broker."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


class LocalBroker:
    """A single-node KRaft broker on 127.0.0.1:`port` (its controller on `port` + 1).

    The port is fixed rather than free-picked so the broker comes back where its clients look for it
    after a restart; pick one below the kernel's ephemeral range, where no client socket takes it
    meanwhile."""

    def __init__(self, port: int, home: Path) -> None:
        self.port = port
        self.home = home
        self.bootstrap = f"127.0.0.1:{port}"
        self._running = False

    def _script(self, command: str, timeout: float) -> None:
        env = {**os.environ, "KAFKA_PORT": str(self.port), "KAFKA_HOME": str(self.home)}
        subprocess.run(
            [str(ROOT / "scripts" / "kafka.sh"), command],
            env=env,
            check=True,
            timeout=timeout,
            stdout=subprocess.DEVNULL,
        )

    def start(self) -> float:
        """Start it and return the seconds until it answered. Refuses a port someone else's broker
        holds: kafka.sh would take that broker for ours."""
        if not self._running and (port_answers(self.port) or port_answers(self.port + 1)):
            raise RuntimeError(f"port {self.port} or {self.port + 1} is taken: not ours to use")
        started = time.monotonic()
        self._script("start", 180)
        self._running = True
        return time.monotonic() - started

    def __enter__(self) -> LocalBroker:
        try:
            self.start()
        except BaseException:
            self.stop()  # it may have started and then not answered in time
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        """A clean stop (SIGTERM, then waiting for the broker to exit)."""
        self._script("stop", 90)
        self._running = False

    def restart(self) -> float:
        """Stop and start again; returns the seconds the broker was away."""
        started = time.monotonic()
        self.stop()
        self.start()
        return time.monotonic() - started
