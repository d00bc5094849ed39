"""Every benchmark of bench/, one after another, and one table of what they found.

    uv run python bench/run_all.py            # small sizes, about a minute or two
    uv run python bench/run_all.py --full     # the sizes the targets are stated for (several minutes)
        [--database sqlite|postgresql] [--out bench-results.json] [--only NAME ...] [--warm-up SECONDS]

Each benchmark runs as its own process, as it would alone, and writes its figures to a JSON file; the
table has, per figure: the benchmark, ours, the same-run baseline, their ratio, the target and whether
it is met. The whole table is written to `--out` as JSON. A private broker is started for the run (and
stopped after), unless KAFKA_BOOTSTRAP_SERVERS names one and `--own-broker` is not given; either way
the broker is given `--warm-up` seconds of traffic first (120 at full size, 20 small), so that what is
measured is a warm broker, not its JIT compiler (bench/_common.warm_broker). Exit status:
0 when every benchmark's correctness checks passed (a target not met does not fail the run: machines
differ), else 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import OwnBroker, ensure_broker, warm_broker  # noqa: E402

HERE = Path(__file__).resolve().parent

SMALL: dict[str, list[str]] = {
    "ingest": ["ingest_time_entries.py", "--entries", "5000", "--contracts", "100"],
    "end-to-end": [
        "end_to_end.py",
        "--entries",
        "5000",
        "--contracts",
        "100",
        "--rate",
        "1000",
        "--latency-seconds",
        "3",
    ],
    "rest": ["rest_throughput.py", "--seconds", "3"],
    "bill-run": ["bill_run.py", "--sizes", "200,400,800"],
}
FULL: dict[str, list[str]] = {
    "ingest": ["ingest_time_entries.py", "--entries", "30000", "--contracts", "300"],
    "end-to-end": [
        "end_to_end.py", "--entries", "50000", "--contracts", "500",
        "--rate", "2000", "--latency-seconds", "10",
    ],
    "rest": ["rest_throughput.py", "--seconds", "10", "--clients", "20"],
    "bill-run": ["bill_run.py", "--sizes", "1000,3000,10000"],
}  # fmt: skip


def figure_text(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    if unit in ("ms", "MB", "x"):
        return f"{value:,.1f} {unit}"
    return f"{value:,.0f} {unit}"


def table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| benchmark | ours | baseline | ratio | target | met |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    for row in rows:
        ratio = row.get("ratio")
        lines.append(
            f"| {row['benchmark']} | {figure_text(row['ours'], row['unit'])} | "
            f"{figure_text(row['baseline'], row['unit'])} | {'' if ratio is None else f'{ratio:.2f}'} | "
            f"{row['target']} | {'yes' if row['met'] else '**no**'} |"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="the sizes the targets are stated for")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--out", type=Path, default=Path("bench-results.json"))
    parser.add_argument("--only", nargs="*", choices=sorted(SMALL), help="run only these benchmarks")
    parser.add_argument(
        "--own-broker",
        action="store_true",
        help="a private broker on free ports even when KAFKA_BOOTSTRAP_SERVERS names one",
    )
    parser.add_argument(
        "--warm-up", type=float, help="seconds of traffic to warm the broker first (120 full, 20 small)"
    )
    args = parser.parse_args()
    plan = FULL if args.full else SMALL
    warm_up = args.warm_up if args.warm_up is not None else (120.0 if args.full else 20.0)
    if not 0 <= warm_up <= 600:
        parser.error("--warm-up must be 0..600 seconds")
    workdir = Path(tempfile.mkdtemp(prefix="bench-all-"))
    broker = None
    env = dict(os.environ)
    rows: list[dict[str, Any]] = []
    failed: list[str] = []
    started = time.monotonic()
    try:
        if args.own_broker or "KAFKA_BOOTSTRAP_SERVERS" not in os.environ:
            broker = OwnBroker(workdir / "kafka")
            env["KAFKA_BOOTSTRAP_SERVERS"] = broker.start()
        else:
            ensure_broker(env["KAFKA_BOOTSTRAP_SERVERS"])
        asyncio.run(warm_broker(env["KAFKA_BOOTSTRAP_SERVERS"], warm_up))
        for name, command in plan.items():
            if args.only and name not in args.only:
                continue
            out = workdir / f"{name}.json"
            argv = [sys.executable, str(HERE / command[0]), *command[1:], "--json-out", str(out)]
            if name != "rest" or args.database:
                argv += ["--database", args.database]
            print(f"--- {name}: {' '.join(command)} --database {args.database}", flush=True)
            run = subprocess.run(argv, env=env, cwd=HERE.parent, timeout=1800)
            if not out.exists():
                failed.append(f"{name} (exit {run.returncode}, no figures)")
                continue
            result = json.loads(out.read_text())
            if not result["complete"] or run.returncode != 0:
                failed.append(f"{name} (its correctness checks failed, exit {run.returncode})")
            for figure in result["figures"]:
                baseline = figure["baseline"]
                figure["ratio"] = figure["ours"] / baseline if baseline else None
                figure["run"] = name
                rows.append(figure)
    finally:
        if broker is not None:
            broker.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    size = "full" if args.full else "small"
    print(
        f"\n=== all benchmarks, {size} size, {args.database}, {time.monotonic() - started:.0f} s "
        f"(the broker warmed for {warm_up:.0f} s first) ===\n"
    )
    for line in table(rows):
        print(line)
    notes = [f"- {row['benchmark']}: {row['note']}" for row in rows if row.get("note")]
    if notes:
        print("\n" + "\n".join(notes))
    args.out.write_text(
        json.dumps(
            {
                "size": size,
                "database": args.database,
                "warm_up_seconds": warm_up,
                "figures": rows,
                "failed": failed,
            },
            indent=1,
        )
    )
    print(f"\nwritten to {args.out}")
    if failed:
        print("FAILED: " + "; ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
