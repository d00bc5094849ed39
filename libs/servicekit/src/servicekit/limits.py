"""How large a Kafka record of ours may be, set the same everywhere: each topic's `max.message.bytes`
and each producer's `max_request_size` (the sizes themselves are contracts-schema's, which bounds every
field at the edge to fit them). An event larger than `EVENT_MAX_BYTES` is refused when published
(`servicekit.uow.MessageTooLarge`); the relay parks any row over it that got into the outbox anyway."""

from __future__ import annotations

from contracts_schema.limits import MAX_EVENT_BYTES, MAX_MESSAGE_BYTES

MESSAGE_MAX_BYTES = MAX_MESSAGE_BYTES
"""A record on our topics, headers included (Kafka's default, set explicitly)."""

EVENT_MAX_BYTES = MAX_EVENT_BYTES
"""An event's JSON document: the rest of a record is for headers and trace context."""

DEAD_LETTER_BODY_MAX_BYTES = 960 * 1024
"""A dead letter keeps the original bytes up to this; beyond, they are cut and a header says so, so
that the copy with its reasons always fits a record."""
