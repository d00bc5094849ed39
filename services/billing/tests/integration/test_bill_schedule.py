"""The bill scheduler on a real database with a fake clock: bills fall due at cycle boundaries, a
terminated cycle is billed at the end of its termination day, and nothing is billed twice."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select, text

from billing.adapters import tables
from billing.adapters.repositories import UsageLedger
from billing.domain.bill_versions import Bill
from billing.domain.contract import BillingContract
from billing.service_layer import bill_schedule, bills
from billing.service_layer.unit_of_work import BillingUnitOfWork
from contracts_schema.timetracking import TimeEntryState
from servicekit.db import Database
from servicekit.origin import Origin

from .conftest import CONTRACT_ID, accrue, contract, sign, uow, usd

ITEMS, BILLS, JOB = "scheduler_items_total", "bills_made_total", bill_schedule.JOB


async def run_scheduler(db: Database, now: datetime) -> list[str]:
    async with uow(db) as unit:
        run = await bill_schedule.make_due_bills(unit, now=now)
    return [bill.period for bill in run.bills]


def berlin_midnight(day: date) -> datetime:
    # CET is UTC+1 in winter, CEST UTC+2 in summer.
    offset = 2 if 4 <= day.month <= 10 else 1
    return datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(hours=offset)


async def test_a_postpaid_cycle_is_billed_once_when_it_ends(db: Database) -> None:
    await sign(db, contract())
    assert await run_scheduler(db, berlin_midnight(date(2026, 2, 1)) - timedelta(minutes=1)) == []
    assert await run_scheduler(db, berlin_midnight(date(2026, 2, 1))) == ["1"]
    assert await run_scheduler(db, berlin_midnight(date(2026, 2, 1)) + timedelta(hours=1)) == []


async def test_after_downtime_every_missed_cycle_is_billed_dated_at_its_boundary(db: Database) -> None:
    await sign(db, contract())
    assert await run_scheduler(db, datetime(2026, 4, 15, tzinfo=UTC)) == ["1", "2", "3"]
    async with uow(db) as unit:
        made = [
            (await unit.bills.period(CONTRACT_ID, period, lock=False)).versions[0]
            for period in ("1", "2", "3")
        ]
    assert [bill.bill_date for bill in made] == [date(2026, 2, 1), date(2026, 3, 1), date(2026, 4, 1)]
    # Payment terms run from the day they were made, not from their dates: none is overdue at once.
    assert all(bill.due_date == date(2026, 4, 15) + timedelta(days=14) for bill in made)


async def test_a_terminated_cycle_is_billed_at_the_end_of_the_termination_day_in_full(db: Database) -> None:
    await sign(db, contract())
    entry = TimeEntryState(
        entry_id=uuid.uuid4(),
        account_id="acme",
        contract_id=CONTRACT_ID,
        request_id="R1",
        rep_id="ann",
        started_at=datetime(2026, 3, 3, 9, tzinfo=UTC),
        minutes=675,
        billable=True,
        include_non_operational=True,
        version=1,
    )
    await accrue(db, [entry], datetime(2026, 3, 5, tzinfo=UTC))
    await run_scheduler(db, datetime(2026, 3, 5, tzinfo=UTC))  # cycles 1 and 2 billed
    await sign(db, contract(termination=date(2026, 3, 10), version=2))

    assert await run_scheduler(db, berlin_midnight(date(2026, 3, 11)) - timedelta(minutes=1)) == []
    assert await run_scheduler(db, berlin_midnight(date(2026, 3, 11))) == ["3"]
    async with uow(db) as unit:
        (final,) = (await unit.bills.period(CONTRACT_ID, "3", lock=False)).versions
        assert await unit.contracts.due_for_billing(datetime(2027, 1, 1, tzinfo=UTC), 10) == []
    assert (final.period_start, final.period_end) == (date(2026, 3, 1), date(2026, 3, 10))
    assert final.total == usd("632.50")  # no proration: full base charge, 75 minutes over


async def test_a_prepaid_contract_is_billed_at_each_cycle_start_and_finally_at_its_end(db: Database) -> None:
    await sign(db, contract("prepaid", termination=date(2026, 2, 14)))
    assert await run_scheduler(db, datetime(2026, 1, 1, tzinfo=UTC)) == ["1"]
    assert await run_scheduler(db, datetime(2026, 2, 14, tzinfo=UTC)) == ["2"]
    assert await run_scheduler(db, berlin_midnight(date(2026, 2, 15))) == ["final"]
    async with uow(db) as unit:
        (final,) = (await unit.bills.period(CONTRACT_ID, "final", lock=False)).versions
    assert [line.kind for line in final.lines] == []
    assert final.total == usd("0.00")


async def test_a_bill_made_before_its_cycle_ended_is_replaced_by_the_whole_cycles_bill(db: Database) -> None:
    await sign(db, contract())
    early_at = datetime(2026, 1, 10, tzinfo=UTC)
    async with uow(db) as unit:
        early = await bills.make_bill(
            unit, bills.BillRequest(CONTRACT_ID, "1"), origin=Origin("ann"), now=early_at
        )
    assert early.is_main and early.total == usd("550.00")
    late = TimeEntryState(
        entry_id=uuid.uuid4(),
        account_id="acme",
        contract_id=CONTRACT_ID,
        request_id="R9",
        rep_id="ann",
        started_at=datetime(2026, 1, 20, 9, tzinfo=UTC),
        minutes=1200,
        billable=True,
        include_non_operational=True,
        version=1,
    )
    await accrue(db, [late], datetime(2026, 1, 20, 10, tzinfo=UTC))

    assert await run_scheduler(db, berlin_midnight(date(2026, 2, 1))) == ["1"]
    async with uow(db) as unit:
        first, whole = (await unit.bills.period(CONTRACT_ID, "1", lock=False)).versions
    assert not first.is_main and whole.is_main and whole.version == 2
    assert whole.total == usd("1210.00")  # 500 + 600 min over at 60/h, plus 10 % tax
    assert await run_scheduler(db, berlin_midnight(date(2026, 2, 1)) + timedelta(hours=1)) == []


async def test_a_contract_whose_bill_run_fails_on_a_bug_is_parked_and_the_others_are_billed(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = contract().model_copy(update={"contract_id": uuid.uuid4(), "contract_number": "C-BROKEN"})
    await sign(db, contract())
    await sign(db, broken)
    make_bill = bill_schedule.make_bill

    async def make_bill_with_a_bug(uow: BillingUnitOfWork, request: bills.BillRequest, **kwargs: Any) -> Bill:
        if request.contract_id == broken.contract_id:
            raise ZeroDivisionError("a bug")
        return await make_bill(uow, request, **kwargs)

    monkeypatch.setattr(bill_schedule, "make_bill", make_bill_with_a_bug)
    first_of_february = berlin_midnight(date(2026, 2, 1))

    assert await run_scheduler(db, first_of_february) == ["1"]
    async with uow(db) as unit:
        assert (await unit.bills.period(broken.contract_id, "1", lock=False)).versions == []
        # Parked, not retried at every tick: no bill of it falls due any more, even much later.
        assert await unit.contracts.due_for_billing(datetime(2027, 1, 1, tzinfo=UTC), 10) == [CONTRACT_ID]
    async with db.read() as session:
        reason = await session.scalar(
            select(tables.contracts.c.parked_reason).where(
                tables.contracts.c.contract_id == str(broken.contract_id)
            )
        )
    assert reason == "ZeroDivisionError: a bug"

    monkeypatch.setattr(bill_schedule, "make_bill", make_bill)
    await sign(db, broken.model_copy(update={"version": 2}))  # a new version takes it up again
    assert await run_scheduler(db, first_of_february + timedelta(hours=1)) == ["1"]
    async with uow(db) as unit:
        assert len((await unit.bills.period(broken.contract_id, "1", lock=False)).versions) == 1


def counted(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_contract_that_fails_while_its_batch_is_read_ahead_is_parked_alone_and_counted_once(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch reads every contract's due periods before billing any; a bug there must not fail the
    whole tick (and every tick after it, on the same contracts), nor count the others' bills twice."""
    broken = contract().model_copy(update={"contract_id": uuid.uuid4(), "contract_number": "C-BROKEN"})
    await sign(db, contract())
    await sign(db, broken)
    due_dates = BillingContract.bill_due_dates

    def due_dates_with_a_bug(self: BillingContract) -> list[tuple[str, datetime]]:
        if self.contract_id == broken.contract_id:
            raise ZeroDivisionError("a bug")
        return due_dates(self)

    monkeypatch.setattr(BillingContract, "bill_due_dates", due_dates_with_a_bug)
    done, parked = counted(ITEMS, job=JOB, outcome="done"), counted(ITEMS, job=JOB, outcome="parked")
    issued = counted(BILLS, status="issued")

    assert await run_scheduler(db, berlin_midnight(date(2026, 2, 1))) == ["1"]
    assert counted(ITEMS, job=JOB, outcome="done") - done == 1
    assert counted(ITEMS, job=JOB, outcome="parked") - parked == 1
    assert counted(BILLS, status="issued") - issued == 1  # made in the failed batch too, but undone there
    async with uow(db) as unit:
        assert await unit.contracts.due_for_billing(datetime(2027, 1, 1, tzinfo=UTC), 10) == [CONTRACT_ID]


@pytest.mark.skipif(
    os.environ.get("TEST_DATABASE") != "postgresql",
    reason="PostgreSQL aborts a transaction on a failed statement; SQLite's errors here are transient",
)
async def test_a_statement_that_fails_while_the_batch_is_read_ahead_leaves_the_contracts_billed_alone(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL a failed statement aborts the transaction: without a savepoint around the read-ahead
    every contract's own savepoint would then fail too, and so would every tick after."""
    second = contract().model_copy(update={"contract_id": uuid.uuid4(), "contract_number": "C-SECOND"})
    await sign(db, contract())
    await sign(db, second)

    async def broken_prefetch(self: UsageLedger, spans: object) -> None:
        await self._session.execute(text("SELECT * FROM no_such_table"))

    monkeypatch.setattr(UsageLedger, "prefetch_entries", broken_prefetch)

    assert await run_scheduler(db, berlin_midnight(date(2026, 2, 1))) == ["1", "1"]


async def test_a_batch_billed_at_once_counts_each_contract_and_bill(db: Database) -> None:
    second = contract().model_copy(update={"contract_id": uuid.uuid4(), "contract_number": "C-SECOND"})
    await sign(db, contract())
    await sign(db, second)
    done, issued = counted(ITEMS, job=JOB, outcome="done"), counted(BILLS, status="issued")

    assert await run_scheduler(db, berlin_midnight(date(2026, 2, 1))) == ["1", "1"]
    assert counted(ITEMS, job=JOB, outcome="done") - done == 2
    assert counted(BILLS, status="issued") - issued == 2


async def test_a_contract_that_cannot_be_billed_yet_is_tried_again_later_behind_the_others(
    db: Database,
) -> None:
    await sign(db, contract())
    no_calendar = contract().model_copy(update={"contract_id": uuid.uuid4(), "contract_number": "C-LATE"})
    no_calendar = no_calendar.model_copy(
        update={"terms": no_calendar.terms.model_copy(update={"calendar_id": uuid.uuid4()})}
    )
    await sign(db, no_calendar)
    first_of_february = berlin_midnight(date(2026, 2, 1))

    assert await run_scheduler(db, first_of_february) == ["1"]
    async with uow(db) as unit:
        due_later = await unit.contracts.due_for_billing(first_of_february + timedelta(minutes=5), 10)
        assert await unit.contracts.due_for_billing(first_of_february + timedelta(minutes=4), 10) == []
    assert due_later == [no_calendar.contract_id]


async def test_a_contract_back_dated_by_many_cycles_is_billed_over_several_transactions(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A contract years in the past must not hold its locks, and the service's other writers, for the
    minutes hundreds of bills take (review finding: 1,403 bills in one transaction, 187 s)."""
    monkeypatch.setattr(bill_schedule, "PERIODS_PER_CONTRACT", 2)
    await sign(db, contract())
    april = datetime(2026, 4, 15, tzinfo=UTC)
    async with uow(db) as unit:
        first = await bill_schedule.make_due_bills(unit, now=april)
    async with uow(db) as unit:
        second = await bill_schedule.make_due_bills(unit, now=april)

    assert ([bill.period for bill in first.bills], first.more) == (["1", "2"], True)
    assert ([bill.period for bill in second.bills], second.more) == (["3"], False)
