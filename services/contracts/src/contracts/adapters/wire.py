"""The one place where the contracts domain meets contracts-schema, the published wire models.

Repositories store each aggregate as the document of its wire form, the service layer builds the
events it publishes here, and entrypoints translate commands and answer requests here. A change to
the domain is therefore not a change to what other services read, and the other way round: the
mapping below is what has to change, and the schema check says whether the wire did.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from contracts.domain.calendars import BusinessCalendar, WorkingHours
from contracts.domain.commands import NewContract, RenewalRequest, TerminationRequest, TopUpRequest
from contracts.domain.contracts import (
    Contract,
    ContractNotifications,
    ContractScope,
    ContractStatus,
    Notice,
    NoticeKind,
    StatusChange,
    TopUp,
)
from contracts.domain.coverage import Exhaustion
from contracts.domain.plans import (
    BillCycle,
    BillingMode,
    BillRule,
    DifferentialRates,
    OverageRateKind,
    PlanTerms,
    PlanType,
    RuleCriterion,
    RuleField,
    RuleMatch,
    RuleOperator,
    SupportPlan,
    TopUpPlan,
    WhenExhausted,
)
from contracts_schema import CloudEvent
from contracts_schema import contracts as schema
from contracts_schema.billing import AllowanceExhausted
from contracts_schema.primitives import MoneyAmount
from servicekit.errors import DomainError
from servicekit.money import Money

# --- values -------------------------------------------------------------------------------------------


def money_from_wire(amount: MoneyAmount) -> Money:
    # Not Money.of: an amount keeps the decimals it was given, so it reads back as it was written.
    return Money(amount.amount, amount.currency)


def money_to_wire(money: Money) -> MoneyAmount:
    return MoneyAmount(amount=money.amount, currency=money.currency)


def optional_money_from_wire(amount: MoneyAmount | None) -> Money | None:
    return None if amount is None else money_from_wire(amount)


def _optional_money_to_wire(money: Money | None) -> MoneyAmount | None:
    return None if money is None else money_to_wire(money)


def status_from_wire(status: schema.ContractStatus) -> ContractStatus:
    return ContractStatus(status)


def calendar_from_wire(calendar: schema.BusinessCalendar) -> BusinessCalendar:
    return BusinessCalendar(
        calendar_id=calendar.calendar_id,
        name=calendar.name,
        time_zone=calendar.time_zone,
        working_days=tuple(calendar.working_days),
        working_hours=tuple(WorkingHours(hours.start, hours.end) for hours in calendar.working_hours),
        holidays=tuple(calendar.holidays),
    )


def calendar_from_fields(calendar_id: UUID, fields: schema.CalendarFields) -> BusinessCalendar:
    """A calendar as a caller gave it, validated at the edge (`CalendarFields`)."""
    return BusinessCalendar(
        calendar_id=calendar_id,
        name=fields.name,
        time_zone=fields.time_zone,
        working_days=tuple(fields.working_days),
        working_hours=tuple(WorkingHours(hours.start, hours.end) for hours in fields.working_hours),
        holidays=tuple(fields.holidays),
    )


def calendar_to_wire(calendar: BusinessCalendar) -> schema.BusinessCalendar:
    return schema.BusinessCalendar(
        calendar_id=calendar.calendar_id,
        name=calendar.name,
        time_zone=calendar.time_zone,
        working_days=list(calendar.working_days),
        working_hours=[
            schema.WorkingHours(start=hours.start, end=hours.end) for hours in calendar.working_hours
        ],
        holidays=list(calendar.holidays),
    )


def terms_from_wire(terms: schema.PlanTerms) -> PlanTerms:
    rates = terms.differential_rates
    return PlanTerms(
        plan_type=PlanType(terms.plan_type),
        billing_mode=BillingMode(terms.billing_mode),
        bill_cycle=BillCycle(terms.bill_cycle),
        currency=terms.currency,
        base_charge=money_from_wire(terms.base_charge),
        allowance=terms.allowance,
        when_exhausted=WhenExhausted(terms.when_exhausted),
        calendar_id=terms.calendar_id,
        overage_rate_kind=None
        if terms.overage_rate_kind is None
        else OverageRateKind(terms.overage_rate_kind),
        overage_rate=optional_money_from_wire(terms.overage_rate),
        differential_rates=None
        if rates is None
        else DifferentialRates(
            operational=money_from_wire(rates.operational),
            non_operational=money_from_wire(rates.non_operational),
            weekend=money_from_wire(rates.weekend),
            holiday=money_from_wire(rates.holiday),
        ),
        carry_forward=terms.carry_forward,
        reps_may_add_other_charges=terms.reps_may_add_other_charges,
        bill_rules=tuple(_bill_rule_from_wire(rule) for rule in terms.bill_rules),
        grace_period_days=terms.grace_period_days,
        reps_may_override_time_taken=terms.reps_may_override_time_taken,
        deduct_only_operational=terms.deduct_only_operational,
    )


def terms_to_wire(terms: PlanTerms) -> schema.PlanTerms:
    rates = terms.differential_rates
    return schema.PlanTerms(
        plan_type=schema.PlanType(terms.plan_type),
        billing_mode=schema.BillingMode(terms.billing_mode),
        bill_cycle=schema.BillCycle(terms.bill_cycle),
        currency=terms.currency,
        base_charge=money_to_wire(terms.base_charge),
        allowance=terms.allowance,
        when_exhausted=schema.WhenExhausted(terms.when_exhausted),
        overage_rate_kind=None
        if terms.overage_rate_kind is None
        else schema.OverageRateKind(terms.overage_rate_kind),
        overage_rate=_optional_money_to_wire(terms.overage_rate),
        differential_rates=None
        if rates is None
        else schema.DifferentialRates(
            operational=money_to_wire(rates.operational),
            non_operational=money_to_wire(rates.non_operational),
            weekend=money_to_wire(rates.weekend),
            holiday=money_to_wire(rates.holiday),
        ),
        carry_forward=terms.carry_forward,
        reps_may_add_other_charges=terms.reps_may_add_other_charges,
        bill_rules=[_bill_rule_to_wire(rule) for rule in terms.bill_rules],
        grace_period_days=terms.grace_period_days,
        reps_may_override_time_taken=terms.reps_may_override_time_taken,
        deduct_only_operational=terms.deduct_only_operational,
        calendar_id=terms.calendar_id,
    )


def _bill_rule_from_wire(rule: schema.BillRule) -> BillRule:
    return BillRule(
        name=rule.name,
        criteria=tuple(
            RuleCriterion(
                field=RuleField(criterion.field),
                operator=RuleOperator(criterion.operator),
                values=tuple(criterion.values),
                custom_field=criterion.custom_field,
            )
            for criterion in rule.criteria
        ),
        match=RuleMatch(rule.match),
        hourly_rate=money_from_wire(rule.hourly_rate),
    )


def _bill_rule_to_wire(rule: BillRule) -> schema.BillRule:
    return schema.BillRule(
        name=rule.name,
        criteria=[
            schema.RuleCriterion(
                field=schema.RuleField(criterion.field),
                operator=schema.RuleOperator(criterion.operator),
                values=list(criterion.values),
                custom_field=criterion.custom_field,
            )
            for criterion in rule.criteria
        ],
        match=schema.RuleMatch(rule.match),
        hourly_rate=money_to_wire(rule.hourly_rate),
    )


def scope_from_wire(scope: schema.ContractScope) -> ContractScope:
    return ContractScope(all_products=scope.all_products, products=tuple(scope.products))


def notifications_from_wire(notifications: schema.ContractNotifications) -> ContractNotifications:
    return ContractNotifications(
        days_before_expiry=notifications.days_before_expiry,
        days_after_expiry=notifications.days_after_expiry,
        allowance_used_percent=notifications.allowance_used_percent,
        recipients=tuple(notifications.recipients),
    )


def _notifications_to_wire(notifications: ContractNotifications) -> schema.ContractNotifications:
    return schema.ContractNotifications(
        days_before_expiry=notifications.days_before_expiry,
        days_after_expiry=notifications.days_after_expiry,
        allowance_used_percent=notifications.allowance_used_percent,
        recipients=list(notifications.recipients),
    )


# --- aggregates ---------------------------------------------------------------------------------------


def plan_from_wire(plan: schema.SupportPlanState) -> SupportPlan:
    return SupportPlan(
        plan_id=plan.plan_id,
        name=plan.name,
        description=plan.description,
        terms=terms_from_wire(plan.terms),
        top_up_plan_ids=list(plan.top_up_plan_ids),
        is_default=plan.is_default,
        version=plan.version,
    )


def plan_to_wire(plan: SupportPlan) -> schema.SupportPlanState:
    return schema.SupportPlanState(
        plan_id=plan.plan_id,
        name=plan.name,
        description=plan.description,
        terms=terms_to_wire(plan.terms),
        top_up_plan_ids=plan.top_up_plan_ids,
        is_default=plan.is_default,
        version=plan.version,
    )


def top_up_plan_from_wire(top_up_plan: schema.TopUpPlanState) -> TopUpPlan:
    return TopUpPlan(
        top_up_plan_id=top_up_plan.top_up_plan_id,
        name=top_up_plan.name,
        description=top_up_plan.description,
        price=money_from_wire(top_up_plan.price),
        hour_units=top_up_plan.hour_units,
        request_units=top_up_plan.request_units,
        version=top_up_plan.version,
    )


def top_up_plan_to_wire(top_up_plan: TopUpPlan) -> schema.TopUpPlanState:
    return schema.TopUpPlanState(
        top_up_plan_id=top_up_plan.top_up_plan_id,
        name=top_up_plan.name,
        description=top_up_plan.description,
        price=money_to_wire(top_up_plan.price),
        hour_units=top_up_plan.hour_units,
        request_units=top_up_plan.request_units,
        version=top_up_plan.version,
    )


def contract_from_wire(contract: schema.ContractState, notices_done: set[NoticeKind]) -> Contract:
    """`notices_done` is kept beside the document: no other service needs to know it."""
    return Contract(
        contract_id=contract.contract_id,
        contract_number=contract.contract_number,
        account_id=contract.account_id,
        name=contract.name,
        description=contract.description,
        plan_id=contract.plan_id,
        status=status_from_wire(contract.status),
        start_date=contract.start_date,
        expiry_date=contract.expiry_date,
        termination_date=contract.termination_date,
        time_zone=contract.time_zone,
        scope=scope_from_wire(contract.scope),
        billing_email=contract.billing_email,
        payment_terms_days=contract.payment_terms_days,
        discount_percent=contract.discount_percent,
        tax_percent=contract.tax_percent,
        terms=terms_from_wire(contract.terms),
        renewed_from=contract.renewed_from,
        renewed_to=contract.renewed_to,
        version=contract.version,
        notifications=notifications_from_wire(contract.notifications),
        notices_done=notices_done,
    )


def contract_to_wire(contract: Contract) -> schema.ContractState:
    return schema.ContractState(
        contract_id=contract.contract_id,
        contract_number=contract.contract_number,
        account_id=contract.account_id,
        name=contract.name,
        description=contract.description,
        plan_id=contract.plan_id,
        status=schema.ContractStatus(contract.status),
        start_date=contract.start_date,
        expiry_date=contract.expiry_date,
        termination_date=contract.termination_date,
        time_zone=contract.time_zone,
        scope=schema.ContractScope(
            all_products=contract.scope.all_products, products=list(contract.scope.products)
        ),
        billing_email=contract.billing_email,
        payment_terms_days=contract.payment_terms_days,
        discount_percent=contract.discount_percent,
        tax_percent=contract.tax_percent,
        terms=terms_to_wire(contract.terms),
        renewed_from=contract.renewed_from,
        renewed_to=contract.renewed_to,
        version=contract.version,
        notifications=_notifications_to_wire(contract.notifications),
    )


# --- documents: what the repositories store -----------------------------------------------------------


def calendar_document(calendar: BusinessCalendar) -> dict[str, Any]:
    return calendar_to_wire(calendar).model_dump(mode="json")


def calendar_of_document(document: dict[str, Any]) -> BusinessCalendar:
    return calendar_from_wire(schema.BusinessCalendar.model_validate(document))


def plan_document(plan: SupportPlan) -> dict[str, Any]:
    return plan_to_wire(plan).model_dump(mode="json")


def plan_of_document(document: dict[str, Any]) -> SupportPlan:
    return plan_from_wire(schema.SupportPlanState.model_validate(document))


def top_up_plan_document(top_up_plan: TopUpPlan) -> dict[str, Any]:
    return top_up_plan_to_wire(top_up_plan).model_dump(mode="json")


def top_up_plan_of_document(document: dict[str, Any]) -> TopUpPlan:
    return top_up_plan_from_wire(schema.TopUpPlanState.model_validate(document))


def contract_document(contract: Contract) -> dict[str, Any]:
    return contract_to_wire(contract).model_dump(mode="json")


def contract_of_document(document: dict[str, Any], notices_done: set[NoticeKind]) -> Contract:
    return contract_from_wire(schema.ContractState.model_validate(document), notices_done)


def top_up_document(top_up: TopUp) -> dict[str, Any]:
    """A bought top-up; its id and contract are columns beside it."""
    return {
        "top_up_plan_id": str(top_up.top_up_plan_id),
        "units": top_up.units,
        "price": money_to_wire(top_up.price).model_dump(mode="json"),
        "bought_at": top_up.bought_at.astimezone(UTC).isoformat(),
    }


def top_up_of_document(top_up_id: UUID, document: dict[str, Any]) -> TopUp:
    return TopUp(
        top_up_id=top_up_id,
        top_up_plan_id=UUID(document["top_up_plan_id"]),
        units=document["units"],
        price=money_from_wire(MoneyAmount.model_validate(document["price"])),
        bought_at=datetime.fromisoformat(document["bought_at"]),
    )


# --- events the contracts service publishes -----------------------------------------------------------


def calendar_saved(calendar: BusinessCalendar) -> schema.CalendarSaved:
    return schema.CalendarSaved(calendar=calendar_to_wire(calendar))


def support_plan_saved(plan: SupportPlan) -> schema.SupportPlanSaved:
    return schema.SupportPlanSaved(plan=plan_to_wire(plan))


def top_up_plan_saved(top_up_plan: TopUpPlan) -> schema.TopUpPlanSaved:
    return schema.TopUpPlanSaved(top_up_plan=top_up_plan_to_wire(top_up_plan))


def top_up_plan_deleted(top_up_plan_id: UUID) -> schema.TopUpPlanDeleted:
    return schema.TopUpPlanDeleted(top_up_plan_id=top_up_plan_id)


def contract_created(contract: Contract) -> schema.ContractCreated:
    return schema.ContractCreated(contract=contract_to_wire(contract))


def contract_updated(contract: Contract, changed_fields: list[str]) -> schema.ContractUpdated:
    return schema.ContractUpdated(contract=contract_to_wire(contract), changed_fields=changed_fields)


def contract_status_changed(change: StatusChange) -> schema.ContractStatusChanged:
    return schema.ContractStatusChanged(
        contract=contract_to_wire(change.state), previous_status=schema.ContractStatus(change.previous)
    )


def contract_terminated(contract: Contract, reason: str) -> schema.ContractTerminated:
    return schema.ContractTerminated(
        contract=contract_to_wire(contract), terminated_at=contract.terminated_at(), reason=reason
    )


def contract_renewed(old: Contract, new: Contract, renewed_at: datetime) -> schema.ContractRenewed:
    return schema.ContractRenewed(
        contract=contract_to_wire(old), new_contract=contract_to_wire(new), renewed_at=renewed_at
    )


def contract_topped_up(contract: Contract, top_up: TopUp) -> schema.ContractToppedUp:
    return schema.ContractToppedUp(
        contract=contract_to_wire(contract),
        top_up_id=top_up.top_up_id,
        top_up_plan_id=top_up.top_up_plan_id,
        units=top_up.units,
        price=money_to_wire(top_up.price),
        bought_at=top_up.bought_at,
    )


def contract_deleted(contract: Contract) -> schema.ContractDeleted:
    return schema.ContractDeleted(contract_id=contract.contract_id, account_id=contract.account_id)


def expiry_notice(
    contract: Contract, notice: Notice
) -> schema.ContractExpiryApproaching | schema.ContractExpiredNotice:
    state, recipients = contract_to_wire(contract), list(contract.notifications.recipients)
    if notice.kind is NoticeKind.EXPIRY_APPROACHING:
        return schema.ContractExpiryApproaching(
            contract=state, days_before_expiry=notice.days, recipients=recipients
        )
    return schema.ContractExpiredNotice(contract=state, days_after_expiry=notice.days, recipients=recipients)


def contract_command_rejected(
    command: CloudEvent, contract_id: UUID, error: DomainError
) -> schema.ContractCommandRejected:
    return schema.ContractCommandRejected(
        command_id=command.id,
        command_type=command.type,
        contract_id=contract_id,
        error=type(error).__name__,
        reason=str(error),
    )


# --- commands and events other services send ----------------------------------------------------------


def new_contract(command: schema.CreateContract) -> NewContract:
    """From the create command, or the REST body that is the command with an optional id."""
    return NewContract(
        account_id=command.account_id,
        name=command.name,
        start_date=command.start_date,
        expiry_date=command.expiry_date,
        plan_id=command.plan_id,
        contract_id=command.contract_id,
        contract_number=command.contract_number,
        description=command.description,
        time_zone=command.time_zone,
        scope=scope_from_wire(command.scope),
        notifications=notifications_from_wire(command.notifications),
        billing_email=command.billing_email,
        payment_terms_days=command.payment_terms_days,
        discount_percent=command.discount_percent,
        tax_percent=command.tax_percent,
        base_charge_override=optional_money_from_wire(command.base_charge_override),
        allowance_override=command.allowance_override,
    )


def top_up_request(command: schema.TopUpContract, command_id: UUID) -> TopUpRequest:
    # The command's id makes a redelivered top-up the same purchase.
    return TopUpRequest(command.contract_id, command.top_up_plan_id, command.top_up_id or command_id)


def renewal_request(command: schema.RenewContract) -> RenewalRequest:
    return RenewalRequest(
        contract_id=command.contract_id,
        new_contract_id=command.new_contract_id,
        plan_id=command.plan_id,
        contract_number=command.contract_number,
        start_date=command.start_date,
        expiry_date=command.expiry_date,
        base_charge_override=optional_money_from_wire(command.base_charge_override),
        allowance_override=command.allowance_override,
    )


def termination_request(command: schema.TerminateContract) -> TerminationRequest:
    return TerminationRequest(command.contract_id, command.termination_date, command.reason)


def exhaustion(event: AllowanceExhausted) -> Exhaustion:
    return Exhaustion(event.cycle_index, event.exhausted_at)
