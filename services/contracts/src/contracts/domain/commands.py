"""What callers ask of the contracts service, as plain values.

A REST body and a Kafka command that ask for the same thing become the same value here, so each use
case has one input whatever the entrypoint it came through.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from uuid import UUID

from contracts.domain.contracts import ContractNotifications, ContractScope
from contracts.domain.plans import PlanTerms
from servicekit.money import Money


@dataclass(frozen=True)
class PlanDetails:
    """Everything of a support plan but its id and version."""

    name: str
    description: str
    terms: PlanTerms
    top_up_plan_ids: list[UUID]
    is_default: bool


@dataclass(frozen=True)
class TopUpPlanDetails:
    """Everything of a top-up plan but its id and version."""

    name: str
    description: str
    price: Money
    hour_units: int
    request_units: int


@dataclass(frozen=True)
class NewContract:
    """A contract to sign: on the default plan when `plan_id` is None; ids and number are chosen
    when left out."""

    account_id: str
    name: str
    start_date: date
    expiry_date: date
    plan_id: UUID | None = None
    contract_id: UUID | None = None
    contract_number: str | None = None
    description: str = ""
    time_zone: str | None = None
    scope: ContractScope = ContractScope()
    notifications: ContractNotifications = ContractNotifications()
    billing_email: str | None = None
    payment_terms_days: int = 30
    discount_percent: Decimal = Decimal(0)
    tax_percent: Decimal = Decimal(0)
    base_charge_override: Money | None = None
    allowance_override: int | None = None


@dataclass(frozen=True)
class TopUpRequest:
    """Buy a top-up plan's units for the contract's current cycle; the id makes a retry the same
    purchase, and one is chosen when left out."""

    contract_id: UUID
    top_up_plan_id: UUID
    top_up_id: UUID | None = None


@dataclass(frozen=True)
class RenewalRequest:
    """Renew a contract; everything left out is the old contract's."""

    contract_id: UUID
    new_contract_id: UUID | None = None
    plan_id: UUID | None = None
    contract_number: str | None = None
    start_date: date | None = None
    expiry_date: date | None = None
    base_charge_override: Money | None = None
    allowance_override: int | None = None


@dataclass(frozen=True)
class TerminationRequest:
    """Terminate a contract at the end of `termination_date` (today in its zone when None)."""

    contract_id: UUID
    termination_date: date | None = None
    reason: str = ""
