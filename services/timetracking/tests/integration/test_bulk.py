"""Many entries at once: batch logging over REST and Kafka, bulk billable marking by ids or selection."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contracts_schema import registry
from contracts_schema.timetracking import LogTimeEntries, MarkTimeEntriesBillable, TimeEntrySelection
from tests.support.auth import bearer

pytestmark = pytest.mark.kafka

COMMANDS = registry.TIME_ENTRY_COMMANDS
LOGGED = "timetracking.time_entry.logged"
CHANGED = "timetracking.time_entry.changed"
REJECTED = "timetracking.time_entry.rejected"
MARKED = "timetracking.time_entries.marked"


def _bodies(*commands: Any) -> list[dict[str, Any]]:
    return [command.model_dump(mode="json") for command in commands]


# --- batch logging ------------------------------------------------------------------------------------


async def test_a_batch_of_valid_entries_is_logged_with_201_and_each_announced(
    timetracking, account, make_log_command
) -> None:
    commands = [make_log_command(account_id=account, request_id=f"R{n}") for n in range(3)]

    response = await timetracking.api.post("/time-entries/batch", json=_bodies(*commands))

    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["logged"], body["refused"]) == (3, 0)
    assert [result["entry"]["request_id"] for result in body["results"]] == ["R0", "R1", "R2"]
    assert [event.type for event in await timetracking.published(account)] == [LOGGED] * 3


async def test_a_batch_keeps_its_valid_entries_and_refuses_each_invalid_one_by_its_index_with_207(
    timetracking, account, make_contract_state, make_log_command
) -> None:
    await timetracking.sign(make_contract_state(account_id=account))
    good = make_log_command(account_id=account)
    zero = make_log_command(account_id=account, ended_at=None, duration_minutes=0)
    override = make_log_command(account_id=account, time_taken_minutes=30)  # the plan forbids it
    also_good = make_log_command(account_id=account, request_id="R2")

    response = await timetracking.api.post(
        "/time-entries/batch", json=_bodies(good, zero, override, also_good)
    )

    assert response.status_code == 207
    body = response.json()
    assert (body["logged"], body["refused"]) == (2, 2)
    assert [(r["index"], r["status"], r["error"]) for r in body["results"]] == [
        (0, 201, None),
        (1, 422, "InvalidSpan"),
        (2, 422, "PlanForbidsOverride"),
        (3, 201, None),
    ]
    assert await timetracking.entry(good.entry_id) == body["results"][0]["entry"]
    assert await timetracking.entry(zero.entry_id) is None
    assert len(await timetracking.published(account)) == 2


async def test_a_batch_over_the_maximum_or_with_a_malformed_entry_is_refused_whole(
    timetracking, account, make_log_command
) -> None:
    too_many = [make_log_command(account_id=account) for _ in range(501)]
    good = make_log_command(account_id=account)
    malformed = {**make_log_command(account_id=account).model_dump(mode="json"), "duration_minutes": 5}

    oversized = await timetracking.api.post("/time-entries/batch", json=_bodies(*too_many))
    with_malformed = await timetracking.api.post("/time-entries/batch", json=[*_bodies(good), malformed])
    empty = await timetracking.api.post("/time-entries/batch", json=[])

    assert (oversized.status_code, with_malformed.status_code, empty.status_code) == (422, 422, 422)
    assert with_malformed.json()["errors"][0]["loc"][:2] == ["body", 1]  # names the entry at fault
    assert await timetracking.published(account) == []


async def test_a_batch_command_logs_its_valid_entries_and_rejects_each_invalid_one_by_index(
    timetracking, account, make_log_command
) -> None:
    good = make_log_command(account_id=account)
    old = make_log_command(
        account_id=account,
        started_at=datetime(1999, 1, 4, 9, tzinfo=UTC),
        ended_at=datetime(1999, 1, 4, 10, tzinfo=UTC),
    )
    stranger = make_log_command(account_id="another-account")
    batch = LogTimeEntries(account_id=account, entries=[good, old, stranger])

    sent = await timetracking.send(COMMANDS, batch, account)

    answers = await timetracking.answers(sent, account, count=2)
    logged = next(event for event in answers if event.type == LOGGED)
    rejected = next(event for event in answers if event.type == REJECTED)
    assert logged.data["entry"]["entry_id"] == str(good.entry_id)
    assert (rejected.data["index"], rejected.data["error"], rejected.data["entry_id"]) == (
        1,
        "StartOutOfRange",
        str(old.entry_id),
    )
    assert rejected.data["command_type"] == "timetracking.time_entries.log"
    (other,) = await timetracking.answers(sent, "another-account")
    assert (other.type, other.data["index"], other.data["error"]) == (REJECTED, 2, "EntryOfAnotherAccount")
    assert await timetracking.entry(stranger.entry_id) is None


# --- bulk billable marking ----------------------------------------------------------------------------


async def test_entries_marked_non_billable_by_ids_change_and_each_refused_one_says_why(
    timetracking, account, make_log_command
) -> None:
    plain, already, billed = (make_log_command(account_id=account) for _ in range(3))
    for command in (plain, billed):
        await timetracking.log(command)
    await timetracking.log(already.model_copy(update={"billable": False}))
    await timetracking.bill(account, [billed.entry_id])
    unknown = uuid.uuid4()
    ids = [plain.entry_id, already.entry_id, billed.entry_id, unknown]

    response = await timetracking.api.post(
        "/time-entries/billable",
        json={"account_id": account, "billable": False, "entry_ids": [str(i) for i in ids]},
        headers=bearer(subject="lead"),
    )

    assert response.status_code == 200, response.text
    marked = response.json()
    assert marked["changed"] == [str(plain.entry_id)]
    assert set(marked["refused"]) == {str(billed.entry_id), str(unknown)}
    assert "give a reason" in marked["refused"][str(billed.entry_id)]
    assert not (await timetracking.entry(plain.entry_id))["billable"]
    assert (await timetracking.entry(billed.entry_id))["billable"]
    *_, changed = await timetracking.published(account)
    assert (changed.type, changed.actor, changed.data["reason"]) == (CHANGED, "lead", "marked non-billable")
    assert (changed.data["previous"]["billable"], changed.data["entry"]["version"]) == (True, 2)
    audit = (await timetracking.api.get(f"/time-entries/{plain.entry_id}/audit")).json()
    assert audit[-1]["action"] == "marked_non_billable"


async def test_entries_a_selection_matches_are_marked_billed_ones_too_with_a_reason(
    timetracking, account, make_log_command
) -> None:
    ann_early, ann_billed = make_log_command(account_id=account), make_log_command(account_id=account)
    ann_late = make_log_command(
        account_id=account,
        started_at=datetime(2026, 4, 2, 9, tzinfo=UTC),
        ended_at=datetime(2026, 4, 2, 10, tzinfo=UTC),
    )
    bob = make_log_command(account_id=account, rep_id="bob")
    for command in (ann_early, ann_billed, ann_late, bob):
        await timetracking.log(command)
    await timetracking.bill(account, [ann_billed.entry_id])
    march = {"started_from": "2026-03-01T00:00:00Z", "started_before": "2026-04-01T00:00:00Z"}

    response = await timetracking.api.post(
        "/time-entries/billable",
        json={
            "account_id": account,
            "billable": False,
            "selection": {"rep_id": "ann", **march},
            "reason": "goodwill for March",
        },
    )

    assert sorted(response.json()["changed"]) == sorted([str(ann_early.entry_id), str(ann_billed.entry_id)])
    assert response.json()["refused"] == {}
    listed = (
        await timetracking.api.get("/time-entries", params={"account_id": account, "billable": False})
    ).json()
    assert listed["total"] == 2


async def test_a_selection_matching_more_entries_than_one_marking_carries_is_refused_whole(
    timetracking, account, make_log_command
) -> None:
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    commands = [
        make_log_command(
            account_id=account, started_at=start + timedelta(minutes=n), ended_at=None, duration_minutes=1
        )
        for n in range(501)
    ]
    for chunk in (commands[:500], commands[500:]):
        assert (await timetracking.api.post("/time-entries/batch", json=_bodies(*chunk))).status_code == 201

    too_many = await timetracking.api.post(
        "/time-entries/billable", json={"account_id": account, "billable": False, "selection": {}}
    )
    narrowed = await timetracking.api.post(
        "/time-entries/billable",
        json={
            "account_id": account,
            "billable": False,
            "selection": {"started_before": (start + timedelta(minutes=500)).isoformat()},
        },
    )

    assert too_many.status_code == 422 and "more than 500" in too_many.json()["detail"]
    assert len(narrowed.json()["changed"]) == 500


async def test_a_marking_command_is_answered_by_time_entries_marked_and_each_change_announced(
    timetracking, account, make_log_command
) -> None:
    first, second = (
        make_log_command(account_id=account, billable=False),
        make_log_command(account_id=account, billable=False, request_id="R2"),
    )
    for command in (first, second):
        await timetracking.log(command)
    marking = MarkTimeEntriesBillable(
        account_id=account, billable=True, selection=TimeEntrySelection(request_id="R2")
    )

    sent = await timetracking.send(COMMANDS, marking, account)

    changed, marked = await timetracking.answers(sent, account, count=2)
    assert (changed.type, changed.data["entry"]["entry_id"], changed.data["entry"]["billable"]) == (
        CHANGED,
        str(second.entry_id),
        True,
    )
    assert (marked.type, marked.data["changed"], marked.data["billable"]) == (
        MARKED,
        [str(second.entry_id)],
        True,
    )
    assert marked.causationid == str(sent.id)
