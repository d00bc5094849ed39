"""Usage accrued from time-entry events: the running figure per cycle, carry-forward, and the
threshold and exhausted events billing announces once each."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from uuid import uuid4

from sqlalchemy import select

from billing.adapters import wire
from billing.adapters.tables import cycle_usage, messaging
from billing.service_layer import handlers
from billing.service_layer.contract_cache import ContractCache
from contracts_schema import CloudEvent
from contracts_schema import contracts as wire_contracts
from contracts_schema.contracts import ContractNotifications
from contracts_schema.primitives import MoneyAmount
from contracts_schema.timetracking import TimeEntryLogged, TimeEntryState
from servicekit.db import Database
from servicekit.origin import Origin

from ..builders import wire_contract
from .conftest import CALENDAR, CONTRACT_ID, contract, sign, time_entry, uow
from .conftest import accrue as accrue_at

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def entry(day: date, minutes: int, *, billable: bool = True, everything: bool = True) -> TimeEntryState:
    return time_entry(day, minutes, billable=billable, everything=everything)


async def accrue(db: Database, *entries: TimeEntryState) -> None:
    await accrue_at(db, entries, NOW)


async def announced(db: Database) -> list[tuple[str, object]]:
    async with db.read() as session:
        payloads = (
            await session.scalars(select(messaging.outbox.c.payload).order_by(messaging.outbox.c.id))
        ).all()
    events = [json.loads(payload) for payload in payloads]
    return [(e["type"].rsplit(".", 1)[1], e["data"].get("percent_used")) for e in events]


async def recipients(db: Database) -> set[tuple[str, ...]]:
    async with db.read() as session:
        payloads = (await session.scalars(select(messaging.outbox.c.payload))).all()
    events = [json.loads(payload) for payload in payloads]
    return {tuple(e["data"]["recipients"]) for e in events if e["type"].endswith("threshold_reached")}


async def usage_rows(db: Database) -> dict[int, tuple[int, int, int]]:
    async with db.read() as session:
        rows = (await session.execute(select(cycle_usage))).mappings().all()
    return {row["cycle_index"]: (row["used"], row["allowance"], row["carried_in"]) for row in rows}


async def test_each_level_and_the_exhaustion_are_announced_once_even_when_one_batch_crosses_several(
    db: Database,
) -> None:
    own_level = contract().model_copy(
        update={
            "notifications": ContractNotifications(allowance_used_percent=80, recipients=["ops@acme.test"])
        }
    )
    await sign(db, own_level)
    await accrue(db, entry(date(2026, 2, 2), 270), entry(date(2026, 2, 3), 60, billable=False))
    await accrue(db, entry(date(2026, 2, 4), 180))  # 450 of 600 minutes: 50 % and 75 %
    await accrue(db, entry(date(2026, 2, 5), 225))  # 675: the contract's own 80 %, 90 % and 100 %
    await accrue(db, entry(date(2026, 2, 6), 30))
    assert await announced(db) == [
        ("threshold_reached", 50),
        ("threshold_reached", 75),
        ("threshold_reached", 80),
        ("threshold_reached", 90),
        ("threshold_reached", 100),
        ("allowance_exhausted", None),
    ]
    assert (await usage_rows(db))[2] == (705, 600, 0)
    assert await recipients(db) == {("ops@acme.test",)}


async def test_a_level_an_entry_event_reaches_is_announced_as_caused_by_that_event(db: Database) -> None:
    await sign(db, contract())
    first, second = entry(date(2026, 2, 2), 60), entry(date(2026, 2, 3), 270)
    events = {
        e.entry_id: CloudEvent.wrap(TimeEntryLogged(entry=e), source="timetracking", subject="t", actor="rep")
        for e in (first, second)
    }
    async with uow(db) as unit:
        await handlers.accrue_time_entries(
            unit,
            [wire.logged_entry(first), wire.logged_entry(second)],
            contracts=ContractCache(),
            now=NOW,
            causes={str(entry_id): Origin("billing", cause=event) for entry_id, event in events.items()},
        )
    async with db.read() as session:
        (notice,) = [json.loads(p) for p in await session.scalars(select(messaging.outbox.c.payload))]
    # 330 of 600 minutes: the 50 % level, reached by the batch's last entry in the cycle.
    assert (notice["type"], notice["data"]["percent_used"]) == ("billing.usage.threshold_reached", 50)
    assert notice["causationid"] == str(events[second.entry_id].id)
    assert notice["correlationid"] == str(events[second.entry_id].id)


async def test_unused_own_allowance_is_carried_into_the_next_cycle_only(db: Database) -> None:
    await sign(db, contract(carry_forward=True))
    await accrue(db, entry(date(2026, 1, 5), 200))
    await accrue(db, entry(date(2026, 2, 5), 100))
    await accrue(db, entry(date(2026, 3, 5), 10))
    rows = await usage_rows(db)
    assert rows[1] == (200, 600, 0)
    assert rows[2] == (100, 1000, 400)  # 400 unused minutes of January's own allowance
    assert rows[3] == (10, 1200, 600)  # February drew on its carried minutes first: all its own unused


async def test_an_entry_without_non_operational_time_counts_its_operational_minutes_only(
    db: Database,
) -> None:
    await sign(db, contract())
    # Tuesday 2026-02-03 09:00 UTC is 10:00 in Berlin; 10 hours run to 20:00, 7 of them operational.
    await accrue(db, entry(date(2026, 2, 3), 600, everything=False))
    assert (await usage_rows(db))[2][0] == 420


async def test_entries_that_arrive_before_their_contract_count_once_it_does(db: Database) -> None:
    await accrue(db, entry(date(2026, 2, 2), 270), entry(date(2026, 2, 3), 400))
    assert await usage_rows(db) == {}
    await sign(db, contract())
    async with uow(db) as unit:
        await handlers.place_early_entries(unit, {CONTRACT_ID}, contracts=ContractCache(), now=NOW)
    assert (await usage_rows(db))[2] == (670, 600, 0)
    assert ("allowance_exhausted", None) in await announced(db)


async def test_a_deleted_contract_is_not_brought_back_by_a_late_event(db: Database) -> None:
    await sign(db, contract())
    async with uow(db) as unit:
        await unit.contracts.forget(CONTRACT_ID)
    await sign(db, contract(version=2))
    async with uow(db) as unit:
        assert await unit.contracts.get(CONTRACT_ID) is None


async def test_a_top_up_after_the_allowance_ran_out_is_announced_and_running_out_again_is_too(
    db: Database,
) -> None:
    """Coverage of a plan that blocks follows these events: a top-up that was never announced left
    work blocked, and its own exhaustion was never announced, so work stayed covered for good."""
    prepaid = contract("prepaid")
    await sign(db, prepaid)
    await accrue(db, entry(date(2026, 2, 2), 630))  # 630 of 600 minutes
    async with uow(db) as unit:
        await handlers.record_top_up(
            unit,
            prepaid,
            uuid4(),
            5,  # hours: 300 minutes more
            MoneyAmount(amount="250.00", currency="USD"),
            datetime(2026, 2, 10, tzinfo=UTC),
            contracts=ContractCache(),
        )
    # At once, not with the next time logged; the levels start afresh against the larger allowance.
    assert (await announced(db))[-2:] == [("allowance_restored", None), ("threshold_reached", 50)]
    await accrue(db, entry(date(2026, 2, 11), 300))  # 930 of 900

    kinds = [kind for kind, _ in await announced(db)]
    assert kinds.count("allowance_exhausted") == 2
    first, again = (n for n, kind in enumerate(kinds) if kind == "allowance_exhausted")
    assert kinds.index("allowance_restored") in range(first + 1, again)
    assert (await usage_rows(db))[2] == (930, 900, 0)


async def test_requests_a_bill_rule_prices_count_in_the_running_usage_as_on_the_bill(db: Database) -> None:
    """Usage is computed once: on-site time priced by its own rule is no request of the allowance
    (the bill says so), so it must not use the allowance up in the usage billing announces either."""
    on_site = wire_contracts.BillRule(
        name="On site",
        criteria=[wire_contracts.RuleCriterion(field=wire_contracts.RuleField.RATE_TYPE, values=["onsite"])],
        hourly_rate=MoneyAmount(amount="90.00", currency="USD"),
    )
    per_request = wire_contract(
        CALENDAR,
        contract_id=CONTRACT_ID,
        plan_type=wire_contracts.PlanType.PER_REQUEST,
        allowance=1,
        overage_rate_kind=None,
        overage_rate=None,
        when_exhausted=wire_contracts.WhenExhausted.BLOCK,
        bill_rules=[on_site],
    )
    await sign(db, per_request)
    onsite = [
        entry(date(2026, 2, day), 60).model_copy(update={"request_id": f"R{day}", "rate_type": "onsite"})
        for day in (2, 3, 4)
    ]
    await accrue(db, *onsite)
    assert (await usage_rows(db))[2][0] == 0
    assert await announced(db) == []

    await accrue(db, entry(date(2026, 2, 5), 30).model_copy(update={"request_id": "R-desk"}))
    assert (await usage_rows(db))[2][0] == 1
    assert ("allowance_exhausted", None) in await announced(db)


def test_entries_of_one_contract_carry_one_object_for_its_id() -> None:
    # Each event's ids are parsed anew; the accrual's dicts and sets then find the contract by identity.
    first, second = (
        TimeEntryState.model_validate_json(time_entry(date(2026, 1, 5), 30).model_dump_json())
        for _ in range(2)
    )
    assert first.contract_id == second.contract_id and first.contract_id is not second.contract_id
    assert wire.logged_entry(first).contract_id is wire.logged_entry(second).contract_id
