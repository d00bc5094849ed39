"""Summaries per rep and per account over REST, with minutes by the category of the contract's calendar
as timetracking learned it from contracts.calendars.v1.

The contracts are put straight into timetracking's read model (`know_quietly`): announced beside their
calendars, they would be billed by any billing service that reads the shared topics."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import pytest

from contracts_schema import registry
from contracts_schema.contracts import BusinessCalendar, CalendarSaved, WorkingHours
from contracts_schema.edge import Money
from tests.support.kafka import eventually

pytestmark = pytest.mark.kafka

MARCH = {"started_from": "2026-03-01T00:00:00-05:00", "started_before": "2026-04-01T00:00:00-04:00"}
# Monday 2 March 2026 in New York (UTC-5): 16:00 to 18:00 is 60 operational and 60 non-operational
# minutes on a 09:00-17:00 calendar; Saturday 7 March is a weekend day.
MONDAY_4PM = datetime(2026, 3, 2, 21, 0, tzinfo=UTC)
SATURDAY_10AM = datetime(2026, 3, 7, 15, 0, tzinfo=UTC)


def office(calendar_id: uuid.UUID, holidays: list[date] | None = None) -> BusinessCalendar:
    return BusinessCalendar(
        calendar_id=calendar_id,
        name="New York office",
        time_zone="America/New_York",
        working_days=[1, 2, 3, 4, 5],
        working_hours=[WorkingHours(start=time(9), end=time(17))],
        holidays=holidays or [],
    )


async def _save_calendar(timetracking: Any, calendar: BusinessCalendar) -> None:
    await timetracking.send(registry.CALENDARS, CalendarSaved(calendar=calendar), str(calendar.calendar_id))

    async def kept() -> bool:
        async with timetracking.app.read() as uow:
            found = await uow.calendars.get_many([calendar.calendar_id])
        return calendar.calendar_id in found and found[calendar.calendar_id].holidays == frozenset(
            calendar.holidays
        )

    await eventually(kept)


async def _summary(timetracking: Any, **params: Any) -> dict[str, Any]:
    response = await timetracking.api.get("/time-entries/summary", params={**MARCH, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_time_is_summed_per_rep_by_the_categories_of_the_contracts_calendar(
    timetracking, account, make_contract_state, make_plan_terms, make_log_command
) -> None:
    calendar_id = uuid.uuid4()
    await _save_calendar(timetracking, office(calendar_id))
    terms = make_plan_terms(calendar_id=calendar_id, reps_may_add_other_charges=True)
    await timetracking.know_quietly(make_contract_state(account_id=account, terms=terms))
    monday = make_log_command(
        account_id=account,
        started_at=MONDAY_4PM,
        ended_at=None,
        duration_minutes=120,
        other_charges=Money(amount=Decimal("12.34"), currency="USD"),
    )
    saturday = make_log_command(
        account_id=account, started_at=SATURDAY_10AM, ended_at=None, duration_minutes=60, billable=False
    )
    bobs = make_log_command(
        account_id=account, rep_id="bob", started_at=MONDAY_4PM, ended_at=None, duration_minutes=30
    )
    for command in (monday, saturday, bobs):
        await timetracking.log(command)
    await timetracking.bill(account, [monday.entry_id])

    summary = await _summary(timetracking, group_by="rep", account_id=account)

    assert summary["group_by"] == "rep"
    ann, bob = summary["groups"]
    assert (ann["key"], ann["entries"], ann["minutes"]) == ("ann", 2, 180)
    assert ann["minutes_by_category"] == {
        "holiday": 0,
        "weekend": 60,
        "non_operational": 60,
        "operational": 60,
        "uncategorized": 0,
    }
    assert (ann["billable_minutes"], ann["non_billable_minutes"]) == (120, 60)
    assert (ann["billed_minutes"], ann["unbilled_minutes"]) == (120, 60)
    assert ann["other_charges"] == [{"amount": "12.34", "currency": "USD"}]
    assert (bob["key"], bob["minutes"], bob["minutes_by_category"]["operational"]) == ("bob", 30, 30)


async def test_a_calendar_change_is_reflected_and_time_without_a_contract_is_uncategorized(
    timetracking, account, make_contract_state, make_plan_terms, make_log_command
) -> None:
    calendar_id = uuid.uuid4()
    await _save_calendar(timetracking, office(calendar_id))
    contract = make_contract_state(
        account_id=account, start_date=date(2026, 3, 2), terms=make_plan_terms(calendar_id=calendar_id)
    )
    await timetracking.know_quietly(contract)
    on_contract = make_log_command(
        account_id=account, started_at=MONDAY_4PM, ended_at=None, duration_minutes=120
    )
    before_contract = make_log_command(
        account_id=account,
        started_at=datetime(2026, 3, 1, 15, tzinfo=UTC),
        ended_at=None,
        duration_minutes=45,
    )
    for command in (on_contract, before_contract):
        await timetracking.log(command)

    await _save_calendar(timetracking, office(calendar_id, holidays=[date(2026, 3, 2)]))
    (group,) = (await _summary(timetracking, group_by="account", account_id=account))["groups"]

    assert (group["key"], group["minutes"]) == (account, 165)
    assert group["minutes_by_category"] == {
        "holiday": 120,
        "weekend": 0,
        "non_operational": 0,
        "operational": 0,
        "uncategorized": 45,
    }


async def test_a_summary_needs_a_known_grouping_and_a_period_of_up_to_366_days(timetracking) -> None:
    too_long = await timetracking.api.get(
        "/time-entries/summary",
        params={
            "group_by": "rep",
            "started_from": "2025-01-01T00:00:00Z",
            "started_before": "2026-03-01T00:00:00Z",
        },
    )
    by_product = await timetracking.api.get("/time-entries/summary", params={**MARCH, "group_by": "product"})
    no_period = await timetracking.api.get("/time-entries/summary", params={"group_by": "rep"})

    assert too_long.status_code == 422 and "at most 366 days" in too_long.json()["detail"]
    assert (by_product.status_code, no_period.status_code) == (422, 422)
