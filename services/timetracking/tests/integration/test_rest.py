"""Time entries over REST, on the running service: logged, refused, found and listed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from tests.support.auth import bearer

pytestmark = pytest.mark.kafka

LOGGED = "timetracking.time_entry.logged"


async def test_an_entry_logged_over_rest_is_stored_on_its_contract_and_announced_by_the_caller(
    timetracking, account, make_contract_state, make_log_command
) -> None:
    contract = make_contract_state(account_id=account)
    await timetracking.sign(contract)
    command = make_log_command(account_id=account)

    logged = await timetracking.log(command, **bearer("integration", subject="desk-bot"))

    assert logged["contract_id"] == str(contract.contract_id)
    assert (logged["minutes"], logged["started_at"]) == (90, "2026-03-02T14:00:00Z")
    assert await timetracking.entry(command.entry_id) == logged
    announced = await timetracking.reply(command.entry_id, LOGGED)
    assert announced.data["entry"] == logged
    assert (announced.actor, announced.causationid) == ("desk-bot", None)


async def test_a_support_rep_logs_time_as_themselves_and_signs_it(
    timetracking, account, make_log_command
) -> None:
    command = make_log_command(account_id=account, rep_id="bob")

    await timetracking.log(command, **bearer("support_rep", accounts=[account], subject="bob"))
    as_someone_else = await timetracking.api.post(
        "/time-entries",
        json=make_log_command(account_id=account, rep_id="ann").model_dump(mode="json"),
        headers=bearer("support_rep", accounts=[account], subject="bob"),
    )

    assert (await timetracking.reply(command.entry_id, LOGGED)).actor == "bob"
    assert as_someone_else.status_code == 403


async def test_an_entry_the_plan_does_not_allow_is_refused_with_422_and_not_stored(
    timetracking, account, make_contract_state, make_log_command
) -> None:
    await timetracking.sign(make_contract_state(account_id=account))
    command = make_log_command(account_id=account, time_taken_minutes=30)

    response = await timetracking.api.post("/time-entries", json=command.model_dump(mode="json"))

    assert response.status_code == 422
    assert "override the time taken" in response.json()["detail"]
    assert await timetracking.entry(command.entry_id) is None
    assert await timetracking.published(account) == []


async def test_logging_an_entry_again_answers_what_was_logged_and_other_values_under_its_id_conflict(
    timetracking, account, make_log_command
) -> None:
    command = make_log_command(account_id=account)
    first = await timetracking.log(command)

    again = await timetracking.log(command)
    changed = await timetracking.api.post(
        "/time-entries", json=command.model_copy(update={"billable": False}).model_dump(mode="json")
    )

    assert again == first
    assert changed.status_code == 409
    assert await timetracking.entry(command.entry_id) == first


async def test_an_entry_without_an_id_is_given_one(timetracking, account, make_log_command) -> None:
    body = make_log_command(account_id=account).model_dump(mode="json", exclude={"entry_id"})

    response = await timetracking.api.post("/time-entries", json=body)

    assert response.status_code == 201
    assert await timetracking.entry(uuid.UUID(response.json()["entry_id"])) == response.json()


async def test_entries_are_listed_by_rep_billable_and_start_in_start_order(
    timetracking, account, make_log_command
) -> None:
    late = make_log_command(
        account_id=account,
        started_at=datetime(2026, 3, 3, 9, tzinfo=UTC),
        ended_at=datetime(2026, 3, 3, 10, tzinfo=UTC),
    )
    early = make_log_command(account_id=account)
    not_billable = make_log_command(account_id=account, billable=False)
    other_rep = make_log_command(account_id=account, rep_id="bob")
    for command in (late, early, not_billable, other_rep):
        await timetracking.log(command)

    response = await timetracking.api.get(
        "/time-entries",
        params={
            "account_id": account,
            "rep_id": "ann",
            "billable": "true",
            "started_from": "2026-03-02T00:00:00+01:00",
            "started_before": "2026-03-04T00:00:00Z",
        },
    )

    page = response.json()
    assert [item["entry_id"] for item in page["items"]] == [str(early.entry_id), str(late.entry_id)]
    assert (page["total"], page["limit"], page["offset"]) == (2, 100, 0)


async def test_an_entry_that_was_never_logged_is_not_found(timetracking) -> None:
    response = await timetracking.api.get(f"/time-entries/{uuid.uuid4()}")

    assert response.status_code == 404
