"""Which failures wait (the world's) and which do not (the message's or the code's); and a broker
outage logged once a minute, not hundreds of times a second."""

from __future__ import annotations

import logging

import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    TopicAuthorizationFailedError,
)
from asyncpg.exceptions import CannotConnectNowError, UniqueViolationError
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from servicekit.faults import is_transient
from servicekit.logs import OncePerInterval


def wrapped(error: Exception) -> DBAPIError:
    """What SQLAlchemy raises around an asyncpg error."""
    return DBAPIError("SELECT 1", {}, error)


@pytest.mark.parametrize(
    "error",
    [
        wrapped(CannotConnectNowError("the database system is starting up")),
        OperationalError("SELECT 1", {}, Exception("database is locked")),
        KafkaConnectionError("no broker"),
        KafkaTimeoutError(),
        NotLeaderForPartitionError(),
        ConnectionRefusedError(),
    ],
    ids=[
        "postgres starting",
        "sqlite locked",
        "broker unreachable",
        "send timed out",
        "no leader yet",
        "refused",
    ],
)
def test_a_dependency_out_of_reach_is_waited_for(error: Exception) -> None:
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        IntegrityError("INSERT", {}, UniqueViolationError("duplicate key")),
        MessageSizeTooLargeError(),
        TopicAuthorizationFailedError(),
        ValueError("numeric field overflow"),
    ],
    ids=["unique violation", "record too large", "not authorized", "a bug"],
)
def test_a_failure_waiting_does_not_cure_is_not_waited_for(error: Exception) -> None:
    assert not is_transient(error)


def record(name: str, created: float, level: int = logging.ERROR) -> logging.LogRecord:
    made = logging.LogRecord(name, level, __file__, 1, "Unable connect to node with id %s", (1,), None)
    made.created = created
    return made


def test_a_kafka_client_repeating_itself_is_heard_once_a_minute_with_a_count() -> None:
    once = OncePerInterval(("aiokafka",), interval_seconds=60)

    let_through = [once.filter(record("aiokafka.conn", 1000 + n * 0.003)) for n in range(300)]
    later = record("aiokafka.conn", 1061)
    after_a_minute = once.filter(later)

    assert let_through.count(True) == 1
    assert (
        after_a_minute
        and later.getMessage() == "Unable connect to node with id 1 (and 299 more like it since the last one)"
    )


def test_other_loggers_and_other_messages_pass_untouched() -> None:
    once = OncePerInterval(("aiokafka",), interval_seconds=60)

    assert once.filter(record("aiokafka.conn", 1000))
    assert all(once.filter(record("billing.scheduler", 1000.1 + n)) for n in range(5))
    assert once.filter(record("aiokafka.conn", 1000.2, level=logging.INFO))
    other = logging.LogRecord("aiokafka.consumer", logging.ERROR, __file__, 1, "Heartbeat failed", (), None)
    assert once.filter(other)
