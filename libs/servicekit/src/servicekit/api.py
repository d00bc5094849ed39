"""What every service's REST routes are handed: its units of work, the time, and who is calling, with
what roles and accounts.

Routes declare these as dependencies (`Annotated` aliases in each service's api module), so a route
names exactly what it uses and never reaches for the whole application object.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from servicekit.auth import Caller, Role
from servicekit.db import Database
from servicekit.errors import Unauthenticated
from servicekit.http import CALLER
from servicekit.origin import Origin
from servicekit.outbox import OutboxRelay
from servicekit.tables import MessagingTables
from servicekit.uow import UnitOfWork

U = TypeVar("U", bound=UnitOfWork)


class UnitsOfWork(Generic[U]):
    """Opens a service's units of work: `write()` for a change and its events, `read()` for a query."""

    def __init__(
        self,
        unit_of_work: type[U],
        db: Database,
        tables: MessagingTables,
        relay: OutboxRelay | None,
        *,
        source: str,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._db = db
        self._tables = tables
        self._relay = relay
        self._source = source

    def write(self) -> U:
        return self._unit_of_work(self._db, self._tables, self._relay, source=self._source)

    def read(self) -> U:
        return self._unit_of_work(self._db, self._tables, None, source=self._source, read_only=True)


def units_of_work(request: Request) -> UnitsOfWork[Any]:
    return request.app.state.units  # type: ignore[no-any-return]


def now(request: Request) -> datetime:
    """The service's clock, read once per request."""
    return request.app.state.clock()  # type: ignore[no-any-return]


_bearer = HTTPBearer(
    auto_error=False,
    description="a JWT from the identity provider (in the dev stack: `python -m servicekit.dev_token`)",
)


def authenticated(
    request: Request, _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None
) -> Caller:
    """The caller the bearer token names (verified once, by the authentication middleware)."""
    found = request.state.caller if hasattr(request.state, CALLER) else None
    if isinstance(found, Caller):
        return found
    raise found if isinstance(found, Unauthenticated) else Unauthenticated("this needs a bearer token")


def allow(*roles: Role) -> Any:
    """`dependencies=[allow(Role.ADMIN, Role.BILLING)]`: who may call a route, declared beside it."""

    def permitted(caller: Annotated[Caller, Depends(authenticated)]) -> None:
        caller.require(*roles)

    return Depends(permitted)


def origin_of(caller: Annotated[Caller, Depends(authenticated)]) -> Origin:
    """The caller as the actor every event of the request is signed with."""
    return caller.origin
