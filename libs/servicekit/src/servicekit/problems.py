"""Errors over REST as RFC 9457 problem details (`application/problem+json`).

Every rule a request can break has a stable `type`: the URI of its domain error's name
(`.../problems/overlapping-contract`), so a client branches on the type, not on the wording of `detail`.
A body that cannot be read (not JSON, not UTF-8) is a 400 `malformed-request`; one that reads but
breaks the fields' rules is a 422 `invalid-request` listing what is wrong with which field. An answer
stays small whatever was sent: at most 20 field errors, each echoing at most `MAX_ECHO` characters of
the value it refuses (a scalar; a list or object is not echoed), and a `detail` of at most
`MAX_DETAIL` characters. Text that cannot be encoded (a lone surrogate) is escaped, never a 500.

Every operation's OpenAPI `responses` list the problem statuses it can answer, with this module's
`Problem` as the `application/problem+json` schema (`document_problems`).
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
CHALLENGE = b'Bearer realm="support-billing"'
"""The WWW-Authenticate header of a 401."""
TYPE_BASE = "https://support-billing.dev/problems/"
MAX_FIELD_ERRORS = 20
MAX_ECHO = 100
"""Characters of a refused value echoed in a field error."""
MAX_DETAIL = 1000


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="where in the request: body, query, path, then the field")
    msg: str
    type: str
    input: str | int | float | bool | None = Field(
        default=None,
        description=f"the value refused, if a scalar; a text cut to {MAX_ECHO} characters (ending in …)",
    )


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
    errors: list[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        type=problem_type(name),
        title=re.sub(r"(?<!^)(?=[A-Z])", " ", name).capitalize(),
        status=status,
        detail=_printable(detail, MAX_DETAIL),
        instance=_printable(request.url.path, MAX_DETAIL),
        errors=errors,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def _printable(text: str, limit: int) -> str:
    """At most `limit` characters, encodable as UTF-8 (a lone surrogate is escaped)."""
    cut = text if len(text) <= limit else text[: limit - 1] + "…"
    return cut.encode("utf-8", "backslashreplace").decode("utf-8")


def _echo(value: Any) -> str | int | float | bool | None:
    if isinstance(value, str):
        return _printable(value, MAX_ECHO)
    if isinstance(value, bool | int | float) and not (isinstance(value, int) and value.bit_length() > 64):
        return value
    return None


async def domain_error(request: Request, error: DomainError) -> JSONResponse:
    headers = {"WWW-Authenticate": CHALLENGE.decode()} if isinstance(error, Unauthenticated) else None
    return problem_response(request, error.status_code, type(error).__name__, str(error), headers=headers)


_UNREADABLE = frozenset({"json_invalid"})
"""Errors of a body that is not JSON at all, rather than JSON with fields that break their rules."""


async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    found = error.errors()
    if any(item.get("type") in _UNREADABLE and tuple(item.get("loc", ()))[:1] == ("body",) for item in found):
        return malformed_request(request)
    errors = [_field_error(item) for item in found[:MAX_FIELD_ERRORS]]
    detail = "the request is not valid"
    if errors:
        detail = f"{'.'.join(map(str, errors[0].loc))}: {errors[0].msg}"
    if len(found) > 1:
        detail += f" (and {len(found) - 1} more)"
    return problem_response(request, 422, "InvalidRequest", detail, errors=errors)


def _field_error(item: Mapping[str, Any]) -> FieldError:
    return FieldError(
        loc=[part if isinstance(part, int) else _printable(str(part), 100) for part in item.get("loc", ())][
            :10
        ],
        msg=_printable(str(item.get("msg", "")), 500),
        type=str(item.get("type", "")),
        input=_echo(item.get("input")),
    )


def malformed_request(request: Request) -> JSONResponse:
    return problem_response(
        request, 400, "MalformedRequest", "the request body is not a JSON document in UTF-8"
    )


async def http_error(request: Request, error: HTTPException) -> JSONResponse:
    if error.status_code == 400:
        return malformed_request(request)
    name = {404: "NotFound", 405: "MethodNotAllowed", 413: "RequestTooLarge"}.get(
        error.status_code, "HttpError"
    )
    headers = dict(error.headers or {})
    if error.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return problem_response(request, error.status_code, name, str(error.detail), headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method the API document gives the request's path (the router names only its first match's)."""
    methods: set[str] = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        if re.fullmatch(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)), request.url.path):
            methods |= {method.upper() for method in operations}
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for problem statuses a route may answer (beside those every route may,
    which `document_problems` adds)."""
    return {status: {"model": Problem, "description": DESCRIPTIONS[status]} for status in statuses}


DESCRIPTIONS = {
    400: "the request body cannot be read: not JSON, or not UTF-8",
    401: "no bearer token, or one that does not verify",
    403: "the token's roles or accounts do not allow this",
    404: "no such resource, or none the token's accounts cover",
    409: "the resource's state does not allow this, a concurrent change won, or the Idempotency-Key is "
    "in use by a request still running",
    413: "the request body is larger than the service takes",
    422: "the request breaks a rule, or its fields are not valid",
    503: "a dependency (the database) is out of reach; retry later",
}
_WRITES = frozenset({"post", "put", "patch", "delete"})


def document_problems(openapi: dict[str, Any], open_paths: frozenset[str]) -> None:
    """Give every operation of an OpenAPI document the problem statuses it can answer, each with the
    `Problem` schema as `application/problem+json`: 401 and 403 (but on open paths), 422 and 503;
    400 and 413 with a request body; 409 on a write (a race, or an Idempotency-Key in use)."""
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem_schema.pop("$defs", {}))
    schemas["Problem"] = problem_schema
    reference = {"$ref": "#/components/schemas/Problem"}
    for path, operations in openapi.get("paths", {}).items():
        for method, operation in operations.items():
            statuses = {422, 503} if path in open_paths else {401, 403, 422, 503}
            if "requestBody" in operation:
                statuses |= {400, 413}
            if method in _WRITES:
                statuses.add(409)
            answers = operation.setdefault("responses", {})
            for status in statuses:
                answers.setdefault(str(status), {"description": DESCRIPTIONS[status]})
            for status, answer in answers.items():
                if status.isdigit() and int(status) in DESCRIPTIONS:
                    answer["content"] = {PROBLEM_JSON: {"schema": reference}}
