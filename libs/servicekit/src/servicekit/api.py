"""What every service's REST routes are handed: its units of work, the time, and who is calling.

Routes declare these as dependencies (`Annotated` aliases in each service's api module), so a route
names exactly what it uses and never reaches for the whole application object.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Header, Request

from servicekit.db import Database
from servicekit.origin import Origin
from servicekit.outbox import OutboxRelay
from servicekit.tables import MessagingTables
from servicekit.uow import UnitOfWork

U = TypeVar("U", bound=UnitOfWork)

ANONYMOUS = "anonymous"


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


def caller(
    x_actor: Annotated[str | None, Header(max_length=200, description="who is making the change")] = None,
) -> Origin:
    """Who is calling: the actor every event of the request is signed with."""
    return Origin(actor=x_actor or ANONYMOUS)
