"""Which failures are the world's (a database or broker out of reach: wait and try again) and which
are the message's or the code's (waiting changes nothing)."""

from __future__ import annotations

from aiokafka.errors import KafkaError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

_UNREACHABLE = (OperationalError, InterfaceError, ConnectionError, OSError, TimeoutError)

_UNREACHABLE_BROKER = frozenset({"KafkaConnectionError", "NodeNotReadyError", "KafkaTimeoutError"})
"""aiokafka errors of a broker out of reach that it does not mark retriable."""

_TRANSIENT_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300", "40001", "40P01"})
"""Server shutting down or starting (57P0x, asyncpg's CannotConnectNowError), too many connections,
and a serialization failure or deadlock, which a retry resolves. Class 08 (connection) is checked apart."""


def is_transient(error: BaseException) -> bool:
    """The database or broker is unreachable, starting or overloaded: waiting helps. An IntegrityError
    or DataError does not."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, _UNREACHABLE):
        return True
    if isinstance(error, KafkaError):
        # The broker says which of its errors a retry can cure (no leader yet, a timeout, a lost
        # connection); a record too large or a topic not authorized is not one of them.
        return bool(error.retriable) or type(error).__name__ in _UNREACHABLE_BROKER
    cause: BaseException | None = getattr(error, "orig", None) or error.__cause__
    seen = 0
    while cause is not None and seen < 5:
        sqlstate = getattr(cause, "sqlstate", None)
        if isinstance(sqlstate, str) and (sqlstate.startswith("08") or sqlstate in _TRANSIENT_SQLSTATES):
            return True
        if isinstance(cause, _UNREACHABLE):
            return True
        cause, seen = cause.__cause__, seen + 1
    return False
