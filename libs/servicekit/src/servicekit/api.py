"""What every service's REST routes are handed: its units of work, the time, and who is calling, with
what roles and accounts.

Every dependency here is `async def`, though none awaits anything: FastAPI runs a plain `def`
dependency in a thread of its pool, a hop per dependency per request that costs more than the work.

Routes declare these as dependencies (`Annotated` aliases in each service's api module), so a route
names exactly what it uses and never reaches for the whole application object.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

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


async def units_of_work(request: Request) -> UnitsOfWork[Any]:
    return request.app.state.units  # type: ignore[no-any-return]


async def now(request: Request) -> datetime:
    """The service's clock, read once per request."""
    return request.app.state.clock()  # type: ignore[no-any-return]


BEARER = "HTTPBearer"
"""The OpenAPI security scheme of every route that needs a caller."""
_BEARER_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "a JWT from the identity provider (in the dev stack: `python -m servicekit.dev_token`)",
}


def _caller_of(request: Request) -> Caller:
    found = getattr(request.state, CALLER, None)
    if isinstance(found, Caller):
        return found
    raise Unauthenticated("this needs a bearer token")  # an open path asked for a caller


async def authenticated(request: Request) -> Caller:
    """The caller the bearer token names, verified once, by the authentication middleware. Read from
    the request rather than through FastAPI's `HTTPBearer`, which would parse the header again on every
    request; the OpenAPI document still shows the scheme (`document_roles`)."""
    return _caller_of(request)


def allow(*roles: Role) -> Any:
    """`dependencies=[allow(Role.ADMIN, Role.BILLING)]`: who may call a route, declared beside it and
    shown in its OpenAPI operation (`document_roles`)."""

    async def permitted(request: Request) -> None:
        _caller_of(request).require(*roles)

    permitted.roles = frozenset(roles)  # type: ignore[attr-defined]
    return Depends(permitted)


def document_roles(app: FastAPI, routers: Sequence[APIRouter]) -> None:
    """Each operation of `routers` (included in `app` as they are) names the roles that may call it in
    `app`'s OpenAPI document: in `x-roles`, for tools, and in its description, for readers; and each
    that needs a caller, the bearer scheme."""
    plain = app.openapi

    def with_roles() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = plain()
        for route in (route for router in routers for route in router.routes):
            if not isinstance(route, APIRoute):
                continue
            needs_caller, roles = _needs_caller(route.dependant), _roles_of(route)
            if needs_caller:
                schema.setdefault("components", {}).setdefault("securitySchemes", {})[BEARER] = _BEARER_SCHEME
            for method in route.methods or ():
                operation = schema["paths"][route.path_format][method.lower()]
                if needs_caller:
                    operation["security"] = [{BEARER: []}]
                if roles is not None:
                    operation["x-roles"] = sorted(role.value for role in roles)
                    who = (
                        "any role" if roles == set(Role) else ", ".join(f"`{role}`" for role in sorted(roles))
                    )
                    operation["description"] = f"{operation.get('description', '')}\n\nRoles: {who}.".strip()
        app.openapi_schema = schema
        return schema

    app.openapi = with_roles  # type: ignore[method-assign]


def _needs_caller(dependant: Dependant) -> bool:
    return any(
        dependency.call is authenticated or hasattr(dependency.call, "roles") or _needs_caller(dependency)
        for dependency in dependant.dependencies
    )


def _roles_of(route: BaseRoute) -> frozenset[Role] | None:
    for depends in getattr(route, "dependencies", []):
        roles = getattr(depends.dependency, "roles", None)
        if roles is not None:
            return frozenset(roles)
    return None


async def origin_of(caller: Annotated[Caller, Depends(authenticated)]) -> Origin:
    """The caller as the actor every event of the request is signed with."""
    return caller.origin
