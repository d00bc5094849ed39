"""What an administrator asks of a secured broker: ACLs (servicekit.kafka_acls) and SCRAM users.

aiokafka's admin client has neither (aio-libs/aiokafka#955), so these send the Kafka requests
themselves: CreateAcls and DescribeAcls with aiokafka's own request classes, and
AlterUserScramCredentials (KIP-554) with a request class of ours. Either needs a super user (`admin`).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from enum import IntEnum
from typing import Any

from aiokafka.client import AIOKafkaClient
from aiokafka.errors import for_code
from aiokafka.protocol.admin import CreateAclsRequest, DescribeAclsRequest
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import (
    CompactArray,
    CompactBytes,
    CompactString,
    Int8,
    Int16,
    Int32,
    Schema,
    TaggedFields,
)

from servicekit.kafka_acls import ALLOW, ANY_HOST, AclBinding, Operation, PatternType, ResourceType
from servicekit.kafka_security import KafkaSecurity

Send = Callable[[Any], Awaitable[Any]]

_ANY = 1  # the "any" code of resource type, pattern type, operation and permission in a filter
SCRAM_MECHANISMS = {"SCRAM-SHA-256": (1, "sha256"), "SCRAM-SHA-512": (2, "sha512")}
SCRAM_ITERATIONS = 8192
"""Kafka accepts 4096 to 16384."""


class KafkaAdminError(Exception):
    """The broker refused an administrative request; the message says which and why."""


@asynccontextmanager
async def admin_requests(bootstrap_servers: str, security: KafkaSecurity) -> AsyncIterator[Send]:
    """A connection to the cluster, as a function that sends one request to any broker."""
    client = AIOKafkaClient(
        bootstrap_servers=bootstrap_servers, client_id="servicekit-admin", **security.for_aiokafka()
    )

    async def send(request: Any) -> Any:
        return await client.send(client.get_random_node(), request)

    try:
        await client.bootstrap()
        yield send
    finally:
        await client.close()


# --- ACLs ------------------------------------------------------------------------------------------


async def describe_acls(send: Send) -> set[AclBinding]:
    """The broker's ALLOW rules for any host on topics and groups; other kinds of ACL (none of ours)
    are left out."""
    response = await send(DescribeAclsRequest(_ANY, None, _ANY, None, None, _ANY, _ANY))
    _raise_for(response.error_code, response.error_message, "describing ACLs")
    found: set[AclBinding] = set()
    for resource_type, resource_name, pattern_type, acls in response.resources:
        if resource_type not in _values(ResourceType) or pattern_type not in _values(PatternType):
            continue
        for principal, host, operation, permission in acls:
            if host == ANY_HOST and permission == ALLOW and operation in _values(Operation):
                found.add(
                    AclBinding(
                        principal,
                        ResourceType(resource_type),
                        resource_name,
                        PatternType(pattern_type),
                        Operation(operation),
                    )
                )
    return found


async def create_acls(send: Send, bindings: Iterable[AclBinding]) -> None:
    """Create each binding; one that exists already is left as it is."""
    for binding in bindings:
        request = CreateAclsRequest(
            binding.resource_type,
            binding.resource_name,
            binding.pattern_type,
            binding.principal,
            ANY_HOST,
            binding.operation,
            ALLOW,
        )
        response = await send(request)
        for error_code, error_message in response.creation_responses:
            _raise_for(error_code, error_message, binding.describe())


async def apply_acls(send: Send, bindings: Iterable[AclBinding]) -> list[AclBinding]:
    """Create the bindings the broker lacks; returns those it created (none when run again)."""
    existing = await describe_acls(send)
    missing = sorted(set(bindings) - existing)
    await create_acls(send, missing)
    return missing


# --- SCRAM users -----------------------------------------------------------------------------------


_Upsertion = tuple[str, int, int, bytes, bytes, dict[int, bytes]]
"""User name, mechanism code, iterations, salt, salted password, tagged fields."""


class _AlterUserScramCredentialsResponse(Response):  # type: ignore[misc]  # aiokafka is untyped
    API_KEY = 51
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "results",
            CompactArray(
                ("user_name", CompactString("utf-8")),
                ("error_code", Int16),
                ("error_message", CompactString("utf-8")),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class _AlterUserScramCredentialsStruct(RequestStruct):  # type: ignore[misc]
    FLEXIBLE_VERSION = True
    API_KEY = 51
    API_VERSION = 0
    RESPONSE_TYPE = _AlterUserScramCredentialsResponse
    SCHEMA = Schema(
        (
            "deletions",
            CompactArray(("name", CompactString("utf-8")), ("mechanism", Int8), ("tags", TaggedFields)),
        ),
        (
            "upsertions",
            CompactArray(
                ("name", CompactString("utf-8")),
                ("mechanism", Int8),
                ("iterations", Int32),
                ("salt", CompactBytes),
                ("salted_password", CompactBytes),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class _AlterUserScramCredentials(Request[_AlterUserScramCredentialsStruct]):  # type: ignore[misc]
    API_KEY = 51

    def __init__(self, upsertions: list[_Upsertion]) -> None:
        self._upsertions = upsertions

    def build(
        self, request_struct_class: type[_AlterUserScramCredentialsStruct]
    ) -> _AlterUserScramCredentialsStruct:
        return request_struct_class([], self._upsertions, {})


def salted_password(password: str, salt: bytes, mechanism: str, iterations: int = SCRAM_ITERATIONS) -> bytes:
    """SCRAM's SaltedPassword (RFC 5802: Hi(password, salt, i)), which is what the broker stores."""
    _code, digest = SCRAM_MECHANISMS[mechanism]
    return hashlib.pbkdf2_hmac(digest, password.encode(), salt, iterations)


async def set_scram_credentials(
    send: Send, passwords: Mapping[str, str], *, mechanism: str = "SCRAM-SHA-512"
) -> None:
    """Create each user, or give it a new password, for one SCRAM mechanism."""
    code, _digest = SCRAM_MECHANISMS[mechanism]
    upsertions: list[_Upsertion] = []
    for user, password in passwords.items():
        salt = secrets.token_bytes(32)
        salted = salted_password(password, salt, mechanism)
        upsertions.append((user, code, SCRAM_ITERATIONS, salt, salted, {}))
    response = await send(_AlterUserScramCredentials(upsertions))
    for user, error_code, error_message, _tags in response.results:
        _raise_for(error_code, error_message, f"setting the {mechanism} credential of {user}")


def _values(codes: type[IntEnum]) -> set[int]:
    return {code.value for code in codes}


def _raise_for(error_code: int, error_message: str | None, doing: str) -> None:
    if error_code != 0:
        error = for_code(error_code)
        raise KafkaAdminError(f"{doing}: {error.__name__}" + (f": {error_message}" if error_message else ""))
