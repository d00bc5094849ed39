"""Prometheus metrics every service exports the same way (served on /metrics)."""

from __future__ import annotations

from prometheus_client import Counter

SCHEDULER_ITEMS = Counter(
    "scheduler_items_total",
    "Items (contracts) a scheduler job handled, by job and outcome (done, deferred, parked)",
    ["job", "outcome"],
)
