"""Errors over REST as RFC 9457 problem details (`application/problem+json`).

Every rule a request can break has a stable `type`: the URI of its domain error's name
(`.../problems/overlapping-contract`), so a client branches on the type, not on the wording of `detail`.
Validation errors list what is wrong with which field, but never echo the input back: a client that
sent a huge body gets a small answer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from servicekit.errors import DomainError, Unauthenticated

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://support-billing.dev/problems/"
MAX_FIELD_ERRORS = 20


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="where in the request: body, query, path, then the field")
    msg: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(description="a URI naming the rule broken; stable, branch on it")
    title: str
    status: int
    detail: str
    instance: str | None = Field(default=None, description="the path of the request")
    errors: list[FieldError] | None = Field(
        default=None, description="for 422: what is wrong, field by field"
    )


def problem_type(name: str) -> str:
    """`OverlappingContract` -> `https://support-billing.dev/problems/overlapping-contract`."""
    return TYPE_BASE + re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def problem_response(
    request: Request,
    status: int,
    name: str,
    detail: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        type=problem_type(name),
        title=re.sub(r"(?<!^)(?=[A-Z])", " ", name).capitalize(),
        status=status,
        detail=detail,
        instance=request.url.path,
        errors=[FieldError.model_validate(error) for error in errors] if errors is not None else None,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


async def domain_error(request: Request, error: DomainError) -> JSONResponse:
    headers = (
        {"WWW-Authenticate": 'Bearer realm="support-billing"'} if isinstance(error, Unauthenticated) else None
    )
    return problem_response(request, error.status_code, type(error).__name__, str(error), headers=headers)


async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    found = error.errors()
    errors = [
        {
            "loc": [part if isinstance(part, int) else str(part)[:100] for part in item.get("loc", ())][:10],
            "msg": str(item.get("msg", ""))[:500],
            "type": str(item.get("type", "")),
        }
        for item in found[:MAX_FIELD_ERRORS]
    ]
    first = errors[0] if errors else None
    detail = f"{'.'.join(map(str, first['loc']))}: {first['msg']}" if first else "the request is not valid"
    if len(found) > 1:
        detail += f" (and {len(found) - 1} more)"
    return problem_response(request, 422, "InvalidRequest", detail, errors=errors)


async def http_error(request: Request, error: HTTPException) -> JSONResponse:
    name = {404: "NotFound", 405: "MethodNotAllowed", 413: "RequestTooLarge"}.get(
        error.status_code, "HttpError"
    )
    return problem_response(request, error.status_code, name, str(error.detail), headers=error.headers)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for problem statuses a route may answer."""
    return {
        status: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": _DESCRIPTIONS[status]}
        for status in statuses
    }


_DESCRIPTIONS = {
    400: "the request cannot be read",
    401: "no bearer token, or one that does not verify",
    403: "the token's roles or accounts do not allow this",
    404: "no such resource, or none the token's accounts cover",
    409: "the resource's state does not allow this, or a concurrent change won",
    413: "the request body is larger than the service takes",
    422: "the request breaks a rule, or its fields are not valid",
    503: "a dependency (the database) is out of reach; retry later",
}
