"""The lifecycle scheduler with a fake clock, expiry notices, and the coverage query, on a real database."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from prometheus_client import REGISTRY
from sqlalchemy import select, update

from contracts.adapters import tables
from contracts.domain.coverage import Exhaustion
from contracts.entrypoints.scheduler import advance_contract_statuses, send_expiry_notices
from contracts.service_layer import views
from servicekit.sql import as_utc
from services.contracts.tests.builders import contract_body

STATUS_CHANGED = "contracts.contract.status_changed"


async def _status(setup, contract_id: str) -> str:
    return (await setup.ok(await setup.api.get(f"/contracts/{contract_id}")))["status"]


async def test_the_scheduler_activates_a_contract_on_its_start_date_in_its_zone(
    setup, account_id, clock
) -> None:
    contract = await setup.contract(
        account_id,
        await setup.plan(),
        start_date="2026-04-01",
        expiry_date="2026-12-31",
        time_zone="Asia/Tokyo",
    )
    contracts = setup.contracts
    assert contract["status"] == "upcoming"

    clock.set(datetime(2026, 3, 31, 14, 59, tzinfo=UTC))  # 23:59 in Tokyo
    await advance_contract_statuses(contracts.units, clock())
    assert await _status(setup, contract["contract_id"]) == "upcoming"

    clock.set(datetime(2026, 3, 31, 15, 0, tzinfo=UTC))  # midnight in Tokyo
    await advance_contract_statuses(contracts.units, clock())
    assert await _status(setup, contract["contract_id"]) == "active"
    [event] = await setup.published(contract["contract_id"], STATUS_CHANGED)
    assert (event.data["previous_status"], event.data["contract"]["status"]) == ("upcoming", "active")


async def test_running_the_scheduler_twice_publishes_each_change_once(setup, account_id, clock) -> None:
    contract = await setup.contract(
        account_id, await setup.plan(), start_date="2026-04-01", expiry_date="2026-04-30"
    )
    clock.set(datetime(2026, 4, 2, tzinfo=UTC))

    await advance_contract_statuses(setup.contracts.units, clock())
    await advance_contract_statuses(setup.contracts.units, clock())

    assert len(await setup.published(contract["contract_id"], STATUS_CHANGED)) == 1


async def test_after_downtime_the_scheduler_catches_up_every_step_in_order(setup, account_id, clock) -> None:
    contract = await setup.contract(
        account_id, await setup.plan(), start_date="2026-04-01", expiry_date="2026-04-30"
    )
    clock.set(datetime(2026, 6, 1, tzinfo=UTC))

    await advance_contract_statuses(setup.contracts.units, clock())

    events = await setup.published(contract["contract_id"], STATUS_CHANGED)
    assert [(e.data["previous_status"], e.data["contract"]["status"]) for e in events] == [
        ("upcoming", "active"),
        ("active", "expired"),
    ]
    assert await _status(setup, contract["contract_id"]) == "expired"


async def test_a_terminated_contract_becomes_terminated_after_its_termination_day(
    setup, account_id, clock
) -> None:
    contract = await setup.contract(account_id, await setup.plan())
    await setup.ok(await setup.api.post(f"/contracts/{contract['contract_id']}/termination", json={}))

    clock.set(datetime(2026, 3, 10, 22, 59, tzinfo=UTC))  # 23:59 in Berlin
    await advance_contract_statuses(setup.contracts.units, clock())
    assert await _status(setup, contract["contract_id"]) == "active"

    clock.set(datetime(2026, 3, 10, 23, 0, tzinfo=UTC))
    await advance_contract_statuses(setup.contracts.units, clock())
    assert await _status(setup, contract["contract_id"]) == "terminated"


async def _document(setup, contract_id: str) -> Any:
    async with setup.contracts.read() as uow:
        return await uow.session.scalar(
            select(tables.contracts.c.document).where(tables.contracts.c.contract_id == contract_id)
        )


async def _set_columns(setup, contract_id: str, **values: Any) -> None:
    """Change a contract's row behind the service's back, as a bug or an operator would."""
    async with setup.contracts.uow() as uow:
        await uow.session.execute(
            update(tables.contracts).where(tables.contracts.c.contract_id == contract_id).values(**values)
        )


async def _parked_at(setup, contract_id: str) -> datetime | None:
    c = tables.contracts.c
    async with setup.contracts.read() as uow:
        parked_at = await uow.session.scalar(select(c.parked_at).where(c.contract_id == contract_id))
    return None if parked_at is None else as_utc(parked_at)


def _items(outcome: str) -> float:
    """How many contracts the status job ended with `outcome` so far, by its metric."""
    return (
        REGISTRY.get_sample_value("scheduler_items_total", {"job": "contract-status", "outcome": outcome})
        or 0.0
    )


async def test_a_contract_the_scheduler_fails_on_is_parked_and_the_others_still_move(
    setup, account_id, clock
) -> None:
    plan_id = await setup.plan()
    april = {"start_date": "2026-04-01", "expiry_date": "2026-04-30"}
    broken = await setup.contract(account_id, plan_id, **april)
    sound = await setup.contract(f"{account_id}-b", plan_id, **april)
    signed = await _document(setup, broken["contract_id"])
    await _set_columns(setup, broken["contract_id"], document={"not": "a contract"})
    parked_before = _items("parked")
    clock.set(datetime(2026, 4, 2, tzinfo=UTC))

    await advance_contract_statuses(setup.contracts.units, clock())
    await advance_contract_statuses(setup.contracts.units, clock())

    assert await _status(setup, sound["contract_id"]) == "active"
    assert await _parked_at(setup, broken["contract_id"]) == clock()
    assert _items("parked") == parked_before + 1  # once: the second tick left it alone

    # An operator repairs the row and clears the mark: the next tick moves it like any other.
    await _set_columns(setup, broken["contract_id"], document=signed, parked_at=None)
    await advance_contract_statuses(setup.contracts.units, clock())
    assert await _status(setup, broken["contract_id"]) == "active"


async def test_a_contract_that_breaks_a_rule_is_deferred_to_the_next_tick_not_parked(
    setup, account_id, clock
) -> None:
    contract = await setup.contract(
        account_id, await setup.plan(), start_date="2026-04-01", expiry_date="2026-04-30"
    )
    signed = await _document(setup, contract["contract_id"])
    # Expired by its document but upcoming by its row: no lifecycle step leads back to active.
    await _set_columns(setup, contract["contract_id"], document={**signed, "status": "expired"})
    deferred_before = _items("deferred")
    clock.set(datetime(2026, 4, 2, tzinfo=UTC))

    await advance_contract_statuses(setup.contracts.units, clock())
    await advance_contract_statuses(setup.contracts.units, clock())

    assert _items("deferred") == deferred_before + 2  # tried again on the second tick
    assert await _parked_at(setup, contract["contract_id"]) is None
    await _set_columns(setup, contract["contract_id"], document=signed)
    await advance_contract_statuses(setup.contracts.units, clock())
    assert await _status(setup, contract["contract_id"]) == "active"


async def test_expiry_notices_are_sent_once_each(setup, account_id, clock) -> None:
    contract = await setup.contract(
        account_id,
        await setup.plan(),
        start_date="2026-01-01",
        expiry_date="2026-04-30",
        notifications={"days_before_expiry": 10, "days_after_expiry": 3, "recipients": ["ops@example.com"]},
    )
    contracts = setup.contracts

    for day in (datetime(2026, 4, 21, 12, tzinfo=UTC), datetime(2026, 4, 22, 12, tzinfo=UTC)):
        clock.set(day)
        await send_expiry_notices(contracts.units, clock())
    clock.set(datetime(2026, 5, 4, 12, tzinfo=UTC))
    await send_expiry_notices(contracts.units, clock())
    await send_expiry_notices(contracts.units, clock())

    [approaching] = await setup.published(contract["contract_id"], "contracts.contract.expiry_approaching")
    [expired] = await setup.published(contract["contract_id"], "contracts.contract.expired_notice")
    assert (approaching.data["days_before_expiry"], approaching.data["recipients"]) == (
        9,
        ["ops@example.com"],
    )
    assert expired.data["days_after_expiry"] == 4


async def test_coverage_names_the_contract_and_its_plan(setup, account_id) -> None:
    contract = await setup.contract(account_id, await setup.plan())

    answer = await setup.ok(
        await setup.api.get("/coverage", params={"account_id": account_id, "at": "2026-05-05T10:00:00Z"})
    )

    assert answer["contract"]["contract_id"] == contract["contract_id"]
    assert (answer["plan_type"], answer["billing_mode"], answer["work_covered"]) == (
        "per_hour",
        "prepaid",
        True,
    )


async def test_coverage_outside_every_contract_says_not_covered(setup, account_id) -> None:
    await setup.contract(account_id, await setup.plan())

    answer = await setup.ok(
        await setup.api.get("/coverage", params={"account_id": account_id, "at": "2027-05-05T10:00:00Z"})
    )

    assert (answer["contract"], answer["work_covered"]) == (None, False)


async def test_coverage_stops_when_billing_says_a_blocking_allowance_is_exhausted(setup, account_id) -> None:
    top_up_plan_id = await setup.top_up_plan()
    plan_id = await setup.plan(
        [top_up_plan_id], when_exhausted="block", overage_rate_kind=None, overage_rate=None
    )
    contract = await setup.contract(account_id, plan_id)
    async with setup.contracts.uow() as uow:
        await views.record_allowance_exhausted(
            uow, uuid.UUID(contract["contract_id"]), Exhaustion(3, datetime(2026, 3, 5, tzinfo=UTC))
        )
    query = {"account_id": account_id, "at": "2026-03-10T12:00:00Z"}

    blocked = await setup.ok(await setup.api.get("/coverage", params=query))
    await setup.ok(
        await setup.api.post(
            f"/contracts/{contract['contract_id']}/top-ups", json={"top_up_plan_id": top_up_plan_id}
        ),
        201,
    )
    topped_up = await setup.ok(await setup.api.get("/coverage", params=query))

    assert (blocked["work_covered"], blocked["when_exhausted"]) == (False, "block")
    assert topped_up["work_covered"] is True


async def test_a_repeated_idempotency_key_replays_the_first_response(setup, account_id) -> None:
    plan_id = await setup.plan()
    body = contract_body(account_id, plan_id)
    headers = {"Idempotency-Key": f"key-{uuid.uuid4()}"}

    first = await setup.api.post("/contracts", json=body, headers=headers)
    second = await setup.api.post("/contracts", json=body, headers=headers)

    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    listed = await setup.ok(await setup.api.get("/contracts", params={"account_id": account_id}))
    assert listed["total"] == 1


async def test_an_idempotency_key_reused_with_another_body_is_refused(setup, account_id) -> None:
    plan_id = await setup.plan()
    body = contract_body(account_id, plan_id)
    headers = {"Idempotency-Key": f"key-{uuid.uuid4()}"}
    await setup.ok(await setup.api.post("/contracts", json=body, headers=headers), 201)

    response = await setup.api.post("/contracts", json={**body, "name": "Other"}, headers=headers)

    assert response.status_code == 422
    assert "different request" in response.json()["detail"]


async def test_a_refused_request_is_replayed_as_refused(setup, account_id) -> None:
    headers = {"Idempotency-Key": f"key-{uuid.uuid4()}"}
    body = contract_body(account_id, str(uuid.uuid4()))

    first = await setup.api.post("/contracts", json=body, headers=headers)
    second = await setup.api.post("/contracts", json=body, headers=headers)

    assert (first.status_code, second.status_code) == (404, 404)
    assert second.json() == first.json()
    assert "no support plan" in first.json()["detail"]
    assert second.headers["idempotent-replayed"] == "true"


async def test_two_schedulers_running_at_once_publish_each_change_once(setup, account_id, clock) -> None:
    contract = await setup.contract(
        account_id, await setup.plan(), start_date="2026-04-01", expiry_date="2026-04-30"
    )
    clock.set(datetime(2026, 4, 2, tzinfo=UTC))

    await asyncio.gather(
        advance_contract_statuses(setup.contracts.units, clock()),
        advance_contract_statuses(setup.contracts.units, clock()),
    )

    assert len(await setup.published(contract["contract_id"], STATUS_CHANGED)) == 1


async def test_the_openapi_document_lists_the_contract_actions(setup) -> None:
    document = await setup.ok(await setup.api.get("/openapi.json"))

    paths = document["paths"]
    for path in (
        "/contracts/{contract_id}/top-ups",
        "/contracts/{contract_id}/renewals",
        "/coverage",
        "/top-up-plans",
    ):
        assert path in paths
    parameters = paths["/contracts/{contract_id}/renewals"]["post"]["parameters"]
    assert "Idempotency-Key" in [parameter["name"] for parameter in parameters]
