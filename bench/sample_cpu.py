"""Helper: every benchmark process's CPU, once a second, beside a running benchmark (Linux /proc).

    uv run python bench/sample_cpu.py [--seconds 300] &
    uv run python bench/end_to_end.py ...

Each line is one second: the CPU each kind of process used in it, in % of one core (timetracking and
billing service processes of the benchmarks, told apart by their BENCH_SERVICE; the Kafka broker;
PostgreSQL's server processes; the raw pipeline's two hops; the benchmark itself), and what the
machine left idle, also in % of one core (a two-core machine has 200). Processes that come and go
(a service restarted for the measured phase) are counted while they live.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import cpu_seconds  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def kind_of(pid: str) -> str | None:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None
    if "kafka.Kafka" in command:
        return "kafka"
    if "postgres" in command.split(" ")[0]:
        return "postgres"
    if "_raw_hop.py" in command:
        return "raw-hop-1" if "raw-hop-0" in command else "raw-hop-2"
    if "_service_server.py" in command:
        try:
            environment = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            return "service"
        for variable in environment:
            if variable.startswith(b"BENCH_SERVICE="):
                return variable.split(b"=", 1)[1].decode()
        return "service"
    if "bench/" in command and "sample_cpu.py" not in command:
        return "bench"
    return None


def idle_ticks() -> int:
    return int(Path("/proc/stat").read_text().split("\n", 1)[0].split()[4])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=300, help="how long to sample (default 300)")
    args = parser.parse_args()
    if args.seconds < 1:
        parser.error("--seconds must be at least 1")
    before: dict[str, tuple[str, float]] = {}
    idle_before = idle_ticks()
    for _ in range(args.seconds + 1):
        now: dict[str, tuple[str, float]] = {}
        for pid in filter(str.isdigit, os.listdir("/proc")):
            kind = kind_of(pid)
            # 0.0: the process is gone (or has used nothing yet), so it adds nothing this second.
            if kind is not None and (seconds := cpu_seconds(pid)) > 0:
                now[pid] = (kind, seconds)
        idle = idle_ticks()
        if before:
            used: dict[str, float] = {}
            for pid, (kind, seconds) in now.items():
                if pid in before:
                    used[kind] = used.get(kind, 0.0) + seconds - before[pid][1]
            shares = " ".join(f"{kind}={round(100 * spent)}" for kind, spent in sorted(used.items()))
            left = 100 * (idle - idle_before) // TICKS
            print(f"{time.strftime('%H:%M:%S')} {shares} idle={left}", flush=True)
        before, idle_before = now, idle
        time.sleep(1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
