"""Contracts: a plan's terms snapshotted for one account and period, and the contract's lifecycle."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from uuid import UUID

from contracts.domain.calendars import ensure_time_zone
from contracts.domain.errors import InvalidContract, OverlappingContract
from contracts.domain.plans import SupportPlan, validate_terms
from contracts_schema.contracts import ContractScope, ContractState, ContractStatus, PlanTerms
from contracts_schema.primitives import MoneyAmount


@dataclass(frozen=True)
class TermOverrides:
    """What a contract may change of its plan's terms."""

    base_charge: MoneyAmount | None = None
    allowance: int | None = None


def snapshot_terms(plan: SupportPlan, overrides: TermOverrides) -> PlanTerms:
    update: dict[str, object] = {}
    if overrides.base_charge is not None:
        update["base_charge"] = overrides.base_charge
    if overrides.allowance is not None:
        if overrides.allowance < 0:
            raise InvalidContract("the allowance override may not be negative")
        update["allowance"] = overrides.allowance
    terms = plan.terms.model_copy(update=update)
    validate_terms(terms)
    return terms


def status_on(today: date, start: date, expiry: date, termination: date | None) -> ContractStatus:
    """The status dates give a contract on a local day; termination wins once its day has passed."""
    if termination is not None and today > termination:
        return ContractStatus.TERMINATED
    if today < start:
        return ContractStatus.UPCOMING
    if today > expiry:
        return ContractStatus.EXPIRED
    return ContractStatus.ACTIVE


@dataclass
class Contract:
    contract_id: UUID
    contract_number: str
    account_id: str
    name: str
    description: str
    plan_id: UUID
    status: ContractStatus
    start_date: date
    expiry_date: date
    time_zone: str
    scope: ContractScope
    payment_terms_days: int
    discount_percent: Decimal
    tax_percent: Decimal
    terms: PlanTerms
    billing_email: str | None = None
    termination_date: date | None = None
    renewed_from: UUID | None = None
    renewed_to: UUID | None = None
    version: int = 1
    changed_fields: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.contract_number.strip():
            raise InvalidContract("contract_number may not be blank")
        if self.expiry_date < self.start_date:
            raise InvalidContract("expiry_date is before start_date")
        ensure_time_zone(self.time_zone)
        if not self.scope.all_products and not self.scope.products:
            raise InvalidContract("a scope limited to products needs at least one product")
        for name, value in (("discount_percent", self.discount_percent), ("tax_percent", self.tax_percent)):
            if not Decimal(0) <= value <= Decimal(100):
                raise InvalidContract(f"{name} must be between 0 and 100")
        if self.payment_terms_days < 0:
            raise InvalidContract("payment_terms_days may not be negative")

    @property
    def end_date(self) -> date:
        """The last day the contract covers: its termination date if terminated, else its expiry."""
        return self.termination_date or self.expiry_date

    def overlaps(self, other: Contract) -> bool:
        """Same account, scopes that share a product (or cover all), periods that share a day."""
        if other.contract_id == self.contract_id or other.account_id != self.account_id:
            return False
        if other.start_date > self.end_date or self.start_date > other.end_date:
            return False
        if self.scope.all_products or other.scope.all_products:
            return True
        return bool(set(self.scope.products) & set(other.scope.products))

    def ensure_no_overlap(self, others: list[Contract]) -> None:
        for other in others:
            if self.overlaps(other):
                raise OverlappingContract(
                    f"contract {other.contract_number} of account {self.account_id} already covers "
                    f"an overlapping scope from {other.start_date} to {other.end_date}"
                )

    def refresh_status(self, today: date) -> ContractStatus | None:
        """Move the status to what the dates say; returns the previous status if it changed."""
        new = status_on(today, self.start_date, self.expiry_date, self.termination_date)
        if new is self.status:
            return None
        previous, self.status = self.status, new
        self.version += 1
        return previous

    def state(self) -> ContractState:
        return ContractState(
            contract_id=self.contract_id,
            contract_number=self.contract_number,
            account_id=self.account_id,
            name=self.name,
            description=self.description,
            plan_id=self.plan_id,
            status=self.status,
            start_date=self.start_date,
            expiry_date=self.expiry_date,
            termination_date=self.termination_date,
            time_zone=self.time_zone,
            scope=self.scope,
            billing_email=self.billing_email,
            payment_terms_days=self.payment_terms_days,
            discount_percent=self.discount_percent,
            tax_percent=self.tax_percent,
            terms=self.terms,
            renewed_from=self.renewed_from,
            renewed_to=self.renewed_to,
            version=self.version,
        )

    @classmethod
    def from_state(cls, state: ContractState) -> Contract:
        return cls(**{name: getattr(state, name) for name in ContractState.model_fields})
