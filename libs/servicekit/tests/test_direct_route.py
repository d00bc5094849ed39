"""`DirectRoute` answers every request as FastAPI's own handling of the same route does: the same
endpoint served both ways gives the same status, headers and body, for good requests and bad ones."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import fastapi.routing
import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, field_validator
from starlette.types import ASGIApp, Receive, Scope, Send

from servicekit import api, problems
from servicekit.auth import Caller, Role
from servicekit.errors import Conflict, DomainError
from servicekit.http import CALLER


class ThingIn(BaseModel):
    name: str = Field(min_length=1)
    minutes: int = Field(ge=0)
    at: datetime
    price: Decimal | None = None

    @field_validator("price")
    @classmethod
    def _in_whole_yen(cls, price: Decimal | None) -> Decimal | None:
        # As `Money` refuses more places than the currency has: pydantic's JSON mode reads 100.0 as
        # Decimal("100"), its Python mode (FastAPI's, after json.loads) as Decimal("100.0").
        if price is not None and isinstance(exponent := price.as_tuple().exponent, int) and exponent < 0:
            raise ValueError("yen have no decimals")
        return price


class ThingOut(BaseModel):
    name: str
    minutes: int
    at: datetime
    by: str
    made_by_alias: int = Field(alias="madeByAlias")


async def clock(request: Request) -> str:
    return "12:00"


Authenticated = Annotated[Caller, Depends(api.authenticated)]
Clock = Annotated[str, Depends(clock)]


async def make_thing(body: ThingIn, caller: Authenticated, now: Clock) -> ThingOut:
    if body.name == "taken":
        raise Conflict(f"{body.name} is taken (asked at {now})")
    return ThingOut(name=body.name, minutes=body.minutes, at=body.at, by=caller.subject, madeByAlias=1)


class CallerFromHeader:
    """Stands in for the authentication middleware: the caller, with the roles the `x-roles` header names."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        roles = dict(scope["headers"]).get(b"x-roles", b"").decode()
        caller = Caller("ann", frozenset(Role(role) for role in roles.split(",") if role), None)
        scope.setdefault("state", {})[CALLER] = caller
        await self._app(scope, receive, send)


def served(direct: bool, *, guarded_where: str = "route") -> httpx.AsyncClient:
    """The endpoint, its role check on the route itself or given where its router is included."""
    router = APIRouter()
    guard = [api.allow(Role.ADMIN)]
    options: dict[str, Any] = {"status_code": 201, "dependencies": guard if guarded_where == "route" else []}
    if direct:
        api.direct_route(router, "/things", methods=["POST"], **options)(make_thing)
    else:
        router.post("/things", **options)(make_thing)
    app = FastAPI()
    app.add_exception_handler(DomainError, problems.domain_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, problems.validation_error)  # type: ignore[arg-type]
    if guarded_where == "include":
        outer = APIRouter()
        outer.include_router(router, prefix="/v1", dependencies=guard)
        app.include_router(outer)
    else:
        app.include_router(router)
    app.add_middleware(CallerFromHeader)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service")


GOOD = b'{"name": "tea", "minutes": 15, "at": "2026-03-02T14:00:59+00:00"}'
REQUESTS: dict[str, tuple[bytes, dict[str, str]]] = {
    "a good request": (GOOD, {}),
    "a rule the endpoint enforces": (GOOD.replace(b"tea", b"taken"), {}),
    "a role missing": (GOOD, {"x-roles": "billing"}),
    "a field out of range": (GOOD.replace(b"15", b"-1"), {}),
    "a field missing": (b'{"name": "tea", "minutes": 15}', {}),
    "not JSON": (b'{"name": ', {}),
    "JSON of another content type": (GOOD, {"content-type": "application/merge-patch+json"}),
    "JSON with a charset": (GOOD, {"content-type": "application/json; charset=utf-8"}),
    "no content type": (GOOD, {"content-type": ""}),
    "an empty body": (b"", {}),
    "a whole number written with a decimal point": (GOOD.replace(b"}", b', "price": 100.0}'), {}),
    "a whole number written as an integer": (GOOD.replace(b"}", b', "price": 100}'), {}),
}


@pytest.mark.parametrize("sent", REQUESTS.values(), ids=REQUESTS.keys())
async def test_a_direct_route_answers_as_fastapi_does(sent: tuple[bytes, dict[str, str]]) -> None:
    body, headers = sent
    headers = {"content-type": "application/json", "x-roles": "admin"} | headers
    answers = []
    for direct in (False, True):
        async with served(direct) as client:
            response = await client.post("/things", content=body, headers=headers)
        answers.append((response.status_code, response.headers.multi_items(), response.content))

    assert answers[1] == answers[0]


async def test_a_good_request_takes_the_direct_way(monkeypatch: pytest.MonkeyPatch) -> None:
    async def not_solved(**_: Any) -> None:
        raise AssertionError("FastAPI's dependency solving ran")

    client = served(direct=True)
    monkeypatch.setattr(fastapi.routing, "solve_dependencies", not_solved)

    async with client:
        response = await client.post(
            "/things", content=GOOD, headers={"content-type": "application/json", "x-roles": "admin"}
        )

    assert response.status_code == 201
    assert response.json() == {
        "name": "tea",
        "minutes": 15,
        "at": "2026-03-02T14:00:59Z",
        "by": "ann",
        "madeByAlias": 1,
    }


def test_a_route_it_cannot_serve_directly_is_refused_when_made() -> None:
    async def with_a_response(body: ThingIn, response: Response) -> ThingOut:
        raise AssertionError("never called")

    with pytest.raises(TypeError, match="not a route DirectRoute can serve"):
        api.direct_route(APIRouter(), "/things", methods=["POST"])(with_a_response)


@pytest.mark.parametrize("roles", ["admin", "billing"])
async def test_a_role_check_given_where_the_router_is_included_holds_on_the_direct_way(roles: str) -> None:
    answers = []
    for direct in (False, True):
        async with served(direct, guarded_where="include") as client:
            response = await client.post(
                "/v1/things", content=GOOD, headers={"content-type": "application/json", "x-roles": roles}
            )
        answers.append((response.status_code, response.content))
    assert answers[1] == answers[0]
    assert answers[0][0] == (201 if roles == "admin" else 403)
