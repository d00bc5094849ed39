"""The public, versioned contract between the services: message models, topics and the envelope."""

from contracts_schema.envelope import CloudEvent
from contracts_schema.primitives import MoneyAmount, WireModel
from contracts_schema.registry import MESSAGE_TYPES, TOPICS, Topic, message_type_of, model_of, topic_of

__all__ = [
    "MESSAGE_TYPES",
    "TOPICS",
    "CloudEvent",
    "MoneyAmount",
    "Topic",
    "WireModel",
    "message_type_of",
    "model_of",
    "topic_of",
]
