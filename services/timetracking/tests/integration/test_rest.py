"""Time entries over REST, on the running service: logged, refused, edited, deleted, audited, listed."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from contracts_schema.edge import Money
from tests.support.auth import bearer
from timetracking.domain.bills import ClosedPeriod

pytestmark = pytest.mark.kafka

LOGGED = "timetracking.time_entry.logged"
CHANGED = "timetracking.time_entry.changed"
DELETED = "timetracking.time_entry.deleted"


def _body(command: Any, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = command.model_dump(mode="json")
    body.update(changes)
    return body


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


async def test_an_entry_keeps_every_field_the_rep_gave_with_the_end_as_typed(
    timetracking, account, make_log_command
) -> None:
    command = make_log_command(
        account_id=account,
        task_id="T-7",
        product="printer",
        include_non_operational=False,
        description="paper jam",
        work_log_type="call",
        rate_type="on-site",
        custom_fields={"ticket": "HD-42", "site": "Berlin"},
    )

    logged = await timetracking.log(command)

    assert (logged["ended_at"], logged["duration_minutes"], logged["time_taken_minutes"]) == (
        "2026-03-02T15:30:00Z",
        None,
        None,
    )
    assert (logged["task_id"], logged["product"], logged["description"]) == ("T-7", "printer", "paper jam")
    assert (logged["work_log_type"], logged["rate_type"]) == ("call", "on-site")
    assert logged["custom_fields"] == {"ticket": "HD-42", "site": "Berlin"}
    assert (logged["include_non_operational"], logged["deleted"]) == (False, False)


async def test_a_support_rep_logs_and_changes_time_as_themselves_and_signs_it(
    timetracking, account, make_log_command
) -> None:
    bob = bearer("support_rep", accounts=[account], subject="bob")
    command = make_log_command(account_id=account, rep_id="bob")
    anns = make_log_command(account_id=account, rep_id="ann")
    await timetracking.log(anns)

    await timetracking.log(command, **bob)
    as_someone_else = await timetracking.api.post(
        "/time-entries",
        json=make_log_command(account_id=account, rep_id="ann").model_dump(mode="json"),
        headers=bob,
    )
    edit_own = await timetracking.api.patch(
        f"/time-entries/{command.entry_id}", json={"description": "mine"}, headers=bob
    )
    edit_anns = await timetracking.api.patch(
        f"/time-entries/{anns.entry_id}", json={"description": "hers"}, headers=bob
    )
    delete_anns = await timetracking.api.delete(f"/time-entries/{anns.entry_id}", headers=bob)
    hand_over = await timetracking.api.patch(
        f"/time-entries/{command.entry_id}", json={"rep_id": "ann"}, headers=bob
    )

    assert (await timetracking.reply(command.entry_id, LOGGED)).actor == "bob"
    assert (as_someone_else.status_code, edit_own.status_code) == (403, 200)
    assert (edit_anns.status_code, delete_anns.status_code, hand_over.status_code) == (403, 403, 403)
    assert (await timetracking.entry(anns.entry_id))["deleted"] is False


async def test_an_entry_the_plan_does_not_allow_is_refused_with_422_naming_the_plan_and_not_stored(
    timetracking, account, make_contract_state, make_log_command
) -> None:
    await timetracking.sign(make_contract_state(account_id=account))
    command = make_log_command(account_id=account, time_taken_minutes=30)

    response = await timetracking.api.post("/time-entries", json=_body(command))

    assert response.status_code == 422
    assert "plan does not let reps override the time taken" in response.json()["detail"]
    assert await timetracking.entry(command.entry_id) is None
    assert await timetracking.published(account) == []


async def test_an_override_before_its_contract_is_known_is_accepted_saying_no_contract_is_known_yet(
    timetracking, account, make_log_command
) -> None:
    command = make_log_command(account_id=account, time_taken_minutes=30)

    logged = await timetracking.log(command)

    assert (logged["contract_id"], logged["minutes"]) == (None, 30)
    assert logged["note"] == "no covering contract known yet"


FUTURE = datetime.now(UTC) + timedelta(days=2)


@pytest.mark.parametrize(
    ("changes", "detail"),
    [
        ({"ended_at": None, "duration_minutes": 0}, "at least one minute"),
        ({"ended_at": "2026-03-02T14:00:59Z"}, "at or before its start"),
        ({"ended_at": "2026-03-02T14:00:59.5Z"}, "within one minute"),
        ({"started_at": FUTURE.isoformat(), "ended_at": (FUTURE + timedelta(hours=1)).isoformat()}, "a day"),
        ({"started_at": "1999-12-31T10:00:00Z", "ended_at": "1999-12-31T11:00:00Z"}, "before 2000-01-01"),
        ({"product": "p" * 101}, "product: String should have at most 100 characters"),
        ({"ended_at": "2026-04-15T14:00:00Z"}, "more than 44640 minutes"),
        ({"other_charges": {"amount": "10.00", "currency": "EUR"}}, "in EUR, the contract bills in USD"),
        ({"other_charges": {"amount": "10.005", "currency": "USD"}}, "USD has 2 decimals"),
    ],
)
async def test_bad_input_is_refused_with_422_saying_why_and_nothing_is_written(
    timetracking, account, make_contract_state, make_plan_terms, make_log_command, changes, detail
) -> None:
    terms = make_plan_terms(reps_may_add_other_charges=True)
    await timetracking.sign(make_contract_state(account_id=account, terms=terms))
    command = make_log_command(account_id=account)

    response = await timetracking.api.post("/time-entries", json=_body(command, **changes))

    assert response.status_code == 422, response.text
    assert detail in response.json()["detail"]
    assert await timetracking.entry(command.entry_id) is None
    assert await timetracking.published(account) == []


@pytest.mark.parametrize(
    "changes",
    [
        {"ended_at": "2026-03-02T13:00:00Z"},  # before the start: the message model refuses it
        {"ended_at": None, "duration_minutes": -5},
        {"custom_fields": {f"field{n}": "x" for n in range(21)}},
        {"description": "d" * 4001},
    ],
)
async def test_a_malformed_body_is_refused_with_422_naming_the_field(
    timetracking, account, make_log_command, changes
) -> None:
    command = make_log_command(account_id=account)

    response = await timetracking.api.post("/time-entries", json=_body(command, **changes))

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"]  # each field at fault
    assert await timetracking.entry(command.entry_id) is None


async def test_logging_an_entry_again_answers_what_was_logged_and_other_values_under_its_id_conflict(
    timetracking, account, make_log_command
) -> None:
    command = make_log_command(account_id=account)
    first = await timetracking.log(command)

    again = await timetracking.log(command)
    changed = await timetracking.api.post("/time-entries", json=_body(command, billable=False))

    assert again == first
    assert changed.status_code == 409
    assert await timetracking.entry(command.entry_id) == first


async def test_an_entry_without_an_id_is_given_one(timetracking, account, make_log_command) -> None:
    body = make_log_command(account_id=account).model_dump(mode="json", exclude={"entry_id"})

    response = await timetracking.api.post("/time-entries", json=body)

    assert response.status_code == 201
    assert await timetracking.entry(uuid.UUID(response.json()["entry_id"])) == response.json()


async def test_entries_logged_together_with_and_without_ids_are_each_answered_and_a_repeat_as_before(
    timetracking, account, make_log_command
) -> None:
    # Only the given ids are looked up in a group commit (an id made for a request is new): the
    # repeated entry, written together with new ones, is still answered with what was logged.
    repeated = make_log_command(account_id=account, request_id="R-again")
    first = await timetracking.log(repeated)
    fresh = [
        make_log_command(account_id=account, request_id=f"R-new-{n}").model_dump(
            mode="json", exclude={"entry_id"}
        )
        for n in range(6)
    ]

    responses = await asyncio.gather(
        *(timetracking.api.post("/time-entries", json=body) for body in fresh),
        timetracking.api.post("/time-entries", json=repeated.model_dump(mode="json")),
    )

    assert [response.status_code for response in responses] == [201] * 7
    assert responses[-1].json() == first
    made = {response.json()["entry_id"] for response in responses[:-1]}
    assert len(made) == 6
    for entry_id in made:
        assert await timetracking.entry(uuid.UUID(entry_id)) is not None


# --- edits --------------------------------------------------------------------------------------------


async def test_an_unbilled_entry_is_edited_freely_and_the_change_is_announced_and_audited(
    timetracking, account, make_log_command
) -> None:
    command = make_log_command(account_id=account)
    logged = await timetracking.log(command)

    response = await timetracking.api.patch(
        f"/time-entries/{command.entry_id}",
        json={"duration_minutes": 30, "description": "shorter", "rate_type": "remote"},
        headers=bearer(subject="lead"),
    )

    assert response.status_code == 200, response.text
    edited = response.json()
    assert (edited["minutes"], edited["duration_minutes"], edited["ended_at"]) == (30, 30, None)
    assert (edited["description"], edited["rate_type"], edited["version"]) == ("shorter", "remote", 2)
    assert await timetracking.entry(command.entry_id) == edited
    *_, changed = await timetracking.published(account)
    assert (changed.type, changed.actor) == (CHANGED, "lead")
    assert (changed.data["entry"], changed.data["previous"]) == (edited, logged)
    audit = (await timetracking.api.get(f"/time-entries/{command.entry_id}/audit")).json()
    assert [(r["version"], r["action"], r["actor"]) for r in audit] == [
        (1, "logged", "tester"),  # the caller that logged it, as its token names it
        (2, "edited", "lead"),
    ]
    assert (audit[1]["before"], audit[1]["after"]) == (logged, edited)


async def test_a_billed_entry_is_edited_only_with_a_reason_which_its_audit_trail_and_event_keep(
    timetracking, account, make_log_command
) -> None:
    command = make_log_command(account_id=account)
    await timetracking.log(command)
    await timetracking.bill(account, [command.entry_id])
    path = f"/time-entries/{command.entry_id}"

    refused = await timetracking.api.patch(path, json={"duration_minutes": 30, "reason": "  "})
    edited = await timetracking.api.patch(
        path,
        json={"duration_minutes": 30, "reason": "the call was 30 minutes"},
        headers=bearer(subject="lead"),
    )

    assert refused.status_code == 422 and "give a reason" in refused.json()["detail"]
    assert edited.status_code == 200
    assert (edited.json()["minutes"], edited.json()["billed"], edited.json()["version"]) == (30, True, 2)
    *_, changed = await timetracking.published(account)
    assert (changed.data["reason"], changed.data["previous"]["minutes"]) == ("the call was 30 minutes", 90)
    last = (await timetracking.api.get(f"{path}/audit")).json()[-1]
    assert (last["actor"], last["action"], last["reason"]) == ("lead", "edited", "the call was 30 minutes")
    assert (last["before"]["minutes"], last["after"]["minutes"]) == (90, 30)
    assert datetime.fromisoformat(last["at"]) > datetime.now(UTC) - timedelta(minutes=1)


async def test_an_edit_that_moves_the_start_to_another_contracts_days_moves_the_entry_to_it(
    timetracking, account, make_contract_state, make_log_command
) -> None:
    first_quarter = make_contract_state(account_id=account, expiry_date=date(2026, 3, 31))
    rest_of_year = make_contract_state(account_id=account, start_date=date(2026, 4, 1))
    for contract in (first_quarter, rest_of_year):
        await timetracking.sign(contract)
    command = make_log_command(account_id=account)
    assert (await timetracking.log(command))["contract_id"] == str(first_quarter.contract_id)

    response = await timetracking.api.patch(
        f"/time-entries/{command.entry_id}",
        json={"started_at": "2026-04-02T14:00:00Z", "duration_minutes": 45},
    )

    assert response.json()["contract_id"] == str(rest_of_year.contract_id)


async def test_an_edit_sending_null_clears_an_optional_field_and_leaves_the_others(
    timetracking, account, make_log_command
) -> None:
    command = make_log_command(account_id=account, time_taken_minutes=30, product="printer")
    await timetracking.log(command)

    response = await timetracking.api.patch(
        f"/time-entries/{command.entry_id}", json={"time_taken_minutes": None, "rep_id": None}
    )

    edited = response.json()
    assert (edited["time_taken_minutes"], edited["minutes"]) == (None, 90)
    assert (edited["rep_id"], edited["product"]) == ("ann", "printer")


async def test_an_edit_that_breaks_a_rule_is_refused_and_changes_nothing(
    timetracking, account, make_log_command
) -> None:
    command = make_log_command(account_id=account)
    logged = await timetracking.log(command)
    path = f"/time-entries/{command.entry_id}"

    zero = await timetracking.api.patch(path, json={"duration_minutes": 0})
    both = await timetracking.api.patch(
        path, json={"duration_minutes": 5, "ended_at": "2026-03-02T16:00:00Z"}
    )
    unknown = await timetracking.api.patch(f"/time-entries/{uuid.uuid4()}", json={"description": "x"})

    assert (zero.status_code, both.status_code, unknown.status_code) == (422, 422, 404)
    assert "at most one of ended_at or duration_minutes" in both.json()["detail"]
    assert await timetracking.entry(command.entry_id) == logged
    assert [event.type for event in await timetracking.published(account)] == [LOGGED]


# --- deletion -----------------------------------------------------------------------------------------


async def test_a_deleted_entry_is_announced_kept_readable_and_left_out_of_lists(
    timetracking, account, make_log_command
) -> None:
    command = make_log_command(account_id=account)
    await timetracking.log(command)

    response = await timetracking.api.delete(
        f"/time-entries/{command.entry_id}", headers=bearer(subject="lead")
    )

    assert response.status_code == 200
    deleted = response.json()
    assert (deleted["deleted"], deleted["version"]) == (True, 2)
    assert await timetracking.entry(command.entry_id) == deleted
    *_, announced = await timetracking.published(account)
    assert (announced.type, announced.actor, announced.data["entry"]) == (DELETED, "lead", deleted)
    listed = (await timetracking.api.get("/time-entries", params={"account_id": account})).json()
    with_deleted = (
        await timetracking.api.get("/time-entries", params={"account_id": account, "include_deleted": True})
    ).json()
    assert (listed["total"], with_deleted["total"]) == (0, 1)
    again = await timetracking.api.delete(f"/time-entries/{command.entry_id}")
    edit = await timetracking.api.patch(f"/time-entries/{command.entry_id}", json={"description": "x"})
    assert (again.status_code, edit.status_code) == (409, 409)


async def test_a_billed_entry_is_deleted_only_with_a_reason(timetracking, account, make_log_command) -> None:
    command = make_log_command(account_id=account)
    await timetracking.log(command)
    await timetracking.bill(account, [command.entry_id])
    path = f"/time-entries/{command.entry_id}"

    refused = await timetracking.api.delete(path)
    deleted = await timetracking.api.delete(path, params={"reason": "logged twice"})

    assert refused.status_code == 422
    assert deleted.status_code == 200 and deleted.json()["deleted"]
    *_, announced = await timetracking.published(account)
    assert (announced.type, announced.data["reason"]) == (DELETED, "logged twice")
    audit = (await timetracking.api.get(f"{path}/audit")).json()
    assert [(r["action"], r["reason"]) for r in audit] == [("logged", None), ("deleted", "logged twice")]


async def test_an_entry_that_was_never_logged_is_not_found(timetracking) -> None:
    entry_id = uuid.uuid4()
    for response in (
        await timetracking.api.get(f"/time-entries/{entry_id}"),
        await timetracking.api.get(f"/time-entries/{entry_id}/audit"),
        await timetracking.api.delete(f"/time-entries/{entry_id}"),
    ):
        assert response.status_code == 404


# --- lists --------------------------------------------------------------------------------------------


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


async def test_entries_are_filtered_by_request_contract_and_billed_state(
    timetracking, account, make_contract_state, make_log_command
) -> None:
    contract = make_contract_state(account_id=account, start_date=date(2026, 3, 3))
    await timetracking.sign(contract)
    on_contract = make_log_command(
        account_id=account,
        request_id="R2",
        started_at=datetime(2026, 3, 3, 9, tzinfo=UTC),
        ended_at=None,
        duration_minutes=5,
    )
    before_contract = make_log_command(account_id=account)
    for command in (on_contract, before_contract):
        await timetracking.log(command)
    await timetracking.bill(account, [before_contract.entry_id])

    async def ids(**params: Any) -> list[str]:
        page = (await timetracking.api.get("/time-entries", params={"account_id": account, **params})).json()
        return [item["entry_id"] for item in page["items"]]

    assert await ids(request_id="R2") == [str(on_contract.entry_id)]
    assert await ids(contract_id=str(contract.contract_id)) == [str(on_contract.entry_id)]
    assert await ids(billed=True) == [str(before_contract.entry_id)]
    assert await ids(billed=False) == [str(on_contract.entry_id)]


async def test_pages_of_entries_with_the_same_start_neither_overlap_nor_skip(
    timetracking, account, make_log_command
) -> None:
    commands = [make_log_command(account_id=account) for _ in range(5)]  # one start for all
    for command in commands:
        await timetracking.log(command)

    pages = [
        (
            await timetracking.api.get(
                "/time-entries", params={"account_id": account, "limit": 2, "offset": o}
            )
        ).json()
        for o in (0, 2, 4)
    ]

    listed = [item["entry_id"] for page in pages for item in page["items"]]
    assert listed == sorted(str(command.entry_id) for command in commands)


async def test_an_entry_with_charges_keeps_them_in_the_contracts_currency(
    timetracking, account, make_contract_state, make_plan_terms, make_log_command
) -> None:
    terms = make_plan_terms(currency="JPY", reps_may_add_other_charges=True)
    await timetracking.sign(make_contract_state(account_id=account, terms=terms))
    command = make_log_command(account_id=account, other_charges=Money(amount=Decimal(500), currency="JPY"))

    logged = await timetracking.log(command)

    assert logged["other_charges"] == {"amount": "500", "currency": "JPY"}


# --- the OpenAPI document -----------------------------------------------------------------------------


async def test_the_openapi_document_lists_every_status_each_route_can_answer(timetracking) -> None:
    paths = (await timetracking.api.get("/openapi.json")).json()["paths"]

    def statuses(path: str, method: str) -> set[str]:
        return set(paths[path][method]["responses"])

    every = {"401", "403", "422", "503"}  # no token, a role or account that may not, bad input, no database
    body = {"400", "413"}  # a body that is not JSON, or too large
    assert statuses("/time-entries", "post") == {"201", "409", *body, *every}
    assert statuses("/time-entries/batch", "post") == {"201", "207", "409", *body, *every}
    assert statuses("/time-entries/billable", "post") == {"200", "409", *body, *every}
    assert statuses("/time-entries", "get") == {"200", *every}
    assert statuses("/time-entries/summary", "get") == {"200", *every}
    assert statuses("/time-entries/{entry_id}", "get") == {"200", "404", *every}
    assert statuses("/time-entries/{entry_id}/audit", "get") == {"200", "404", *every}
    assert statuses("/time-entries/{entry_id}", "patch") == {"200", "404", "409", *body, *every}
    assert statuses("/time-entries/{entry_id}", "delete") == {"200", "404", "409", *every}


# --- concurrent changes -------------------------------------------------------------------------------


async def test_concurrent_edits_of_one_entry_apply_one_after_the_other_and_neither_is_lost(
    timetracking, account, make_log_command
) -> None:
    command = make_log_command(account_id=account)
    await timetracking.log(command)
    path = f"/time-entries/{command.entry_id}"

    responses = await asyncio.gather(
        timetracking.api.patch(path, json={"description": "printer jam"}),
        timetracking.api.patch(path, json={"rate_type": "on-site"}),
        timetracking.bill(account, [command.entry_id]),
    )

    assert [response.status_code for response in responses[:2]] == [200, 200]
    entry = await timetracking.entry(command.entry_id)
    assert entry is not None
    assert (entry["description"], entry["rate_type"], entry["billed"], entry["version"]) == (
        "printer jam",
        "on-site",
        True,
        3,
    )
    audit = (await timetracking.api.get(f"{path}/audit")).json()
    assert [record["version"] for record in audit] == [1, 2, 3]


async def test_an_entry_a_paid_bill_bills_is_final(timetracking, account, make_log_command) -> None:
    """A paid bill never changes: an entry it bills that changed anyway would be time billed wrongly
    for good, with no version that could set it right (review finding 9)."""
    command = make_log_command(account_id=account)
    await timetracking.log(command)
    await timetracking.pay(account, [command.entry_id])
    path = f"/time-entries/{command.entry_id}"

    edited = await timetracking.api.patch(path, json={"duration_minutes": 30, "reason": "shorter"})
    deleted = await timetracking.api.delete(path, params={"reason": "a mistake"})
    marked = await timetracking.api.post(
        "/time-entries/billable",
        json={"account_id": account, "billable": False, "entry_ids": [str(command.entry_id)], "reason": "x"},
    )

    assert (edited.status_code, deleted.status_code) == (409, 409)
    assert "paid bill" in edited.json()["detail"]
    assert marked.status_code == 200 and str(command.entry_id) in str(marked.json()["refused"])
    entry = await timetracking.entry(command.entry_id)
    assert (entry["minutes"], entry["deleted"], entry["billable"], entry["settled"]) == (
        90,
        False,
        True,
        True,
    )


# --- periods a paid bill closed -----------------------------------------------------------------------

MARCH = (datetime(2026, 3, 1, 5, tzinfo=UTC), datetime(2026, 4, 1, 4, tzinfo=UTC))
"""The March cycle of a contract in New York: what its paid bill carries."""
FEBRUARY_27 = {"started_at": "2026-02-27T14:00:00Z", "ended_at": "2026-02-27T15:30:00Z"}


async def test_time_in_a_period_whose_main_bill_is_paid_is_refused_with_409_and_time_outside_it_is_logged(
    timetracking, account, make_contract_state, make_log_command
) -> None:
    """No version of a paid period could ever bill it: the rep hears so at once, rather than the time
    flagging the paid bill for good (review: billable time that never reached a bill)."""
    contract = make_contract_state(account_id=account)
    await timetracking.sign(contract)
    await timetracking.close_period(contract, *MARCH)
    in_march = make_log_command(account_id=account)
    in_february = make_log_command(account_id=account)

    refused = await timetracking.api.post("/time-entries", json=_body(in_march))
    logged = await timetracking.log(in_february.model_copy(update=_instants(FEBRUARY_27)))
    not_billing = await timetracking.log(make_log_command(account_id=account, billable=False))

    assert (refused.status_code, refused.headers["content-type"]) == (409, "application/problem+json")
    problem = refused.json()
    assert problem["type"].endswith("/period-closed")
    assert f"contract {contract.contract_id}'s time from 2026-03-01T05:00:00Z" in problem["detail"]
    assert problem["detail"].endswith(
        f"is billed by paid bill {contract.contract_number}-03-v1: log it in an open period"
    )
    assert await timetracking.entry(in_march.entry_id) is None
    assert logged["contract_id"] == str(contract.contract_id)
    assert (not_billing["billable"], not_billing["contract_id"]) == (False, str(contract.contract_id))
    assert [event.data["entry"]["entry_id"] for event in await timetracking.published(account)] == [
        str(in_february.entry_id),
        not_billing["entry_id"],
    ]


async def test_a_batch_keeps_the_entries_of_open_periods_and_refuses_those_of_a_closed_one_by_index(
    timetracking, account, make_contract_state, make_log_command
) -> None:
    contract = make_contract_state(account_id=account)
    await timetracking.sign(contract)
    await timetracking.close_period(contract, *MARCH)
    in_february = make_log_command(account_id=account).model_copy(update=_instants(FEBRUARY_27))
    in_march = make_log_command(account_id=account)

    response = await timetracking.api.post("/time-entries/batch", json=_bodies(in_february, in_march))

    assert response.status_code == 207
    first, second = response.json()["results"]
    assert (first["status"], first["entry"]["entry_id"]) == (201, str(in_february.entry_id))
    assert (second["index"], second["status"], second["error"]) == (1, 409, "PeriodClosed")
    assert await timetracking.entry(in_march.entry_id) is None


async def test_a_batch_reads_the_accounts_contracts_and_their_closed_periods_as_the_two_reads_apart_do(
    timetracking, account, make_contract_state
) -> None:
    closed, open_ = make_contract_state(account_id=account), make_contract_state(account_id=account)
    for contract in (closed, open_):
        await timetracking.know_quietly(contract)
    periods = [
        ClosedPeriod(closed.contract_id, period, f"B-{period}", starts_at, ends_at)
        for period, starts_at, ends_at in (
            ("2026-02", datetime(2026, 2, 1, 5, tzinfo=UTC), MARCH[0]),
            ("2026-03", *MARCH),
            ("2026-05", datetime(2026, 5, 1, 4, tzinfo=UTC), datetime(2026, 6, 1, 4, tzinfo=UTC)),
        )
    ]
    async with timetracking.app.uow() as uow:
        for period in periods:
            await uow.closed_periods.keep(period)
    starts = [datetime(2026, 2, 27, 14, tzinfo=UTC), datetime(2026, 3, 2, 14, tzinfo=UTC)]

    async with timetracking.app.read() as uow:
        together = await uow.contracts.of_accounts_with_closed_periods([account, "nobody"], starts)
        without_instants = await uow.contracts.of_accounts_with_closed_periods([account], [])
        contracts = await uow.contracts.of_accounts([account, "nobody"])
        apart = (
            contracts,
            await uow.closed_periods.of_contracts([closed.contract_id, open_.contract_id], starts),
        )

    assert {contract.contract_id for contract in together[0][account]} == {
        closed.contract_id,
        open_.contract_id,
    }
    assert together[0]["nobody"] == []
    assert sorted(without_instants[0][account], key=str) == sorted(together[0][account], key=str)
    assert without_instants[1] == {}
    assert sorted(together[0][account], key=str) == sorted(apart[0][account], key=str)
    assert {key: sorted(value, key=str) for key, value in together[1].items()} == {
        key: sorted(value, key=str) for key, value in apart[1].items()
    }
    assert [period.period for period in sorted(together[1][closed.contract_id], key=str)] == [
        "2026-02",
        "2026-03",
    ]


async def test_an_entry_logged_before_its_period_was_paid_is_answered_again_and_still_corrected_in_place(
    timetracking, account, make_contract_state, make_log_command
) -> None:
    """Closing a period refuses new billable time there, not what was logged before: a retry of the same
    entry is answered with it; an entry the paid bill left out is not changed there while it bills, nor
    made billable there, but can be moved out, where a bill can carry it."""
    contract = make_contract_state(account_id=account)
    await timetracking.sign(contract)
    command = make_log_command(account_id=account)
    first = await timetracking.log(command)
    not_billing = await timetracking.log(make_log_command(account_id=account, billable=False))
    await timetracking.close_period(contract, *MARCH)
    path = f"/time-entries/{command.entry_id}"

    again = await timetracking.log(command)
    longer = await timetracking.api.patch(path, json={"ended_at": "2026-03-02T20:00:00Z"})
    made_billable = await timetracking.api.patch(
        f"/time-entries/{not_billing['entry_id']}", json={"billable": True}
    )
    described = await timetracking.api.patch(
        f"/time-entries/{not_billing['entry_id']}", json={"description": "paper jam"}
    )
    moved_out = await timetracking.api.patch(path, json=FEBRUARY_27)

    assert again == first
    assert (longer.status_code, made_billable.status_code) == (409, 409), made_billable.text
    assert made_billable.json()["type"].endswith("/period-closed")
    assert (described.status_code, moved_out.status_code) == (200, 200), moved_out.text
    assert moved_out.json()["started_at"] == FEBRUARY_27["started_at"]


async def test_an_edit_that_moves_an_entry_into_a_closed_period_is_refused_with_409_and_changes_nothing(
    timetracking, account, make_contract_state, make_log_command
) -> None:
    contract = make_contract_state(account_id=account)
    await timetracking.sign(contract)
    entry = await timetracking.log(
        make_log_command(account_id=account).model_copy(update=_instants(FEBRUARY_27))
    )
    await timetracking.close_period(contract, *MARCH)

    moved = await timetracking.api.patch(
        f"/time-entries/{entry['entry_id']}",
        json={"started_at": "2026-03-02T14:00:00Z", "ended_at": "2026-03-02T15:30:00Z"},
    )

    assert moved.status_code == 409 and moved.json()["type"].endswith("/period-closed")
    assert await timetracking.entry(entry["entry_id"]) == entry


async def test_time_of_a_closed_period_is_not_marked_billable_and_the_rest_of_the_marking_goes_through(
    timetracking, account, make_contract_state, make_log_command
) -> None:
    """Non-billable time the paid bill rightly left out must stay out: made billable, it would be
    billable time no bill could ever carry."""
    contract = make_contract_state(account_id=account)
    await timetracking.sign(contract)
    in_march = await timetracking.log(make_log_command(account_id=account, billable=False))
    in_february = await timetracking.log(
        make_log_command(account_id=account, billable=False).model_copy(update=_instants(FEBRUARY_27))
    )
    await timetracking.close_period(contract, *MARCH)

    response = await timetracking.api.post(
        "/time-entries/billable",
        json={
            "account_id": account,
            "billable": True,
            "entry_ids": [in_march["entry_id"], in_february["entry_id"]],
        },
    )

    assert response.status_code == 200, response.text
    marked = response.json()
    assert marked["changed"] == [in_february["entry_id"]]
    assert "is billed by paid bill" in marked["refused"][in_march["entry_id"]]
    assert (await timetracking.entry(in_march["entry_id"]))["billable"] is False


def _instants(fields: dict[str, str]) -> dict[str, datetime]:
    return {name: datetime.fromisoformat(value) for name, value in fields.items()}


def _bodies(*commands: Any) -> list[dict[str, Any]]:
    return [command.model_dump(mode="json") for command in commands]
