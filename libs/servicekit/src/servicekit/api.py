"""What every service's REST routes are handed: its units of work, the time, and who is calling, with
what roles and accounts.

Every dependency here is `async def`, though none awaits anything: FastAPI runs a plain `def`
dependency in a thread of its pool, a hop per dependency per request that costs more than the work.

Routes declare these as dependencies (`Annotated` aliases in each service's api module), so a route
names exactly what it uses and never reaches for the whole application object.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import ResponseValidationError
from fastapi.routing import APIRoute, _effective_route_context_var
from fastapi.utils import is_body_allowed_for_status_code
from pydantic import BaseModel
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


class DirectRoute(APIRoute):
    """A route of a JSON body whose dependencies only read the request, solved by calling them.

    FastAPI solves each request's dependencies generically (a few dozen µs per dependency, whatever
    it does), reads the body through `json` after parsing its content type with `email.message`, and
    wraps each step in its telemetry. For a route at thousands of requests a second that is most of
    its CPU. Here a body sent as `application/json` is parsed and validated as FastAPI would, each
    dependency (an `async def` of the request alone, as `allow`, `authenticated` and `units_of_work`
    are) is called with the request, and the answer is serialised by the route's response field, as
    FastAPI does it. Anything else (another content type, a body that does not validate, overridden
    dependencies) goes through FastAPI's own handling, so every error is answered as before. The
    route, and so the OpenAPI document, is FastAPI's. A route that does not fit is refused when it is
    made: `direct_route` is a promise about its signature. With tracing on, the request's server span
    has no children for FastAPI's steps (dependencies, endpoint, serialisation) on the direct way.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        fallback = super().get_route_handler()
        effective = _effective_route_context_var.get()  # as included in an app, with its dependencies
        route = effective if effective is not None and effective.original_route is self else self
        return _direct_handler(route, fallback)


def direct_route(
    router: APIRouter, path: str, *, methods: Sequence[str], **options: Any
) -> Callable[[Callable[..., Awaitable[Any]]], Callable[..., Awaitable[Any]]]:
    """`@direct_route(router, "/things", methods=["POST"], ...)`: `router.api_route` with a `DirectRoute`."""

    def add(endpoint: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        router.add_api_route(
            path, endpoint, methods=list(methods), route_class_override=DirectRoute, **options
        )
        return endpoint

    return add


def _direct_handler(
    route: Any, fallback: Callable[[Request], Coroutine[Any, Any, Response]]
) -> Callable[[Request], Coroutine[Any, Any, Response]]:
    dependant: Dependant = route.dependant
    endpoint, body_field, response_field = dependant.call, route.body_field, route.response_field
    body_model = body_field.field_info.annotation if body_field is not None else None
    fits = (
        inspect.iscoroutinefunction(endpoint)
        and len(dependant.body_params) == 1
        and not route._embed_body_fields
        and isinstance(body_model, type)
        and issubclass(body_model, BaseModel)
        and not body_field.field_info.metadata
        and not (dependant.path_params or dependant.query_params or dependant.header_params)
        and not dependant.cookie_params
        and _reads_only_the_request(dependant, top=True)
        and all(_reads_only_the_request(dependency, top=False) for dependency in dependant.dependencies)
        and response_field is not None
        and isinstance(route.response_class, DefaultPlaceholder)
        and is_body_allowed_for_status_code(route.status_code or 200)  # it always sends a body
    )
    if not fits:
        raise TypeError(f"{route.path}: not a route DirectRoute can serve (see its docstring)")
    assert body_model is not None and body_field is not None and response_field is not None
    body_name = body_field.name
    calls = list(dict.fromkeys(dependency.call for dependency in dependant.dependencies))
    named = [(dependency.name, dependency.call) for dependency in dependant.dependencies if dependency.name]
    status_code = route.status_code or 200
    overrides = route.dependency_overrides_provider
    serialised = {
        "include": route.response_model_include,
        "exclude": route.response_model_exclude,
        "by_alias": route.response_model_by_alias,
        "exclude_unset": route.response_model_exclude_unset,
        "exclude_defaults": route.response_model_exclude_defaults,
        "exclude_none": route.response_model_exclude_none,
    }

    async def handle(request: Request) -> Response:
        if request.headers.get("content-type") != "application/json" or (
            overrides is not None and getattr(overrides, "dependency_overrides", None)
        ):
            return await fallback(request)
        try:
            # Parsed, then validated, as FastAPI does: pydantic's JSON mode reads some values otherwise
            # (a whole-valued number such as 100.0 for an amount of a currency without decimals).
            body = body_model.model_validate(json.loads(await request.body()))
        except ValueError:  # not JSON, or not valid (pydantic's ValidationError is a ValueError)
            return await fallback(request)  # FastAPI says what is wrong, as it always has
        solved = {call: await call(request) for call in calls}  # type: ignore[misc]
        values = {name: solved[call] for name, call in named}
        values[body_name] = body
        content = await endpoint(**values)  # type: ignore[misc]
        if isinstance(content, Response):
            return content
        value, errors = response_field.validate(content, {}, loc=("response",))
        if errors:
            raise ResponseValidationError(errors=errors, body=content)
        return Response(
            response_field.serialize_json(value, **serialised),
            status_code=status_code,
            media_type="application/json",
        )

    return handle


def _reads_only_the_request(dependant: Dependant, *, top: bool) -> bool:
    """The endpoint (`top`) or a dependency of it takes nothing FastAPI would have to make: no response
    to amend, no background tasks, no scopes; a dependency takes the request alone, has none of its
    own, and is an `async def` that returns its value (no `yield`)."""
    if (
        dependant.response_param_name
        or dependant.background_tasks_param_name
        or dependant.security_scopes_param_name
        or dependant.websocket_param_name
        or dependant.http_connection_param_name
    ):
        return False
    if top:
        return dependant.request_param_name is None
    return (
        inspect.iscoroutinefunction(dependant.call)
        and dependant.request_param_name is not None
        and not dependant.dependencies
        and not (dependant.path_params or dependant.query_params or dependant.header_params)
        and not (dependant.cookie_params or dependant.body_params)
    )
