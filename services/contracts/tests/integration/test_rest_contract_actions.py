"""REST through the real app and database: top-up plans, top-up, renew, terminate, edit, delete."""

from __future__ import annotations

import uuid

from contracts.service_layer import views
from services.contracts.tests.builders import terms_body

RENEWED = "contracts.contract.renewed"
CREATED = "contracts.contract.created"


async def test_top_up_plans_can_be_created_changed_listed_and_deleted(setup) -> None:
    api = setup.api
    created = await setup.ok(
        await api.post(
            "/top-up-plans",
            json={"name": "5 h", "price": {"amount": "250.00", "currency": "USD"}, "hour_units": 5},
        ),
        201,
    )
    plan_id = created["top_up_plan_id"]

    changed = await setup.ok(
        await api.put(
            f"/top-up-plans/{plan_id}",
            json={"name": "5 h", "price": {"amount": "275.00", "currency": "USD"}, "hour_units": 5},
        )
    )
    listed = await setup.ok(await api.get("/top-up-plans"))

    assert (changed["price"]["amount"], changed["version"]) == ("275.00", 2)
    assert plan_id in [item["top_up_plan_id"] for item in listed]
    assert (await api.delete(f"/top-up-plans/{plan_id}")).status_code == 204
    assert (await api.get(f"/top-up-plans/{plan_id}")).status_code == 404


async def test_a_top_up_plan_without_units_is_refused_with_a_reason(setup) -> None:
    api = setup.api
    response = await api.post(
        "/top-up-plans", json={"name": "nothing", "price": {"amount": "1.00", "currency": "USD"}}
    )

    assert response.status_code == 422
    assert "units" in response.json()["detail"]


async def test_a_postpaid_plan_cannot_offer_top_ups(setup) -> None:
    top_up_plan_id = await setup.top_up_plan()
    calendar_id = await setup.calendar()
    body = {
        "name": "Postpaid",
        "terms": terms_body(calendar_id, billing_mode="postpaid"),
        "top_up_plan_ids": [top_up_plan_id],
    }

    response = await setup.api.post("/plans", json=body)

    assert response.status_code == 422
    assert "prepaid" in response.json()["detail"]


async def test_a_plan_cannot_offer_a_top_up_plan_that_does_not_exist(setup) -> None:
    calendar_id = await setup.calendar()
    missing = str(uuid.uuid4())
    body = {"name": "Prepaid", "terms": terms_body(calendar_id), "top_up_plan_ids": [missing]}

    response = await setup.api.post("/plans", json=body)

    assert response.status_code == 404
    assert response.json()["detail"] == f"no top-up plan {missing}"


async def test_a_top_up_plan_offered_by_a_plan_cannot_be_deleted(setup) -> None:
    top_up_plan_id = await setup.top_up_plan()
    await setup.plan([top_up_plan_id])

    response = await setup.api.delete(f"/top-up-plans/{top_up_plan_id}")

    assert response.status_code == 409
    assert "is offered by support plans" in response.json()["detail"]
    assert (await setup.api.get(f"/top-up-plans/{top_up_plan_id}")).status_code == 200


async def test_topping_up_an_active_prepaid_contract_publishes_the_price(
    setup, account_id, contracts_service
) -> None:
    top_up_plan_id = await setup.top_up_plan(hours=5, price="250.00")
    contract = await setup.contract(account_id, await setup.plan([top_up_plan_id]))

    bought = await setup.ok(
        await setup.api.post(
            f"/contracts/{contract['contract_id']}/top-ups", json={"top_up_plan_id": top_up_plan_id}
        ),
        201,
    )

    assert (bought["units"], bought["price"]) == (5, {"amount": "250.00", "currency": "USD"})
    assert bought["contract"]["expiry_date"] == "2026-12-31"
    [event] = await setup.published(contract["contract_id"], "contracts.contract.topped_up")
    assert event.data["price"] == {"amount": "250.00", "currency": "USD"}


async def test_a_top_up_the_plan_does_not_offer_is_refused(setup, account_id) -> None:
    contract = await setup.contract(account_id, await setup.plan([await setup.top_up_plan()]))

    response = await setup.api.post(
        f"/contracts/{contract['contract_id']}/top-ups", json={"top_up_plan_id": await setup.top_up_plan()}
    )

    assert response.status_code == 422
    assert "not offered" in response.json()["detail"]


async def test_an_upcoming_contract_cannot_be_topped_up(setup, account_id) -> None:
    top_up_plan_id = await setup.top_up_plan()
    contract = await setup.contract(
        account_id, await setup.plan([top_up_plan_id]), start_date="2026-06-01", expiry_date="2026-12-31"
    )

    response = await setup.api.post(
        f"/contracts/{contract['contract_id']}/top-ups", json={"top_up_plan_id": top_up_plan_id}
    )

    assert response.status_code == 409
    assert "only active contracts can be topped up" in response.json()["detail"]


async def test_renewing_creates_a_linked_contract_from_the_day_after_expiry(
    setup, account_id, contracts_service
) -> None:
    old = await setup.contract(account_id, await setup.plan())

    renewal = await setup.ok(await setup.api.post(f"/contracts/{old['contract_id']}/renewals", json={}), 201)

    new = renewal["new_contract"]
    assert (new["start_date"], new["expiry_date"], new["status"]) == ("2027-01-01", "2027-12-31", "upcoming")
    assert new["renewed_from"] == old["contract_id"]
    assert renewal["renewed"]["renewed_to"] == new["contract_id"]
    assert new["terms"] == old["terms"]
    assert len(await setup.published(old["contract_id"], RENEWED)) == 1
    assert len(await setup.published(new["contract_id"], CREATED)) == 1


async def test_a_renewal_may_change_the_allowance(setup, account_id) -> None:
    old = await setup.contract(account_id, await setup.plan())

    renewal = await setup.ok(
        await setup.api.post(f"/contracts/{old['contract_id']}/renewals", json={"allowance_override": 20}),
        201,
    )

    assert renewal["new_contract"]["terms"]["allowance"] == 20


async def test_a_contract_is_renewed_once(setup, account_id) -> None:
    old = await setup.contract(account_id, await setup.plan())
    await setup.ok(await setup.api.post(f"/contracts/{old['contract_id']}/renewals", json={}), 201)

    response = await setup.api.post(f"/contracts/{old['contract_id']}/renewals", json={})

    assert response.status_code == 409
    assert "already renewed" in response.json()["detail"]


async def test_a_renewal_overlapping_the_old_contract_is_refused(setup, account_id) -> None:
    old = await setup.contract(account_id, await setup.plan())

    response = await setup.api.post(
        f"/contracts/{old['contract_id']}/renewals", json={"start_date": "2026-12-01"}
    )

    assert response.status_code == 409
    assert old["contract_number"] in response.json()["detail"]


async def test_terminating_ends_the_contract_at_the_end_of_today_in_its_zone(
    setup, account_id, contracts_service
) -> None:
    contract = await setup.contract(account_id, await setup.plan())

    terminated = await setup.ok(
        await setup.api.post(f"/contracts/{contract['contract_id']}/termination", json={"reason": "closing"})
    )

    # The clock says 2026-03-10 12:00 UTC; Berlin is UTC+1 in March.
    assert terminated["terminated_at"] == "2026-03-10T23:00:00Z"
    assert terminated["contract"]["termination_date"] == "2026-03-10"
    assert terminated["contract"]["status"] == "active"
    assert len(await setup.published(contract["contract_id"], "contracts.contract.terminated")) == 1


async def test_termination_is_irreversible(setup, account_id) -> None:
    contract = await setup.contract(account_id, await setup.plan())
    await setup.ok(await setup.api.post(f"/contracts/{contract['contract_id']}/termination", json={}))

    response = await setup.api.post(f"/contracts/{contract['contract_id']}/termination", json={})

    assert response.status_code == 409
    assert (
        response.json()["detail"] == f"contract {contract['contract_number']} is terminated as of 2026-03-10"
    )


async def test_a_termination_date_after_expiry_is_refused(setup, account_id) -> None:
    contract = await setup.contract(account_id, await setup.plan())

    response = await setup.api.post(
        f"/contracts/{contract['contract_id']}/termination", json={"termination_date": "2027-01-15"}
    )

    assert response.status_code == 422
    assert response.json()["detail"] == (
        "the termination date must be between today (2026-03-10) and the expiry date (2026-12-31); "
        "got 2027-01-15"
    )


async def test_editing_publishes_the_changed_fields(setup, account_id, contracts_service) -> None:
    contract = await setup.contract(account_id, await setup.plan())

    edited = await setup.ok(
        await setup.api.patch(
            f"/contracts/{contract['contract_id']}",
            json={"billing_email": "ap@example.com", "notifications": {"days_before_expiry": 30}},
        )
    )

    assert edited["billing_email"] == "ap@example.com"
    assert edited["terms"] == contract["terms"]
    [event] = await setup.published(contract["contract_id"], "contracts.contract.updated")
    assert event.data["changed_fields"] == ["billing_email", "notifications"]


async def test_the_signed_terms_cannot_be_edited(setup, account_id) -> None:
    contract = await setup.contract(account_id, await setup.plan())

    response = await setup.api.patch(
        f"/contracts/{contract['contract_id']}", json={"expiry_date": "2027-12-31"}
    )

    # The edit body has only the editable fields, so the refusal names the field that is not one.
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [(error["loc"], error["type"]) for error in response.json()["errors"]] == [
        (["body", "expiry_date"], "extra_forbidden")
    ]
    assert (await setup.ok(await setup.api.get(f"/contracts/{contract['contract_id']}")))["expiry_date"] == (
        "2026-12-31"
    )


async def test_a_contract_nothing_happened_against_is_deleted(setup, account_id, contracts_service) -> None:
    contract = await setup.contract(account_id, await setup.plan())

    assert (await setup.api.delete(f"/contracts/{contract['contract_id']}")).status_code == 204
    assert (await setup.api.get(f"/contracts/{contract['contract_id']}")).status_code == 404
    assert len(await setup.published(contract["contract_id"], "contracts.contract.deleted")) == 1


async def test_a_contract_with_time_logged_against_it_cannot_be_deleted(
    setup, account_id, contracts_service
) -> None:
    contract = await setup.contract(account_id, await setup.plan())
    async with contracts_service.uow() as uow:
        await views.record_time_entries_logged(uow, [uuid.UUID(contract["contract_id"])])

    response = await setup.api.delete(f"/contracts/{contract['contract_id']}")

    assert response.status_code == 409
    assert "time entries" in response.json()["detail"]


async def test_deleting_a_renewal_lets_the_old_contract_renew_again(setup, account_id) -> None:
    old = await setup.contract(account_id, await setup.plan())
    renewal = await setup.ok(await setup.api.post(f"/contracts/{old['contract_id']}/renewals", json={}), 201)

    assert (await setup.api.delete(f"/contracts/{renewal['new_contract']['contract_id']}")).status_code == 204

    assert (await setup.ok(await setup.api.get(f"/contracts/{old['contract_id']}")))["renewed_to"] is None
    await setup.ok(await setup.api.post(f"/contracts/{old['contract_id']}/renewals", json={}), 201)
