"""Builders the billing tests share: terms, calendars, cycles, instants and contract copies."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from billing.adapters import wire as adapters
from billing.domain.bill_versions import Bill
from billing.domain.bills import BillDraft, compose_bill
from billing.domain.contract import BillingContract, ContractBook
from billing.domain.terms import BillingMode, BillingTerms, FixedRate, PlanType, WhenExhausted
from billing.domain.usage import UsageEntry, calculate_cycle_usage
from contracts_schema import contracts as wire
from contracts_schema.primitives import MoneyAmount
from servicekit.business_hours import BusinessCalendar, MinuteCategory, WorkingHours
from servicekit.cycles import BillCycle, Cycle, contract_cycles
from servicekit.money import Money

OP = MinuteCategory.OPERATIONAL
NON_OP = MinuteCategory.NON_OPERATIONAL
WEEKEND = MinuteCategory.WEEKEND
HOLIDAY = MinuteCategory.HOLIDAY

WEEKDAYS = frozenset({1, 2, 3, 4, 5})
NINE_TO_FIVE = (WorkingHours(time(9), time(17)),)


def local(
    zone: str, year: int, month: int, day: int, hour: int, minute: int = 0, second: int = 0
) -> datetime:
    """An instant on the zone's clock."""
    return datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(zone))


def office(
    zone: str,
    days: frozenset[int] = WEEKDAYS,
    hours: tuple[WorkingHours, ...] = NINE_TO_FIVE,
    holidays: frozenset[date] = frozenset(),
) -> BusinessCalendar:
    return BusinessCalendar(zone, days, hours, holidays)


def monthly_cycles(zone: str, start: date, expiry: date) -> list[Cycle]:
    return contract_cycles(BillCycle.MONTHLY, start, expiry, zone)


def hour_terms(currency: str = "EUR", **changes: object) -> BillingTerms:
    """Postpaid per-hour terms with a fixed overage rate of 60 an hour and no base charge or allowance."""
    terms = BillingTerms(
        plan_type=PlanType.PER_HOUR,
        billing_mode=BillingMode.POSTPAID,
        currency=currency,
        base_charge=Money.zero(currency),
        allowance_units=0,
        when_exhausted=WhenExhausted.CHARGE_EXTRA,
        overage_rate=FixedRate(Money.of(60, currency)),
    )
    return replace(terms, **changes)  # type: ignore[arg-type]


# --- contract copies as the contracts service announces them ---------------------------------------


def wire_money(amount: str, currency: str = "USD") -> MoneyAmount:
    return MoneyAmount(amount=Decimal(amount), currency=currency)


def wire_calendar(zone: str = "Europe/Berlin") -> wire.BusinessCalendar:
    return wire.BusinessCalendar(
        calendar_id=uuid.uuid4(),
        name="Office",
        time_zone=zone,
        working_days=[1, 2, 3, 4, 5],
        working_hours=[wire.WorkingHours(start=time(9), end=time(17))],
    )


def wire_contract(
    calendar: wire.BusinessCalendar,
    *,
    contract_id: uuid.UUID | None = None,
    mode: str = "postpaid",
    start: date = date(2026, 1, 1),
    expiry: date = date(2026, 12, 31),
    termination: date | None = None,
    time_zone: str | None = None,
    version: int = 1,
    **terms: object,
) -> wire.ContractState:
    """PRODUCT.md's worked example 1 as a contract copy: monthly, USD 500 base, 10 h, 60.00/h, 10 % tax."""
    plan_terms: dict[str, object] = {
        "plan_type": wire.PlanType.PER_HOUR,
        "billing_mode": wire.BillingMode(mode),
        "bill_cycle": wire.BillCycle.MONTHLY,
        "currency": "USD",
        "base_charge": wire_money("500.00"),
        "allowance": 10,
        "when_exhausted": wire.WhenExhausted.CHARGE_EXTRA,
        "overage_rate_kind": wire.OverageRateKind.FIXED,
        "overage_rate": wire_money("60.00"),
        "calendar_id": calendar.calendar_id,
    }
    return wire.ContractState(
        contract_id=contract_id or uuid.uuid4(),
        contract_number="C-1",
        account_id="acme",
        name="Acme",
        plan_id=uuid.uuid4(),
        status=wire.ContractStatus.ACTIVE,
        start_date=start,
        expiry_date=expiry,
        termination_date=termination,
        time_zone=time_zone or calendar.time_zone,
        scope=wire.ContractScope(),
        payment_terms_days=14,
        discount_percent=Decimal(0),
        tax_percent=Decimal(10),
        version=version,
        terms=wire.PlanTerms.model_validate(plan_terms | terms),
    )


# --- bills -----------------------------------------------------------------------------------------


def billing_contract(grace_period_days: int = 0, **changes: object) -> BillingContract:
    """Worked example 1's terms as billing's domain copy, with a grace period if asked for."""
    state = wire_contract(wire_calendar(), **changes)  # type: ignore[arg-type]
    return replace(adapters.billing_contract(state), grace_period_days=grace_period_days)


def bill_draft(contract: BillingContract, period: str, *entries: UsageEntry) -> BillDraft:
    """The draft of a period's bill from these entries, as billing computes it."""
    book = ContractBook.of(contract, adapters.business_calendar(wire_calendar()))
    bill_period = contract.period(period)
    usage = (
        calculate_cycle_usage(book.terms, bill_period.usage_cycle, entries, book.calendar)
        if bill_period.usage_cycle
        else None
    )
    return compose_bill(book.terms, base_charge_cycle=bill_period.base_charge_cycle, usage=usage)


def made_bill(
    contract: BillingContract,
    period: str,
    *entries: UsageEntry,
    version: int = 1,
    made_at: datetime | None = None,
    automatic: bool = False,
) -> Bill:
    """A new version of a period's bill, made at the end of its cycle unless `made_at` says otherwise."""
    bill_period = contract.period(period)
    at = made_at or (bill_period.usage_cycle or contract.cycles[0]).ends_at
    return Bill.make(
        contract,
        bill_period,
        bill_draft(contract, period, *entries),
        bill_id=uuid.uuid4(),
        version=version,
        made_at=at,
        draft_from=at if automatic else None,
    )


def entry(entry_id: str, day: date, minutes: int, *, request: str = "R1") -> UsageEntry:
    """Billable time on a day of 2026, from 10:00 in Berlin."""
    return UsageEntry(
        entry_id, request, local("Europe/Berlin", day.year, day.month, day.day, 10), minutes=minutes
    )
