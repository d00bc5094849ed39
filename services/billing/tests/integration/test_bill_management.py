"""Bills after they are made, on a real database: late, edited and deleted time flags them, drafts are
recomputed in their grace period, versions are regenerated and marked main, statuses move, and nothing
billable is dropped without a flag. Events are read back from the outbox."""

from __future__ import annotations

import asyncio
import io
import json
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from billing.adapters import printable, tables, wire
from billing.adapters.repositories import BillFilter
from billing.adapters.tables import messaging
from billing.domain.bill_versions import Bill, BillStatus
from billing.domain.errors import BillIdTaken, BillNotFound, BillStatusConflict, PeriodNotStarted
from billing.service_layer import bill_schedule, bills, handlers
from billing.service_layer.contract_cache import ContractCache
from billing.service_layer.unit_of_work import BillingUnitOfWork
from contracts_schema import CloudEvent
from contracts_schema.billing import EditBill
from contracts_schema.contracts import ContractState
from contracts_schema.timetracking import TimeEntryChanged, TimeEntryDeleted, TimeEntryLogged
from servicekit.db import Database
from servicekit.origin import Origin

from .conftest import CALENDAR, CONTRACT_ID, contract, sign, time_entry, uow, usd

ANN = Origin("ann@billing.test")
FEBRUARY_FIRST = datetime(2026, 1, 31, 23, tzinfo=UTC)  # midnight in Berlin: cycle 1 has ended
JANUARY_WORK = (
    time_entry(date(2026, 1, 5), 270),
    time_entry(date(2026, 1, 6), 180),
    time_entry(date(2026, 1, 7), 225),
)


async def feed(
    db: Database, *messages: TimeEntryLogged | TimeEntryChanged | TimeEntryDeleted, now: datetime
) -> list[CloudEvent]:
    """The messages as timetracking's events, each a conversation of its own, accrued in one batch."""
    events = [
        CloudEvent.wrap(message, source="timetracking", subject="time-entry", actor="rep@acme.test")
        for message in messages
    ]
    entries = [wire.time_entry_event(message) for message in messages]
    causes = {
        entry.usage.entry_id: Origin("billing", cause=event)
        for entry, event in zip(entries, events, strict=True)
    }
    async with uow(db) as unit:
        await handlers.accrue_time_entries(unit, entries, contracts=ContractCache(), now=now, causes=causes)
    return events


async def bill_january(db: Database, state: ContractState | None = None) -> Bill:
    """Worked example 1: January's 675 minutes, billed by the scheduler when the cycle ends."""
    await sign(db, state or contract())
    await feed(db, *(TimeEntryLogged(entry=e) for e in JANUARY_WORK), now=FEBRUARY_FIRST)
    async with uow(db) as unit:
        run = await bill_schedule.make_due_bills(unit, now=FEBRUARY_FIRST)
    (bill,) = run.bills
    return bill


async def period_bills(db: Database) -> list[Bill]:
    async with uow(db) as unit:
        return (await unit.bills.period(CONTRACT_ID, "1", lock=False)).versions


async def published_envelopes(db: Database, event_type: str) -> list[dict[str, Any]]:
    async with db.read() as session:
        payloads = await session.scalars(select(messaging.outbox.c.payload).order_by(messaging.outbox.c.id))
        events = [json.loads(payload) for payload in payloads]
    return [event for event in events if event["type"] == event_type]


async def published(db: Database, event_type: str) -> list[dict[str, object]]:
    return [event["data"] for event in await published_envelopes(db, f"billing.bill.{event_type}")]


async def billed_entries(db: Database) -> set[str]:
    """The entries billing last announced as billed for the period: those of the main bill issued, or
    of the new main when it changed (none when the main was voided)."""
    billed: set[str] = set()
    async with db.read() as session:
        payloads = await session.scalars(select(messaging.outbox.c.payload).order_by(messaging.outbox.c.id))
        for event in map(json.loads, payloads):
            if event["type"] == "billing.bill.issued" and event["data"]["bill"]["is_main"]:
                billed = set(event["data"]["bill"]["time_entry_ids"])
            elif event["type"] == "billing.bill.main_changed":
                main = event["data"]["main"]
                billed = set(main["time_entry_ids"]) if main else set()
    return billed


async def test_a_late_entry_flags_the_issued_main_bill_and_reconciliation_shows_why(db: Database) -> None:
    issued = await bill_january(db)
    assert issued.total == usd("632.50") and issued.is_main and issued.status is BillStatus.ISSUED
    late = time_entry(date(2026, 1, 20), 60)

    (cause,) = await feed(db, TimeEntryLogged(entry=late), now=FEBRUARY_FIRST + timedelta(days=3))

    (flagged,) = await period_bills(db)
    assert flagged.needs_regeneration
    assert flagged.regeneration_reasons == ("time entries logged after the bill was made",)
    assert flagged.total == usd("632.50")  # an issued bill keeps its figures
    (notice,) = await published(db, "needs_regeneration")
    assert notice["reasons"] == ["time entries logged after the bill was made"]
    (envelope,) = await published_envelopes(db, "billing.bill.needs_regeneration")
    assert (envelope["causationid"], envelope["correlationid"]) == (str(cause.id), str(cause.id))
    assert envelope["actor"] == "billing"  # billing's doing, caused by the rep's entry
    async with uow(db) as unit:
        found = await bills.reconcile_bill(unit, flagged.bill_id)
    assert not found.matches
    assert found.entries_not_billed == (str(late.entry_id),)
    (overage,) = found.differences
    assert overage.billed is not None and overage.recomputed is not None
    assert (overage.billed.quantity, overage.recomputed.quantity) == (75, 135)
    assert found.recomputed.total == usd("698.50")


async def test_a_correct_bill_reconciles_without_a_difference(db: Database) -> None:
    issued = await bill_january(db)
    async with uow(db) as unit:
        found = await bills.reconcile_bill(unit, issued.bill_id)
    assert found.matches and found.differences == () and found.entries_not_billed == ()


async def test_regenerate_then_mark_main_bills_the_late_entry_and_clears_the_flag(db: Database) -> None:
    first = await bill_january(db)
    late = time_entry(date(2026, 1, 20), 60)
    await feed(db, TimeEntryLogged(entry=late), now=FEBRUARY_FIRST + timedelta(days=3))

    async with uow(db) as unit:
        second = await bills.regenerate_bill(
            unit, first.bill_id, new_bill_id=None, origin=ANN, now=FEBRUARY_FIRST + timedelta(days=4)
        )
    assert (second.version, second.number, second.is_main) == (2, "C-1-01-v2", False)
    assert second.total == usd("698.50")
    assert not (await period_bills(db))[0].needs_regeneration  # a new version was made

    async with uow(db) as unit:
        await bills.mark_main(unit, second.bill_id, origin=ANN)

    old, new = await period_bills(db)
    assert (old.is_main, new.is_main) == (False, True)
    assert (
        await billed_entries(db)
        == set(new.time_entry_ids)
        == {*(str(e.entry_id) for e in JANUARY_WORK), str(late.entry_id)}
    )
    (change,) = await published(db, "main_changed")
    assert change["main"]["bill_id"] == str(new.bill_id)  # type: ignore[index]
    assert change["previous_main"]["bill_id"] == str(old.bill_id)  # type: ignore[index]


async def test_voiding_the_main_leaves_the_period_without_one_and_its_entries_unbilled(db: Database) -> None:
    first = await bill_january(db)
    assert await billed_entries(db) == set(first.time_entry_ids) == {str(e.entry_id) for e in JANUARY_WORK}

    async with uow(db) as unit:
        await bills.change_status(unit, first.bill_id, BillStatus.VOID, origin=ANN)

    (voided,) = await period_bills(db)
    assert voided.status is BillStatus.VOID and not voided.is_main
    assert await billed_entries(db) == set()
    (change,) = await published(db, "main_changed")
    assert change["main"] is None
    with pytest.raises(BillStatusConflict, match="void"):
        async with uow(db) as unit:
            await bills.regenerate_bill(unit, first.bill_id, new_bill_id=None, origin=ANN, now=FEBRUARY_FIRST)


async def test_send_and_pay_the_main_and_then_nothing_changes_it(db: Database) -> None:
    first = await bill_january(db)
    async with uow(db) as unit:
        other = await bills.make_bill(
            unit, bills.BillRequest(CONTRACT_ID, "01"), origin=ANN, now=FEBRUARY_FIRST
        )
    assert other.period == "1" and not other.is_main
    async with uow(db) as unit:
        await bills.change_status(unit, first.bill_id, BillStatus.SENT, origin=ANN)
        await bills.change_status(unit, first.bill_id, BillStatus.PAID, origin=ANN)

    attempts: list[Callable[[BillingUnitOfWork], Awaitable[object]]] = [
        lambda unit: bills.change_status(unit, first.bill_id, BillStatus.VOID, origin=ANN),
        lambda unit: bills.mark_main(unit, other.bill_id, origin=ANN),
        lambda unit: bills.regenerate_bill(
            unit, first.bill_id, new_bill_id=None, origin=ANN, now=FEBRUARY_FIRST
        ),
        lambda unit: bills.edit_bill(unit, first.bill_id, {"notes": "too late"}, origin=ANN),
        lambda unit: bills.make_bill(
            unit, bills.BillRequest(CONTRACT_ID, "01"), origin=ANN, now=FEBRUARY_FIRST
        ),
    ]
    for attempt in attempts:
        with pytest.raises(BillStatusConflict):
            async with uow(db) as unit:
                await attempt(unit)

    paid, _ = await period_bills(db)
    assert (paid.status, paid.is_main, paid.notes, paid.total) == (BillStatus.PAID, True, "", usd("632.50"))
    assert [data["previous_status"] for data in await published(db, "status_changed")] == ["issued", "sent"]


async def test_a_draft_is_recomputed_in_place_during_its_grace_period_and_issued_when_it_ends(
    db: Database,
) -> None:
    with_grace = contract().model_copy(
        update={"terms": contract().terms.model_copy(update={"grace_period_days": 3}), "version": 1}
    )
    draft = await bill_january(db, with_grace)
    assert draft.status is BillStatus.DRAFT and draft.grace_ends_at == FEBRUARY_FIRST + timedelta(days=3)

    await feed(
        db, TimeEntryLogged(entry=time_entry(date(2026, 1, 20), 60)), now=FEBRUARY_FIRST + timedelta(days=1)
    )

    (recomputed,) = await period_bills(db)
    assert (recomputed.bill_id, recomputed.number, recomputed.version) == (draft.bill_id, draft.number, 1)
    assert recomputed.total == usd("698.50") and not recomputed.needs_regeneration
    assert await billed_entries(db) == set()  # a draft bills nothing yet

    async with uow(db) as unit:
        early = await bill_schedule.issue_due_drafts(unit, now=FEBRUARY_FIRST + timedelta(days=3, minutes=-1))
        assert early.done == 0
    async with uow(db) as unit:
        assert (await bill_schedule.issue_due_drafts(unit, now=FEBRUARY_FIRST + timedelta(days=3))).done == 1

    (issued,) = await period_bills(db)
    assert issued.status is BillStatus.ISSUED and issued.grace_ends_at is None
    assert await billed_entries(db) == set(issued.time_entry_ids) and len(issued.time_entry_ids) == 4
    assert [data["bill"]["status"] for data in await published(db, "issued")] == ["issued"]  # type: ignore[index]
    assert [data["bill"]["total"]["amount"] for data in await published(db, "updated")] == ["698.50"]  # type: ignore[index]


async def test_an_edited_or_deleted_entry_flags_the_bill_that_carries_it(db: Database) -> None:
    await bill_january(db)
    first = JANUARY_WORK[0]
    shorter = first.model_copy(update={"minutes": 200, "version": 2})

    await feed(
        db,
        TimeEntryChanged(entry=shorter, previous=first, reason="typo"),
        now=FEBRUARY_FIRST + timedelta(days=1),
    )
    (edited,) = await period_bills(db)
    assert edited.regeneration_reasons == ("time entries edited after the bill was made",)

    async with uow(db) as unit:
        await bills.regenerate_bill(unit, edited.bill_id, new_bill_id=None, origin=ANN, now=FEBRUARY_FIRST)
        main = (await unit.bills.period(CONTRACT_ID, "1", lock=False)).versions[1]
        await bills.mark_main(unit, main.bill_id, origin=ANN)
    await feed(
        db,
        TimeEntryDeleted(entry=shorter.model_copy(update={"version": 3})),
        now=FEBRUARY_FIRST + timedelta(days=2),
    )

    _, deleted_from = await period_bills(db)
    assert deleted_from.regeneration_reasons == ("time entries deleted after the bill was made",)
    async with uow(db) as unit:
        found = await bills.reconcile_bill(unit, deleted_from.bill_id)
    assert found.entries_no_longer_billable == (str(first.entry_id),)


async def test_a_top_up_bought_for_a_billed_cycle_flags_the_bill_that_carries_it(db: Database) -> None:
    prepaid = contract("prepaid")
    await sign(db, prepaid)
    async with uow(db) as unit:
        run = await bill_schedule.make_due_bills(unit, now=FEBRUARY_FIRST)
    assert sorted(bill.period for bill in run.bills) == ["1", "2"]  # cycle 1's arrears are on bill 2

    async with uow(db) as unit:
        await handlers.record_top_up(
            unit,
            prepaid,
            uuid4(),
            5,
            wire.amount(usd("250.00")),
            datetime(2026, 1, 25, tzinfo=UTC),
            contracts=ContractCache(),
        )
        (carrying,) = (await unit.bills.period(CONTRACT_ID, "2", lock=False)).versions
    assert carrying.regeneration_reasons == ("a top-up was bought for the cycle",)


async def test_a_calendar_change_has_the_scheduler_review_the_contracts_on_it(db: Database) -> None:
    # Only operational minutes count for the first entry (420 of them, 10:00 to 17:00 in Berlin), so a
    # new holiday on its day takes them away, and with them January's overage.
    await sign(db, contract())
    only_operational = time_entry(date(2026, 1, 7), 480, everything=False)
    await feed(
        db,
        TimeEntryLogged(entry=only_operational),
        TimeEntryLogged(entry=time_entry(date(2026, 1, 8), 300)),
        now=FEBRUARY_FIRST,
    )
    async with uow(db) as unit:
        (first,) = (await bill_schedule.make_due_bills(unit, now=FEBRUARY_FIRST)).bills
    assert first.total == usd("682.00")  # 720 minutes: 120 over at 60.00/h, plus 10 % tax
    holiday = CALENDAR.model_copy(update={"holidays": [date(2026, 1, 7)]})

    async with uow(db) as unit:
        await handlers.keep_calendars(unit, [holiday])
    async with uow(db) as unit:
        reviewed = await bill_schedule.review_changed_contracts(
            unit, contracts=ContractCache(), now=FEBRUARY_FIRST
        )

    assert reviewed.done == 1
    (flagged,) = await period_bills(db)
    assert flagged.regeneration_reasons == ("the business-hours calendar changed",)
    async with uow(db) as unit:
        assert await unit.contracts.due_for_review(10) == []
        assert (await unit.usage.standings({(CONTRACT_ID, 1)}))[(CONTRACT_ID, 1)].used == 300


async def test_a_command_that_names_another_contract_finds_no_bill(db: Database) -> None:
    first = await bill_january(db)
    with pytest.raises(BillNotFound):
        async with uow(db) as unit:
            await bills.mark_main(unit, first.bill_id, origin=ANN, contract_id=uuid4())
    assert (await period_bills(db))[0].is_main


async def test_totals_count_main_bills_that_are_issued_sent_or_paid(db: Database) -> None:
    first = await bill_january(db)
    async with uow(db) as unit:
        await bills.make_bill(unit, bills.BillRequest(CONTRACT_ID, "1"), origin=ANN, now=FEBRUARY_FIRST)
        (totals,) = await unit.bills.totals(BillFilter(account_id="acme"), dated_from=None, dated_until=None)
    assert (totals.bills, totals.total, totals.tax) == (1, first.total, usd("57.50"))


async def test_a_printable_bill_shows_minor_units_h_mm_and_the_entries_it_covers(db: Database) -> None:
    bill = await bill_january(db)
    async with uow(db) as unit:
        entries = await unit.usage.entries(list(bill.time_entry_ids))

    html = printable.bill_html(bill, entries, "Europe/Berlin")
    pdf_text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(printable.bill_pdf(html))).pages)

    for text in (html, pdf_text):
        assert "C-1-01-v1" in text
        assert "USD 632.50" in text and "USD 57.50" in text
        assert "1:15 h" in text and "minutes" not in text  # 75 minutes of overage, as h:mm
        assert "2026-01-05 10:00" in text  # the first entry, on the contract's clock
    assert html.count("<td>R</td>") == 3


@pytest.mark.skipif(os.environ.get("TEST_DATABASE") != "postgresql", reason="row locks of PostgreSQL")
async def test_two_replicas_marking_main_at_once_leave_exactly_one_main(db: Database) -> None:
    first = await bill_january(db)
    async with uow(db) as unit:
        second = await bills.make_bill(
            unit, bills.BillRequest(CONTRACT_ID, "1"), origin=ANN, now=FEBRUARY_FIRST
        )

    async def mark(bill_id: UUID) -> str:
        try:
            async with uow(db) as unit:
                await bills.mark_main(unit, bill_id, origin=ANN)
        except BillStatusConflict:
            return "refused"
        return "done"

    outcomes = await asyncio.gather(*(mark(second.bill_id) for _ in range(4)))

    assert sorted(outcomes) == ["done", "refused", "refused", "refused"]
    assert [bill.is_main for bill in await period_bills(db)] == [False, True]
    assert first.bill_id != second.bill_id and len(await published(db, "main_changed")) == 1


async def test_entries_and_their_contract_arriving_in_concurrent_transactions_are_all_placed(
    db: Database,
) -> None:
    """The race of two billing transactions: one records entries of a contract it has not seen yet,
    the other copies the contract and looks for entries to place. Neither may commit unseen."""
    await sign(db, contract().model_copy(update={"contract_id": uuid4()}))  # the calendar, and a neighbour
    entries = [TimeEntryLogged(entry=time_entry(date(2026, 1, day), 30)) for day in range(5, 15)]
    copied = asyncio.Event()

    async def record_entries() -> None:
        async with uow(db) as unit:
            await handlers.accrue_time_entries(
                unit,
                [wire.time_entry_event(e) for e in entries],
                contracts=ContractCache(),
                now=FEBRUARY_FIRST,
            )
            # Still uncommitted: give the contract's copy every chance to run and commit meanwhile.
            await asyncio.wait({asyncio.ensure_future(copied.wait())}, timeout=1.0)

    async def copy_contract() -> None:
        await asyncio.sleep(0.2)
        async with uow(db) as unit:
            await unit.usage.lock_placement(shared=False)
            await handlers.keep_contracts(unit, [contract()])
            await handlers.place_early_entries(
                unit, {CONTRACT_ID}, contracts=ContractCache(), now=FEBRUARY_FIRST
            )
        copied.set()

    await asyncio.gather(record_entries(), copy_contract())

    async with db.read() as session:
        cycles = (
            await session.scalars(
                select(tables.usage_entries.c.cycle_index).where(
                    tables.usage_entries.c.contract_id == str(CONTRACT_ID)
                )
            )
        ).all()
    assert cycles == [1] * len(entries)
    async with uow(db) as unit:
        assert (await unit.usage.standings({(CONTRACT_ID, 1)}))[(CONTRACT_ID, 1)].used == 300


MARCH_FIRST = datetime(2026, 2, 28, 23, tzinfo=UTC)  # midnight in Berlin: cycle 2 has ended


async def test_with_carry_forward_a_late_entry_flags_every_later_period_it_changes(db: Database) -> None:
    """January leaves 5 h of its 10 h unused, which February draws on; a late January hour leaves less
    to carry, so February's bill (not only January's) no longer matches the time."""
    await sign(db, contract(carry_forward=True))
    january = [time_entry(date(2026, 1, 5), 300)]
    february = [time_entry(date(2026, 2, day), 250) for day in (2, 3, 4, 5)]
    await feed(db, *(TimeEntryLogged(entry=e) for e in january + february), now=MARCH_FIRST)
    async with uow(db) as unit:
        run = await bill_schedule.make_due_bills(unit, now=MARCH_FIRST)
    assert [bill.period for bill in run.bills] == ["1", "2"]

    await feed(db, TimeEntryLogged(entry=time_entry(date(2026, 1, 20), 60)), now=MARCH_FIRST)

    async with uow(db) as unit:
        (february_bill,) = (await unit.bills.period(CONTRACT_ID, "2", lock=False)).versions
        found = await bills.reconcile_bill(unit, february_bill.bill_id)
    assert february_bill.needs_regeneration
    assert february_bill.regeneration_reasons == ("time entries logged after the bill was made",)
    (overage,) = found.differences
    assert overage.billed is not None and overage.recomputed is not None
    assert (overage.billed.quantity, overage.recomputed.quantity) == (100, 160)  # 1000 - (600 + 300 | 240)


async def test_a_bill_asked_for_again_under_the_same_id_is_the_bill_made_the_first_time(db: Database) -> None:
    await bill_january(db)
    request = bills.BillRequest(CONTRACT_ID, "1", bill_id=uuid4())
    async with uow(db) as unit:
        first = await bills.make_bill(unit, request, origin=ANN, now=FEBRUARY_FIRST)
    async with uow(db) as unit:
        again = await bills.make_bill(unit, request, origin=ANN, now=FEBRUARY_FIRST + timedelta(hours=1))

    assert (again.bill_id, again.number) == (first.bill_id, "C-1-01-v2")
    assert [bill.version for bill in await period_bills(db)] == [1, 2]
    with pytest.raises(BillIdTaken):
        async with uow(db) as unit:
            await bills.make_bill(
                unit, bills.BillRequest(CONTRACT_ID, "2", bill_id=first.bill_id), origin=ANN, now=MARCH_FIRST
            )


async def test_a_voided_bill_keeps_the_reason_it_was_voided_and_its_event_says_it(db: Database) -> None:
    first = await bill_january(db)

    async with uow(db) as unit:
        await bills.change_status(
            unit, first.bill_id, BillStatus.VOID, origin=ANN, reason="sent to the wrong customer"
        )

    (voided,) = await period_bills(db)
    assert (voided.status, voided.void_reason) == (BillStatus.VOID, "sent to the wrong customer")
    (change,) = await published(db, "status_changed")
    assert (change["reason"], change["bill"]["void_reason"]) == ("sent to the wrong customer",) * 2  # type: ignore[index]


async def test_bills_of_a_back_dated_contract_made_today_are_drafts_whose_grace_counts_from_today(
    db: Database,
) -> None:
    """A contract signed in April for January: the scheduler bills January to March at once, and each
    bill gets the whole grace period from today to be corrected, not one that ended in February."""
    with_grace = contract().model_copy(
        update={"terms": contract().terms.model_copy(update={"grace_period_days": 3})}
    )
    await sign(db, with_grace)
    today = datetime(2026, 4, 10, 8, tzinfo=UTC)
    async with uow(db) as unit:
        run = await bill_schedule.make_due_bills(unit, now=today)

    assert [bill.period for bill in run.bills] == ["1", "2", "3"]
    assert {(bill.status, bill.grace_ends_at) for bill in run.bills} == {
        (BillStatus.DRAFT, today + timedelta(days=3))
    }
    assert [bill.bill_date for bill in run.bills] == [date(2026, 2, 1), date(2026, 3, 1), date(2026, 4, 1)]


def test_an_edit_command_leaves_out_what_it_does_not_send_and_a_null_email_clears_it() -> None:
    sent = EditBill.model_validate(
        {"contract_id": str(CONTRACT_ID), "bill_id": str(uuid4()), "notes": None, "billing_email": None}
    )

    changes = wire.bill_changes(
        {name: getattr(sent, name) for name in sent.model_fields_set - {"contract_id", "bill_id"}}
    )

    assert changes == {"billing_email": None}


@pytest.mark.skipif(os.environ.get("TEST_DATABASE") != "postgresql", reason="row locks of PostgreSQL")
async def test_a_bill_made_while_late_time_is_recorded_either_bills_the_time_or_is_flagged(
    db: Database,
) -> None:
    """Nothing billable is dropped silently: an on-demand bill and a late entry in concurrent
    transactions, again and again. Each late entry is on the new version, or the main is flagged for
    it and so is the new version once it is marked main."""
    await bill_january(db)
    for attempt in range(6):
        late = time_entry(date(2026, 1, 21), 30 + attempt)

        async def make() -> Bill:
            async with uow(db) as unit:
                return await bills.make_bill(
                    unit, bills.BillRequest(CONTRACT_ID, "1"), origin=ANN, now=FEBRUARY_FIRST
                )

        made, _ = await asyncio.gather(
            make(), feed(db, TimeEntryLogged(entry=late), now=FEBRUARY_FIRST + timedelta(days=1))
        )
        (main,) = [bill for bill in await period_bills(db) if bill.is_main]
        billed = str(late.entry_id) in made.time_entry_ids
        assert billed or main.needs_regeneration, attempt
        async with uow(db) as unit:
            marked = await bills.mark_main(unit, made.bill_id, origin=ANN)
        assert billed or marked.needs_regeneration, attempt


async def test_a_bill_for_a_period_that_has_not_started_is_refused_and_can_be_previewed(db: Database) -> None:
    await sign(db, contract())
    during_january = datetime(2026, 1, 20, tzinfo=UTC)

    with pytest.raises(PeriodNotStarted, match="starts on 2026-03-01"):
        async with uow(db) as unit:
            await bills.make_bill(unit, bills.BillRequest(CONTRACT_ID, "3"), origin=ANN, now=during_january)
    async with uow(db) as unit:
        early = await bills.make_bill(
            unit, bills.BillRequest(CONTRACT_ID, "1"), origin=ANN, now=during_january
        )
        preview = await bills.preview_bill(unit, bills.BillRequest(CONTRACT_ID, "3"), now=during_january)
    assert (early.period, early.whole_period, preview.period) == ("1", False, "3")
