"""Which failures are the world's (a database or broker out of reach: wait and try again) and which
are the message's or the code's (waiting changes nothing)."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

_UNREACHABLE = (OperationalError, InterfaceError, ConnectionError, OSError, TimeoutError)


def is_transient(error: BaseException) -> bool:
    """The database or broker is unreachable: waiting helps. An IntegrityError or DataError does not."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, _UNREACHABLE)
