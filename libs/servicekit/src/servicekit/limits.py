"""How large a Kafka record of ours may be, set the same everywhere: each topic's `max.message.bytes`
and each producer's `max_request_size`. An event's payload must leave room below it for its headers
and for the headers a dead letter adds, so the edge limits (contracts-schema) keep every event we
publish under `EVENT_MAX_BYTES`; what gets past them anyway is refused when written to the outbox."""

from __future__ import annotations

MESSAGE_MAX_BYTES = 1_048_576
"""A record on our topics, headers included (Kafka's default, set explicitly)."""

EVENT_MAX_BYTES = 900 * 1024
"""An event's JSON document in the outbox: the rest of a record is for headers, trace context and a
dead letter's reasons."""

DEAD_LETTER_BODY_MAX_BYTES = 960 * 1024
"""A dead letter keeps the original bytes up to this; beyond, they are cut and a header says so."""
