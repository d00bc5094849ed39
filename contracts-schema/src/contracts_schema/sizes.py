"""The largest event of each kind the edge limits allow, built to be measured against a message's size.

Each builder fills every text to its limit with the character that takes the most bytes in JSON (a
code point outside the BMP: 4 bytes of UTF-8) and every list to its limit, as `contracts_schema.limits`
allows them at the edge. The contracts-schema tests measure each as a CloudEvent and fail when one
could exceed `limits.MAX_EVENT_BYTES`; the README's table is made from the same measurements.

A bill is different: it lists the time entries of its period, which no limit at the edge bounds. Its
size is a function of the entries (`largest_bill_main_changed`), and billing refuses to make a bill
whose events would not fit (`servicekit.uow.MessageTooLarge`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal

from contracts_schema import billing, contracts, limits, timetracking
from contracts_schema.envelope import CloudEvent
from contracts_schema.primitives import MoneyAmount, WireModel

WIDE = "\U0001f600"
"""A character that takes 4 bytes in a JSON message."""
AT = datetime(2099, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def wide(length: int) -> str:
    return WIDE * length


def _id() -> uuid.UUID:
    return uuid.uuid4()


def _money(currency: str = "USD") -> MoneyAmount:
    return MoneyAmount(amount=Decimal("999999999.99"), currency=currency)


def event_bytes(body: WireModel) -> int:
    """The size of the event that carries `body`, with every envelope attribute filled in."""
    event = CloudEvent.wrap(
        body,
        source="timetracking",
        subject=f"contract/{_id()}",
        actor=wide(255),
        correlationid=str(_id()),
        causationid=str(_id()),
        time=AT,
    )
    return len(event.to_json())


def largest_calendar() -> contracts.BusinessCalendar:
    return contracts.BusinessCalendar(
        calendar_id=_id(),
        name=wide(limits.NAME_LENGTH),
        time_zone="America/Argentina/ComodRivadavia",
        working_days=[1, 2, 3, 4, 5, 6, 7],
        working_hours=[
            contracts.WorkingHours(start=time(hour * 2, 0), end=time(hour * 2, 59))
            for hour in range(limits.WORKING_HOURS)
        ],
        holidays=[
            date(2000, 1, 1).fromordinal(date(2000, 1, 1).toordinal() + day) for day in range(limits.HOLIDAYS)
        ],
    )


def largest_terms() -> contracts.PlanTerms:
    rules = limits.BILL_RULES
    values_per_rule = limits.RULE_VALUES_TOTAL_LENGTH // rules // limits.RULE_VALUE_LENGTH
    rule_values = [wide(limits.RULE_VALUE_LENGTH)] * max(values_per_rule, 1)
    return contracts.PlanTerms(
        plan_type=contracts.PlanType.PER_HOUR,
        billing_mode=contracts.BillingMode.POSTPAID,
        bill_cycle=contracts.BillCycle.CONTRACT_LENGTH,
        currency="USD",
        base_charge=_money(),
        allowance=limits.MAX_ALLOWANCE,
        when_exhausted=contracts.WhenExhausted.CHARGE_EXTRA,
        overage_rate_kind=contracts.OverageRateKind.DIFFERENTIAL,
        differential_rates=contracts.DifferentialRates(
            operational=_money(), non_operational=_money(), weekend=_money(), holiday=_money()
        ),
        calendar_id=_id(),
        bill_rules=[
            contracts.BillRule(
                name=wide(limits.RULE_NAME_LENGTH),
                criteria=[
                    contracts.RuleCriterion(
                        field=contracts.RuleField.CUSTOM_FIELD,
                        custom_field=wide(limits.CUSTOM_FIELD_NAME_LENGTH),
                        operator=contracts.RuleOperator.ONE_OF,
                        values=rule_values if index == 0 else [""],
                    )
                    for index in range(limits.RULE_CRITERIA)
                ],
                hourly_rate=_money(),
            )
            for _ in range(rules)
        ],
        grace_period_days=90,
    )


def largest_plan() -> contracts.SupportPlanState:
    return contracts.SupportPlanState(
        plan_id=_id(),
        name=wide(limits.NAME_LENGTH),
        description=wide(limits.DESCRIPTION_LENGTH),
        terms=largest_terms(),
        top_up_plan_ids=[_id() for _ in range(limits.TOP_UP_PLANS)],
        is_default=True,
        version=2**31,
    )


def largest_contract() -> contracts.ContractState:
    return contracts.ContractState(
        contract_id=_id(),
        contract_number=wide(limits.ID_LENGTH),
        account_id=wide(limits.ID_LENGTH),
        name=wide(limits.NAME_LENGTH),
        description=wide(limits.DESCRIPTION_LENGTH),
        plan_id=_id(),
        status=contracts.ContractStatus.TERMINATED,
        start_date=limits.FIRST_DATE,
        expiry_date=limits.LAST_DATE,
        termination_date=limits.LAST_DATE,
        time_zone="America/Argentina/ComodRivadavia",
        scope=contracts.ContractScope(
            all_products=False, products=[wide(limits.ID_LENGTH)] * limits.PRODUCTS
        ),
        billing_email=wide(limits.EMAIL_LENGTH),
        payment_terms_days=3650,
        discount_percent=Decimal("99.9999"),
        tax_percent=Decimal("99.9999"),
        terms=largest_terms(),
        renewed_from=_id(),
        renewed_to=_id(),
        version=2**31,
        notifications=contracts.ContractNotifications(
            days_before_expiry=3650,
            days_after_expiry=3650,
            allowance_used_percent=100,
            recipients=[wide(limits.EMAIL_LENGTH)] * limits.RECIPIENTS,
        ),
    )


def largest_time_entry() -> timetracking.TimeEntryState:
    return timetracking.TimeEntryState(
        entry_id=_id(),
        account_id=wide(limits.ID_LENGTH),
        contract_id=_id(),
        request_id=wide(limits.ID_LENGTH),
        task_id=wide(limits.ID_LENGTH),
        product=wide(limits.ID_LENGTH),
        rep_id=wide(limits.ID_LENGTH),
        started_at=AT,
        minutes=limits.MAX_ENTRY_MINUTES,
        billable=True,
        include_non_operational=True,
        other_charges=_money(),
        description=wide(limits.DESCRIPTION_LENGTH),
        work_log_type=wide(limits.ID_LENGTH),
        billed=True,
        version=2**31,
        ended_at=AT,
        duration_minutes=limits.MAX_ENTRY_MINUTES,
        time_taken_minutes=limits.MAX_ENTRY_MINUTES,
        rate_type=wide(limits.ID_LENGTH),
        custom_fields={
            wide(limits.CUSTOM_FIELD_NAME_LENGTH - 2) + f"{index:02d}": wide(limits.CUSTOM_FIELD_VALUE_LENGTH)
            for index in range(limits.CUSTOM_FIELDS)
        },
        note=wide(limits.REASON_LENGTH),
    )


def largest_events() -> dict[str, WireModel]:
    """The largest event of each kind whose size the edge limits bound, by message type."""
    contract, entry = largest_contract(), largest_time_entry()
    return {
        "contracts.calendar.saved": contracts.CalendarSaved(calendar=largest_calendar()),
        "contracts.plan.saved": contracts.SupportPlanSaved(plan=largest_plan()),
        "contracts.contract.renewed": contracts.ContractRenewed(
            contract=contract, new_contract=largest_contract(), renewed_at=AT
        ),
        "contracts.contract.updated": contracts.ContractUpdated(
            contract=contract, changed_fields=list(contracts.ContractState.model_fields)
        ),
        "contracts.contract.terminated": contracts.ContractTerminated(
            contract=contract, terminated_at=AT, reason=wide(limits.REASON_LENGTH)
        ),
        "contracts.contract.expiry_approaching": contracts.ContractExpiryApproaching(
            contract=contract,
            days_before_expiry=3650,
            recipients=[wide(limits.EMAIL_LENGTH)] * limits.RECIPIENTS,
        ),
        "timetracking.time_entry.changed": timetracking.TimeEntryChanged(
            entry=entry, previous=largest_time_entry(), reason=wide(limits.REASON_LENGTH)
        ),
        "timetracking.time_entries.marked": timetracking.TimeEntriesMarked(
            account_id=wide(limits.ID_LENGTH),
            billable=True,
            changed=[_id() for _ in range(limits.BATCH)],
            refused={str(_id()): wide(limits.REASON_LENGTH // 10) for _ in range(limits.BATCH)},
        ),
    }


def bill_with(entries: int, entries_with_other_charges: int) -> billing.BillState:
    """A bill of a contract's period with `entries` time entries, some of them with other charges."""
    contract_id = _id()
    line = billing.BillLine(
        kind="other_charges",
        description=f"Other charges on time entry {_id()}",
        quantity=Decimal(1),
        quantity_display="1",
        unit_price=_money(),
        amount=_money(),
        quantity_unit=billing.QuantityUnit.UNITS,
        price_per=billing.PricePer.UNIT,
        cycle_index=100_000,
    )
    rule_line = line.model_copy(update={"kind": "bill_rule", "description": wide(limits.RULE_NAME_LENGTH)})
    return billing.BillState(
        bill_id=_id(),
        bill_number=wide(limits.ID_LENGTH) + "-v100",
        version=100,
        contract_id=contract_id,
        account_id=wide(limits.ID_LENGTH),
        period="final",
        period_start=limits.FIRST_DATE,
        period_end=limits.LAST_DATE,
        bill_date=limits.LAST_DATE,
        due_date=limits.LAST_DATE,
        currency="USD",
        lines=[rule_line] * (limits.BILL_RULES + 6) + [line] * entries_with_other_charges,
        time_entry_ids=[_id() for _ in range(entries)],
        subtotal=_money(),
        discount_percent=Decimal("99.9999"),
        discount=_money(),
        tax_percent=Decimal("99.9999"),
        tax=_money(),
        total=_money(),
        status=billing.BillStatus.VOID,
        is_main=True,
        needs_regeneration=True,
        regeneration_reasons=["the business-hours calendar changed"] * 10,
        notes=wide(limits.NOTES_LENGTH),
        billing_email=wide(limits.EMAIL_LENGTH),
        grace_ends_at=AT,
        void_reason=wide(limits.REASON_LENGTH),
        usage_starts_at=AT,
        usage_ends_at=AT,
    )


def largest_bill_main_changed(entries: int, entries_with_other_charges: int) -> billing.BillMainChanged:
    """The largest bill event: a period's new main bill and the previous one, each of that many entries."""
    main = bill_with(entries, entries_with_other_charges)
    return billing.BillMainChanged(
        contract_id=main.contract_id,
        period=main.period,
        main=main,
        previous_main=bill_with(entries, entries_with_other_charges),
    )


def most_bill_entries(with_other_charges: bool) -> int:
    """How many entries a bill may list (every one with other charges, or none) and its events fit."""
    low, high = 0, 200_000
    while low < high:
        middle = (low + high + 1) // 2
        charged = middle if with_other_charges else 0
        if event_bytes(largest_bill_main_changed(middle, charged)) <= limits.MAX_EVENT_BYTES:
            low = middle
        else:
            high = middle - 1
    return low
