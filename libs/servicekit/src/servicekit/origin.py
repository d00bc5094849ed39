"""Who caused a change, and which message led to it: every event we publish says both."""

from __future__ import annotations

from dataclasses import dataclass

from contracts_schema import CloudEvent


@dataclass(frozen=True, slots=True)
class Origin:
    """The actor behind a change and, when a message caused it, that message.

    Entrypoints make one (a REST caller, a Kafka command, the scheduler) and hand it to the use case;
    the unit of work stamps it on every event the use case publishes: `actor`, and the cause's id as
    `causationid` with its `correlationid` carried on.
    """

    actor: str
    cause: CloudEvent | None = None

    @classmethod
    def of_message(cls, event: CloudEvent) -> Origin:
        """A change a message asked for; a message that names no actor is its source's doing."""
        return cls(actor=event.actor or event.source, cause=event)
