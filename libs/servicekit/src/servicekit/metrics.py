"""Prometheus metrics every service exports the same way (served on /metrics).

The hot paths count per batch, not per message: a consumer adds a batch's size to its counter once,
the relay adds what it sent per topic once per send. Gauges that need a query (the outbox backlog)
are refreshed by a background loop every few seconds, never by a scrape.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

SCHEDULER_ITEMS = Counter(
    "scheduler_items_total",
    "Items (contracts) a scheduler job handled, by job and outcome (done, deferred, parked)",
    ["job", "outcome"],
)
SCHEDULER_TICKS = Counter(
    "scheduler_ticks_total",
    "Ticks of a scheduled job, by outcome (ran, skipped when a dependency was out of reach)",
    ["job", "outcome"],
)

HTTP_REQUESTS = Counter(
    "http_requests_total",
    "REST requests answered, by method, route template and status code",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time to answer a REST request, by method and route template",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

MESSAGES_CONSUMED = Counter(
    "kafka_messages_consumed_total",
    "Records a consumer group read, by topic (a batch read again after a failure counts again)",
    ["topic", "group"],
)
MESSAGES_PRODUCED = Counter(
    "kafka_messages_produced_total",
    "Records the outbox relay sent and the broker acknowledged, by topic",
    ["topic"],
)
MESSAGES_DEAD_LETTERED = Counter(
    "kafka_messages_dead_lettered_total",
    "Records sent to a .dlq topic, by original topic, group and kind "
    "(invalid: not a message of the topic; rejected: broke a business rule; failed: retries exhausted)",
    ["topic", "group", "kind"],
)
HANDLER_SECONDS = Histogram(
    "kafka_handler_seconds",
    "Time to process one batch of records, including its database transaction, by topic and group",
    ["topic", "group"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
CONSUMER_LAG = Gauge(
    "kafka_consumer_lag",
    "Records behind the partition's end after the group's last batch, by topic, partition and group",
    ["topic", "partition", "group"],
)

OUTBOX_PENDING = Gauge("outbox_pending_messages", "Outbox rows not yet sent to Kafka")
OUTBOX_OLDEST_PENDING = Gauge(
    "outbox_oldest_pending_seconds",
    "Age of the oldest outbox row not yet sent (0 when none): a row that will not leave shows here",
)

OUTBOX_PARKED = Counter(
    "outbox_parked_total",
    "Outbox rows parked because Kafka will not take them, or because an earlier row of their key was",
)
OUTBOX_PARKED_NOW = Gauge("outbox_parked_messages", "Outbox rows parked now, waiting for an operator")

BILLS_MADE = Counter(
    "bills_made_total",
    "Bills and bill versions billing made, by the status they were made in (draft or issued)",
    ["status"],
)
