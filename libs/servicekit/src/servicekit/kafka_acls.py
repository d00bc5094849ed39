"""Who may do what on Kafka: each principal's topics and consumer groups, declared once.

On a secured broker (scripts/kafka.sh with KAFKA_SASL=1, docker-compose.yml) nothing is allowed without
an ACL, and these are all the ACLs there are. They follow from the topic registry:
- a service reads the topics it subscribes to (its `entrypoints/consumers.py`), in consumer groups named
  `<service>.<subscriber>`, so one prefixed group ACL covers them all;
- it writes the event topics it owns (a topic's name starts with its owner) and the `.dlq` twin of every
  topic it reads, where its consumers dead-letter; it writes no command topic, its own included;
- an integration writes command topics only, and reads the event topics that answer them.
No principal uses transactions or creates topics: `admin`, the broker's super user, creates topics,
users and these ACLs (`python -m servicekit.admin`), and is the operators' user (supportctl).

Each principal is a SCRAM user named after its service (`User:billing`), and a service runs under its
own name (`SERVICE_NAME`), which its consumer groups start with.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from contracts_schema import TOPICS, Topic
from contracts_schema import registry as topics
from contracts_schema.cli import owning_service


class ResourceType(IntEnum):
    """Kafka's wire codes (org.apache.kafka.common.resource.ResourceType)."""

    TOPIC = 2
    GROUP = 3


class PatternType(IntEnum):
    LITERAL = 3
    PREFIXED = 4


class Operation(IntEnum):
    """Kafka's wire codes (org.apache.kafka.common.acl.AclOperation). Read and Write imply Describe."""

    READ = 3
    WRITE = 4


ALLOW = 3
ANY_HOST = "*"

SUBSCRIPTIONS: dict[str, tuple[Topic, ...]] = {
    "contracts": (topics.CONTRACT_COMMANDS, topics.TIME_ENTRIES, topics.BILLS, topics.USAGE),
    "billing": (topics.CONTRACTS, topics.CALENDARS, topics.TIME_ENTRIES, topics.BILLING_COMMANDS),
    "timetracking": (topics.TIME_ENTRY_COMMANDS, topics.BILLS, topics.CONTRACTS, topics.CALENDARS),
}
"""The topics each service consumes, as its consumers.py subscribes to them (a test holds them equal)."""

INTEGRATION = "integration"
"""The principal of a connected system (help desk, CRM, ERP): one per system in production, each given
this access under its own name (`acls --integration NAME`)."""


@dataclass(frozen=True, order=True)
class AclBinding:
    """One ALLOW rule for any host: `principal` may do `operation` on the resource."""

    principal: str
    resource_type: ResourceType
    resource_name: str
    pattern_type: PatternType
    operation: Operation

    def describe(self) -> str:
        pattern = "prefix " if self.pattern_type is PatternType.PREFIXED else ""
        return (
            f"{self.principal} may {self.operation.name} "
            f"{self.resource_type.name.lower()} {pattern}{self.resource_name}"
        )


@dataclass(frozen=True)
class Access:
    """What one principal may do: read and write these topics, read in groups starting with the prefix."""

    user: str
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    group_prefix: str

    @property
    def principal(self) -> str:
        return f"User:{self.user}"

    def bindings(self) -> list[AclBinding]:
        def on_topic(name: str, operation: Operation) -> AclBinding:
            return AclBinding(self.principal, ResourceType.TOPIC, name, PatternType.LITERAL, operation)

        return [
            *(on_topic(name, Operation.READ) for name in self.reads),
            *(on_topic(name, Operation.WRITE) for name in self.writes),
            AclBinding(
                self.principal, ResourceType.GROUP, self.group_prefix, PatternType.PREFIXED, Operation.READ
            ),
        ]


def service_access(service: str) -> Access:
    reads = SUBSCRIPTIONS[service]
    owned = [topic.name for topic in TOPICS if owning_service(topic) == service and topic.kind == "events"]
    return Access(
        user=service,
        reads=tuple(topic.name for topic in reads),
        writes=(*owned, *(topic.dlq for topic in reads)),
        group_prefix=f"{service}.",
    )


def integration_access(user: str = INTEGRATION) -> Access:
    commands = [topic for topic in TOPICS if topic.kind == "commands"]
    return Access(
        user=user,
        reads=tuple(dict.fromkeys(topic.answered_on for topic in commands if topic.answered_on)),
        writes=tuple(topic.name for topic in commands),
        group_prefix=f"{user}.",
    )


def declared_access(integrations: Iterable[str] = (INTEGRATION,)) -> list[Access]:
    """Every principal's access: the three services, then each integration."""
    return [*(service_access(service) for service in SUBSCRIPTIONS), *map(integration_access, integrations)]


def declared_bindings(integrations: Iterable[str] = (INTEGRATION,)) -> list[AclBinding]:
    return [binding for access in declared_access(integrations) for binding in access.bindings()]


def markdown() -> str:
    """The declared access as docs/security.md shows it (a test keeps the two equal)."""
    lines = [
        "| principal | reads (topics) | writes (topics) | consumer groups |",
        "| --- | --- | --- | --- |",
    ]
    for access in declared_access():
        lines.append(
            f"| `{access.principal}` | {_names(access.reads)} | {_names(access.writes)} "
            f"| `{access.group_prefix}*` |"
        )
    return "\n".join(lines) + "\n"


def _names(names: Iterable[str]) -> str:
    return "<br>".join(f"`{name}`" for name in names)
