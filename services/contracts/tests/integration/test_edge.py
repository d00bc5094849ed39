"""What comes in over REST is checked at the edge: a bad value is a 4xx problem, never a 500, and an
answer stays small whatever was sent (issue 11, failures 3 and 5)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from servicekit.problems import MAX_ECHO, PROBLEM_JSON
from services.contracts.tests import builders
from services.contracts.tests.integration.conftest import Setup

CALENDAR: dict[str, Any] = {
    "name": "Tashkent office",
    "time_zone": "Asia/Tashkent",
    "working_hours": [{"start": "09:00", "end": "17:00"}],
}


def assert_problem(response: httpx.Response, status: int, type_ends: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem: dict[str, Any] = response.json()
    assert problem["type"].endswith(type_ends) and problem["status"] == status
    return problem


@pytest.mark.parametrize(
    "working_hours",
    [
        [{"start": "09:00+05:00", "end": "17:00+05:00"}],
        [{"start": "09:00+05:00", "end": "12:00+05:00"}, {"start": "13:00", "end": "17:00"}],
    ],
    ids=["offsets", "plain and offset mixed"],
)
async def test_working_hours_with_an_offset_are_refused_as_billing_would_not_read_them(
    api: httpx.AsyncClient, working_hours: list[dict[str, str]]
) -> None:
    response = await api.post("/calendars", json={**CALENDAR, "working_hours": working_hours})

    problem = assert_problem(response, 422, "invalid-request")
    assert "without an offset" in problem["detail"]


async def test_a_calendar_day_may_end_at_midnight(api: httpx.AsyncClient) -> None:
    hours = [{"start": "18:00", "end": "24:00"}]
    response = await api.post("/calendars", json={**CALENDAR, "working_hours": hours})

    assert response.status_code == 201, response.text
    assert response.json()["working_hours"] == [{"start": "18:00:00", "end": "24:00:00"}]


@pytest.mark.parametrize("time_zone", ["", "localtime", "Factory", "Europe/Nowhere", "../etc"])
async def test_a_calendar_in_no_iana_time_zone_is_refused(api: httpx.AsyncClient, time_zone: str) -> None:
    response = await api.post("/calendars", json={**CALENDAR, "time_zone": time_zone})

    assert_problem(response, 422, "invalid-request")


async def test_an_offset_past_any_page_is_refused(api: httpx.AsyncClient) -> None:
    response = await api.get("/contracts", params={"offset": str(2**63)})

    assert_problem(response, 422, "invalid-request")


async def test_a_contract_that_ends_in_year_9999_is_refused(
    api: httpx.AsyncClient, setup: Setup, account_id: str
) -> None:
    plan_id = await setup.plan()
    body = builders.contract_body(account_id, plan_id) | {"expiry_date": "9999-12-31"}

    problem = assert_problem(await api.post("/contracts", json=body), 422, "invalid-request")
    assert problem["errors"][0]["loc"] == ["body", "expiry_date"]


@pytest.mark.parametrize(
    "body",
    ['{"\\ud800": 1}', '{"name": "\\ud800", "time_zone": "Asia/Tashkent", "working_hours": []}'],
    ids=["as a field name", "in a value"],
)
async def test_a_lone_surrogate_is_refused_with_a_problem_that_can_be_encoded(
    api: httpx.AsyncClient, body: str
) -> None:
    response = await api.post("/calendars", content=body, headers={"content-type": "application/json"})

    assert_problem(response, 422, "invalid-request")


async def test_a_422_echoes_at_most_a_little_of_each_value_it_refuses(api: httpx.AsyncClient) -> None:
    huge = "x" * 400_000
    response = await api.post("/calendars", json={**CALENDAR, "name": huge, "time_zone": huge})

    problem = assert_problem(response, 422, "invalid-request")
    assert len(response.content) < 4_000
    assert all(len(str(error.get("input", ""))) <= MAX_ECHO for error in problem["errors"])


async def test_a_body_over_the_limit_is_refused_with_413(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/calendars", content=b" " * 20_000_000, headers={"content-type": "application/json"}
    )

    assert_problem(response, 413, "request-too-large")


async def test_a_body_sent_in_chunks_is_refused_with_413_over_the_limit_and_taken_under_it(
    api: httpx.AsyncClient,
) -> None:
    """Without a Content-Length the size is known only while the body streams; refused while FastAPI
    read it, it was a 400 (a reviewer's chunked 1.1 MB POST)."""

    async def chunks(body: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
        for start in range(0, len(body), size):
            yield body[start : start + size]

    headers = {"content-type": "application/json"}
    huge = await api.post("/calendars", content=chunks(b" " * 2_000_000), headers=headers)
    assert "content-length" not in huge.request.headers
    assert_problem(huge, 413, "request-too-large")

    fits = await api.post("/calendars", content=chunks(json.dumps(CALENDAR).encode(), 7), headers=headers)
    assert fits.status_code == 201, fits.text


async def test_a_body_that_is_not_json_is_a_400_problem(api: httpx.AsyncClient) -> None:
    for body in (b"{not json", b"\xff\xfe\x00"):
        response = await api.post("/calendars", content=body, headers={"content-type": "application/json"})
        assert_problem(response, 400, "malformed-request")


async def test_unknown_routes_and_methods_are_problems(api: httpx.AsyncClient) -> None:
    assert_problem(await api.get("/no-such-thing"), 404, "not-found")
    response = await api.delete("/calendars")
    assert_problem(response, 405, "method-not-allowed")
    assert "GET" in response.headers["allow"]


async def test_every_problem_status_is_documented_with_the_problem_schema(api: httpx.AsyncClient) -> None:
    document = (await api.get("/openapi.json")).json()
    create = document["paths"]["/calendars"]["post"]["responses"]

    assert {"400", "401", "403", "409", "413", "422", "503"} <= set(create)
    assert create["422"]["content"] == {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    assert "input" in document["components"]["schemas"]["FieldError"]["properties"]


async def test_a_nul_in_a_query_is_refused_rather_than_sent_to_the_database(api: httpx.AsyncClient) -> None:
    """PostgreSQL refuses NUL in text: schemathesis found GET /coverage answering 500 on it."""
    response = await api.get("/coverage", params={"account_id": "acct\x00"})

    assert_problem(response, 422, "invalid-request")
