"""Time entries over REST: what no rule could judge is refused at the edge with a 4xx problem, never a
500 (issue 11, failure 5)."""

from __future__ import annotations

import json

import pytest

from servicekit.problems import PROBLEM_JSON


async def test_an_offset_past_any_page_is_refused(timetracking) -> None:
    response = await timetracking.api.get("/time-entries", params={"offset": str(2**63)})

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON


@pytest.mark.parametrize(
    "started_at", ["9999-12-31T23:59:00-01:00", "9999-12-31T00:00:00Z", "0001-01-01T00:00:00+01:00"]
)
async def test_an_entry_dated_at_the_ends_of_the_calendar_is_refused(
    timetracking, account, make_log_command, started_at: str
) -> None:
    body = make_log_command(account_id=account).model_dump(mode="json", exclude={"ended_at"})
    body |= {"started_at": started_at, "duration_minutes": 30}

    response = await timetracking.api.post("/time-entries", json=body)

    assert response.status_code == 422, response.text


@pytest.mark.parametrize(
    "changes",
    [{"custom_fields": {"\ud800": "x"}}, {"description": "\ud800"}, {"description": "nul \x00 byte"}],
    ids=["surrogate in a field name", "surrogate in a text", "NUL in a text"],
)
async def test_text_that_cannot_be_stored_is_refused(
    timetracking, account, make_log_command, changes
) -> None:
    body = make_log_command(account_id=account).model_dump(mode="json") | changes

    response = await timetracking.api.post(
        "/time-entries",
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
