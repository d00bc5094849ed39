"""The one place billing translates between its domain and the messages of contracts-schema.

Inbound: contract copies, calendars and time entries from the other services' events. Outbound: bills
and usage notices, as events and REST bodies. Stored documents are kept in the wire form, through here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson

from billing.domain.allowance import AllowanceAvailableAgain, AllowanceUsedUp, LevelReached, UsageNotice
from billing.domain.bill_versions import (
    Bill,
    BillEvent,
    BillFlagged,
    BillIssued,
    BillMade,
    BillStatus,
    BillStatusChanged,
    BillUpdated,
    MainBillChanged,
)
from billing.domain.bills import BillLine, BillLineKind, QuantityUnit
from billing.domain.contract import BillingContract
from billing.domain.reconciliation import Reconciliation
from billing.domain.terms import (
    BillingMode,
    BillingTerms,
    BillRule,
    DifferentialRates,
    EntryTraits,
    FixedRate,
    OverageRate,
    PlanType,
    RuleCriterion,
    RuleField,
    WhenExhausted,
    allowance_units,
)
from billing.domain.usage import EntryChange, LoggedEntry, UsageEntry
from contracts_schema import CloudEvent, WireModel
from contracts_schema import billing as bills_wire
from contracts_schema import contracts as contracts_wire
from contracts_schema import timetracking as entries_wire
from contracts_schema.primitives import MoneyAmount, amount_text
from servicekit.business_hours import BusinessCalendar, MinuteCategory, WorkingHours
from servicekit.cycles import BillCycle
from servicekit.money import Money
from servicekit.sql import same_id
from servicekit.uow import EncodedBody

# --- inbound ----------------------------------------------------------------------------------------


def money(amount: MoneyAmount) -> Money:
    return Money(amount.amount, amount.currency)


def business_calendar(calendar: contracts_wire.BusinessCalendar) -> BusinessCalendar:
    """A calendar in its own zone; a contract reads it on its own clock (`ContractBook.of`). A calendar
    equal to one read before is that same object, so the category runs it keeps of the days it was
    asked about serve the next batch of a bill run too, rather than one transaction's bills."""
    found = BusinessCalendar(
        time_zone=calendar.time_zone,
        working_days=frozenset(calendar.working_days),
        working_hours=tuple(WorkingHours(hours.start, hours.end) for hours in calendar.working_hours),
        holidays=frozenset(calendar.holidays),
    )
    if len(_CALENDARS_READ) >= _CALENDARS_KEPT:
        _CALENDARS_READ.clear()
    return _CALENDARS_READ.setdefault(found, found)


_CALENDARS_READ: dict[BusinessCalendar, BusinessCalendar] = {}
_CALENDARS_KEPT = 256
"""With the days each keeps (`servicekit.business_hours`), some tens of MB at the very most."""


def billing_terms(contract: contracts_wire.ContractState) -> BillingTerms:
    terms = contract.terms
    plan_type = PlanType(terms.plan_type.value)
    overage: OverageRate | None = None
    if terms.when_exhausted is contracts_wire.WhenExhausted.CHARGE_EXTRA:
        if terms.differential_rates is not None:
            rates = terms.differential_rates
            overage = DifferentialRates(
                money(rates.operational),
                money(rates.non_operational),
                money(rates.weekend),
                money(rates.holiday),
            )
        elif terms.overage_rate is not None:
            overage = FixedRate(money(terms.overage_rate))
    return BillingTerms(
        plan_type=plan_type,
        billing_mode=BillingMode(terms.billing_mode.value),
        currency=terms.currency,
        base_charge=money(terms.base_charge),
        allowance_units=allowance_units(plan_type, hours=terms.allowance, requests=terms.allowance),
        when_exhausted=WhenExhausted(terms.when_exhausted.value),
        overage_rate=overage,
        carry_forward=terms.carry_forward
        and terms.bill_cycle is not contracts_wire.BillCycle.CONTRACT_LENGTH,
        deduct_only_operational=terms.deduct_only_operational,
        discount_percent=Decimal(contract.discount_percent),
        tax_percent=Decimal(contract.tax_percent),
        bill_rules=tuple(_bill_rule(rule) for rule in terms.bill_rules),
    )


def _bill_rule(rule: contracts_wire.BillRule) -> BillRule:
    return BillRule(
        name=rule.name,
        criteria=tuple(
            RuleCriterion(
                RuleField(criterion.field.value), frozenset(criterion.values), criterion.custom_field
            )
            for criterion in rule.criteria
        ),
        match_all=rule.match is contracts_wire.RuleMatch.ALL,
        hourly_rate=money(rule.hourly_rate),
    )


_NO_TRAITS = EntryTraits()


def entry_traits(
    product: str | None, work_log_type: str | None, rate_type: str | None, custom_fields: Mapping[str, str]
) -> EntryTraits:
    if product is None and work_log_type is None and rate_type is None and not custom_fields:
        return _NO_TRAITS  # most entries: one shared value rather than one each (a bill reads twenty)
    return EntryTraits(product, work_log_type, rate_type, tuple(sorted(custom_fields.items())))


def billing_contract(contract: contracts_wire.ContractState) -> BillingContract:
    return BillingContract(
        contract_id=contract.contract_id,
        contract_number=contract.contract_number,
        account_id=contract.account_id,
        version=contract.version,
        time_zone=contract.time_zone,
        start_date=contract.start_date,
        expiry_date=contract.expiry_date,
        termination_date=contract.termination_date,
        bill_cycle=BillCycle(contract.terms.bill_cycle.value),
        calendar_id=contract.terms.calendar_id,
        terms=billing_terms(contract),
        payment_terms_days=contract.payment_terms_days,
        allowance_level=contract.notifications.allowance_used_percent,
        recipients=tuple(contract.notifications.recipients),
        billing_email=contract.billing_email,
        grace_period_days=contract.terms.grace_period_days,
    )


def top_up_units(contract: contracts_wire.ContractState, units: int) -> int:
    """A top-up's units (hours, or requests for per_request plans) as allowance units."""
    plan_type = PlanType(contract.terms.plan_type.value)
    return allowance_units(plan_type, hours=units, requests=units)


def logged_entry(entry: entries_wire.TimeEntryState, change: EntryChange = EntryChange.LOGGED) -> LoggedEntry:
    charges = entry.other_charges
    deleted = change is EntryChange.DELETED
    return LoggedEntry(
        usage=UsageEntry(
            entry_id=str(entry.entry_id),
            request_id=entry.request_id,
            started_at=entry.started_at,
            minutes=entry.minutes,
            include_non_operational=entry.include_non_operational,
            billable=entry.billable and not deleted,
            other_charges=money(charges) if charges is not None and not deleted else None,
            traits=entry_traits(entry.product, entry.work_log_type, entry.rate_type, entry.custom_fields),
        ),
        contract_id=same_id(entry.contract_id) if entry.contract_id is not None else None,
        account_id=entry.account_id,
        version=entry.version,
        change=change,
    )


TimeEntryEvent = entries_wire.TimeEntryLogged | entries_wire.TimeEntryChanged | entries_wire.TimeEntryDeleted


def time_entry_event(event: TimeEntryEvent) -> LoggedEntry:
    """An entry attached to its contract only now counts as logged late, not as edited."""
    match event:
        case entries_wire.TimeEntryLogged(entry=entry):
            return logged_entry(entry)
        case entries_wire.TimeEntryChanged(entry=entry, previous=previous):
            return logged_entry(entry, EntryChange.EDITED if previous.contract_id else EntryChange.LOGGED)
        case entries_wire.TimeEntryDeleted(entry=entry):
            return logged_entry(entry, EntryChange.DELETED)


# --- outbound ---------------------------------------------------------------------------------------


ALL_CATEGORIES = "all"
"""The category of an overage line at a fixed rate: every uncovered minute, whatever its category."""


def amount(value: Money) -> MoneyAmount:
    return MoneyAmount(amount=value.amount, currency=value.currency)


def bill_line(line: BillLine) -> bills_wire.BillLine:
    return bills_wire.BillLine(
        kind=line.kind.value,
        description=line.description,
        category=line.category.value
        if line.category
        else (ALL_CATEGORIES if line.kind is BillLineKind.OVERAGE else None),
        quantity=Decimal(line.quantity),
        quantity_display=line.quantity_text,
        unit_price=amount(line.unit_price),
        amount=amount(line.amount),
        quantity_unit=bills_wire.QuantityUnit(line.quantity_unit.value),
        price_per=bills_wire.PricePer(line.quantity_unit.price_per),
        cycle_index=line.cycle_index,
    )


def bill_state(bill: Bill) -> bills_wire.BillState:
    return bills_wire.BillState(
        bill_id=bill.bill_id,
        bill_number=bill.number,
        version=bill.version,
        contract_id=bill.contract_id,
        account_id=bill.account_id,
        period=bill.period,
        period_start=bill.period_start,
        period_end=bill.period_end,
        bill_date=bill.bill_date,
        due_date=bill.due_date,
        currency=bill.currency,
        lines=[bill_line(line) for line in bill.lines],
        time_entry_ids=list(bill.time_entry_ids),  # parsed as UUIDs by the model, faster than here
        subtotal=amount(bill.subtotal),
        discount_percent=bill.discount_percent,
        discount=amount(bill.discount),
        tax_percent=bill.tax_percent,
        tax=amount(bill.tax),
        total=amount(bill.total),
        status=bills_wire.BillStatus(bill.status.value),
        is_main=bill.is_main,
        needs_regeneration=bill.needs_regeneration,
        regeneration_reasons=list(bill.regeneration_reasons),
        notes=bill.notes,
        billing_email=bill.billing_email,
        grace_ends_at=bill.grace_ends_at,
        void_reason=bill.void_reason or None,
        usage_starts_at=bill.usage_starts_at,
        usage_ends_at=bill.usage_ends_at,
    )


def bill(state: bills_wire.BillState, *, whole_period: bool) -> Bill:
    """A stored bill back as the domain's; `whole_period` is kept beside the document."""
    return Bill(
        bill_id=state.bill_id,
        number=state.bill_number,
        version=state.version,
        contract_id=state.contract_id,
        account_id=state.account_id,
        period=state.period,
        period_start=state.period_start,
        period_end=state.period_end,
        bill_date=state.bill_date,
        due_date=state.due_date,
        currency=state.currency,
        lines=tuple(_domain_line(line, state.period) for line in state.lines),
        time_entry_ids=tuple(str(entry_id) for entry_id in state.time_entry_ids),
        subtotal=money(state.subtotal),
        discount_percent=Decimal(state.discount_percent),
        discount=money(state.discount),
        tax_percent=Decimal(state.tax_percent),
        tax=money(state.tax),
        total=money(state.total),
        status=BillStatus(state.status.value),
        is_main=state.is_main,
        whole_period=whole_period,
        needs_regeneration=state.needs_regeneration,
        regeneration_reasons=tuple(state.regeneration_reasons),
        notes=state.notes,
        billing_email=state.billing_email,
        grace_ends_at=state.grace_ends_at,
        void_reason=state.void_reason or "",
        usage_starts_at=state.usage_starts_at,
        usage_ends_at=state.usage_ends_at,
    )


def bill_document(bill: Bill) -> bytes:
    """The bill's document (its `BillState`) as JSON: the JSON value `bill_state(bill)` writes (a test
    holds the two to the same value), built with orjson from the bill's own values, because the model's
    validation and serialisation cost more than the rest of saving a bill. The domain's values are
    what the model accepts; entry ids that are not UUIDs as `str(UUID)` writes them (never, for entries
    billing recorded) go through the model, which rewrites or refuses them as it always did."""
    if not _CANONICAL_UUIDS.fullmatch(",".join(bill.time_entry_ids)):
        return bill_state(bill).model_dump_json().encode()
    return orjson.dumps(
        {
            "bill_id": str(bill.bill_id),
            "bill_number": bill.number,
            "version": bill.version,
            "contract_id": str(bill.contract_id),
            "account_id": bill.account_id,
            "period": bill.period,
            "period_start": bill.period_start,
            "period_end": bill.period_end,
            "bill_date": bill.bill_date,
            "due_date": bill.due_date,
            "currency": bill.currency,
            "lines": [_line_document(line) for line in bill.lines],
            "time_entry_ids": bill.time_entry_ids,
            "subtotal": _money_document(bill.subtotal),
            "discount_percent": str(bill.discount_percent),
            "discount": _money_document(bill.discount),
            "tax_percent": str(bill.tax_percent),
            "tax": _money_document(bill.tax),
            "total": _money_document(bill.total),
            "status": bill.status.value,
            "is_main": bill.is_main,
            "needs_regeneration": bill.needs_regeneration,
            "regeneration_reasons": bill.regeneration_reasons,
            "notes": bill.notes,
            "billing_email": bill.billing_email,
            "grace_ends_at": bill.grace_ends_at,
            "void_reason": bill.void_reason or None,
            "usage_starts_at": bill.usage_starts_at,
            "usage_ends_at": bill.usage_ends_at,
        },
        option=orjson.OPT_UTC_Z,  # pydantic writes an instant in UTC with "Z"
    )


_UUID_TEXT = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_CANONICAL_UUIDS = re.compile(f"(?:{_UUID_TEXT}(?:,{_UUID_TEXT})*)?")


def _line_document(line: BillLine) -> dict[str, Any]:
    """`bill_line(line)` as JSON values, in the model's field order."""
    category = (
        line.category.value
        if line.category
        else (ALL_CATEGORIES if line.kind is BillLineKind.OVERAGE else None)
    )
    return {
        "kind": line.kind.value,
        "description": line.description,
        "category": category,
        "quantity": str(line.quantity),
        "quantity_display": line.quantity_text,
        "unit_price": _money_document(line.unit_price),
        "amount": _money_document(line.amount),
        "quantity_unit": line.quantity_unit.value,
        "price_per": line.quantity_unit.price_per,
        "cycle_index": line.cycle_index,
    }


def _money_document(value: Money) -> dict[str, str]:
    return {"amount": amount_text(value.amount, value.currency), "currency": value.currency}


def bill_event(event: BillEvent, documents: Mapping[UUID, bytes]) -> WireModel | EncodedBody:
    """The event on the wire; `documents` holds the JSON document of each bill it names (built already
    for their rows): a new or issued bill's event is written around it."""
    match event:
        case BillMade(bill=bill) if bill.is_draft:
            return EncodedBody(bills_wire.BillDrafted, b'{"bill":%s}' % documents[bill.bill_id])
        case BillMade(bill=bill) | BillIssued(bill=bill):
            return EncodedBody(bills_wire.BillIssued, b'{"bill":%s}' % documents[bill.bill_id])
        case BillStatusChanged(bill=bill, previous=previous, reason=reason):
            return bills_wire.BillStatusChanged(
                bill=bill_state(bill), previous_status=bills_wire.BillStatus(previous.value), reason=reason
            )
        case MainBillChanged(contract_id=contract_id, period=period, main=main, previous=previous):
            return bills_wire.BillMainChanged(
                contract_id=contract_id,
                period=period,
                main=bill_state(main) if main is not None else None,
                previous_main=bill_state(previous) if previous is not None else None,
            )
        case BillFlagged(bill=bill, reasons=reasons):
            return bills_wire.BillNeedsRegeneration(bill=bill_state(bill), reasons=list(reasons))
        case BillUpdated(bill=bill, changed=changed):
            return bills_wire.BillUpdated(bill=bill_state(bill), changed_fields=list(changed))


def reconciliation(found: Reconciliation) -> bills_wire.BillReconciled:
    bill = found.bill
    return bills_wire.BillReconciled(
        bill_id=bill.bill_id,
        contract_id=bill.contract_id,
        period=bill.period,
        matches=found.matches,
        differences=[
            bills_wire.LineDifference(
                billed=bill_line(difference.billed) if difference.billed else None,
                recomputed=bill_line(difference.recomputed) if difference.recomputed else None,
            )
            for difference in found.differences
        ],
        entries_not_billed=[UUID(entry_id) for entry_id in found.entries_not_billed],
        entries_no_longer_billable=[UUID(entry_id) for entry_id in found.entries_no_longer_billable],
        billed_total=amount(bill.total),
        recomputed_total=amount(found.recomputed.total),
        needs_regeneration=bill.needs_regeneration,
        regeneration_reasons=list(bill.regeneration_reasons),
    )


_UNIT_OF_KIND = {
    BillLineKind.OVERAGE: QuantityUnit.MINUTES,
    BillLineKind.BILL_RULE: QuantityUnit.MINUTES,
    BillLineKind.EXTRA_REQUESTS: QuantityUnit.REQUESTS,
}


def _domain_line(line: bills_wire.BillLine, period: str) -> BillLine:
    kind = BillLineKind(line.kind)
    # Documents written before lines named their unit and cycle: derived from the line's kind and period.
    unit = (
        QuantityUnit(line.quantity_unit.value)
        if line.quantity_unit is not None
        else _UNIT_OF_KIND.get(kind, QuantityUnit.UNITS)
    )
    return BillLine(
        kind=kind,
        description=line.description,
        quantity=int(line.quantity),
        quantity_unit=unit,
        unit_price=money(line.unit_price),
        amount=money(line.amount),
        cycle_index=line.cycle_index or (int(period) if period.isdigit() else 0),
        category=MinuteCategory(line.category) if line.category and line.category != ALL_CATEGORIES else None,
    )


def usage_notice(
    notice: UsageNotice, contract: BillingContract, cycle_index: int, now: datetime
) -> WireModel:
    match notice:
        case LevelReached(percent=percent, used=used, allowance=allowance):
            return bills_wire.UsageThresholdReached(
                contract_id=contract.contract_id,
                account_id=contract.account_id,
                cycle_index=cycle_index,
                percent_used=percent,
                used_minutes=used,
                allowance_minutes=allowance,
                reached_at=now,
                recipients=list(contract.recipients),
            )
        case AllowanceUsedUp():
            return bills_wire.AllowanceExhausted(
                contract_id=contract.contract_id,
                account_id=contract.account_id,
                cycle_index=cycle_index,
                exhausted_at=now,
                recipients=list(contract.recipients),
            )
        case AllowanceAvailableAgain(used=used, allowance=allowance):
            return bills_wire.AllowanceRestored(
                contract_id=contract.contract_id,
                account_id=contract.account_id,
                cycle_index=cycle_index,
                restored_at=now,
                used=used,
                allowance=allowance,
            )


def bill_changes(sent: Mapping[str, Any]) -> dict[str, Any]:
    """The edit a REST body or an EditBill command asks for: the fields sent; a null means "leave it"
    except for the billing email, which it clears."""
    return {name: value for name, value in sent.items() if value is not None or name == "billing_email"}


def bill_edit(command: bills_wire.EditBill) -> dict[str, Any]:
    """The changes an EditBill command asks for: the fields it sent, as `bill_changes` reads them."""
    return bill_changes(
        {name: getattr(command, name) for name in command.model_fields_set - {"contract_id", "bill_id"}}
    )


def bill_command_rejected(
    *,
    contract_id: UUID | None,
    period: str | None,
    bill_id: UUID | None,
    error: Exception,
    command: CloudEvent | None,
) -> bills_wire.BillCommandRejected:
    return bills_wire.BillCommandRejected(
        contract_id=contract_id,
        period=period,
        bill_id=bill_id,
        reason=str(error),
        error=type(error).__name__,
        command_id=command.id if command else None,
        command_type=command.type if command else None,
    )
