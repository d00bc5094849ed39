"""Contracts: a plan's terms snapshotted for one account and period, and the contract's lifecycle."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from contracts.domain.calendars import ensure_time_zone
from contracts.domain.errors import (
    ContractAlreadyRenewed,
    ContractAlreadyTerminated,
    ContractInUse,
    ContractNotActive,
    InvalidContract,
    InvalidTermination,
    OutsideContractPeriod,
    OverlappingContract,
    TopUpNotAllowed,
)
from contracts.domain.plans import PlanTerms, SupportPlan, TopUpPlan, accepts_top_ups, validate_terms
from servicekit.coverage import CoverageWindow
from servicekit.dates import ONE_DAY, add_months_clamped, end_of_day_utc, local_date
from servicekit.money import Money


class ContractStatus(StrEnum):
    UPCOMING = "upcoming"
    ACTIVE = "active"
    EXPIRED = "expired"
    TERMINATED = "terminated"


@dataclass(frozen=True)
class ContractScope:
    """Which of the account's requests the contract covers: all of them, or those on `products`."""

    all_products: bool = True
    products: tuple[str, ...] = ()


@dataclass(frozen=True)
class ContractNotifications:
    """Who hears about a contract nearing its end, and when; a day count of None sends no notice.

    `allowance_used_percent` is billing's: it announces when a cycle's allowance is that % used.
    """

    days_before_expiry: int | None = None
    days_after_expiry: int | None = None
    allowance_used_percent: int | None = None
    recipients: tuple[str, ...] = ()


@dataclass(frozen=True)
class TermOverrides:
    """What a contract may change of its plan's terms."""

    base_charge: Money | None = None
    allowance: int | None = None


def snapshot_terms(plan: SupportPlan, overrides: TermOverrides) -> PlanTerms:
    return apply_overrides(plan.terms, overrides)


def apply_overrides(terms: PlanTerms, overrides: TermOverrides) -> PlanTerms:
    if overrides.allowance is not None and overrides.allowance < 0:
        raise InvalidContract("the allowance override may not be negative")
    terms = replace(
        terms,
        base_charge=terms.base_charge if overrides.base_charge is None else overrides.base_charge,
        allowance=terms.allowance if overrides.allowance is None else overrides.allowance,
    )
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


def renewal_period(start: date, expiry: date, new_start: date) -> tuple[date, date]:
    """A renewal lasts as long as the old contract: whole months stay whole months (Jan 1–Dec 31
    renews to Jan 1–Dec 31 whatever the leap years), anything else keeps its number of days."""
    day_after = expiry + ONE_DAY
    months = (day_after.year - start.year) * 12 + day_after.month - start.month
    if months >= 1 and add_months_clamped(start, months) == day_after:
        return new_start, add_months_clamped(new_start, months) - ONE_DAY
    return new_start, new_start + (expiry - start)


class NoticeKind(StrEnum):
    EXPIRY_APPROACHING = "expiry_approaching"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Notice:
    kind: NoticeKind
    days: int
    """Days until expiry for an approaching notice, days since expiry for an expired one."""


@dataclass(frozen=True)
class StatusChange:
    previous: ContractStatus
    state: Contract
    """The contract as it stood right after this step."""


@dataclass(frozen=True)
class TopUp:
    """Units bought for the cycle the contract is in; its price goes on a bill."""

    top_up_id: UUID
    top_up_plan_id: UUID
    units: int
    price: Money
    bought_at: datetime


@dataclass(frozen=True)
class ContractActivity:
    """What other services did against a contract, as their events told us."""

    has_time_entries: bool = False
    has_bills: bool = False
    has_top_ups: bool = False


EDITABLE_FIELDS = frozenset(
    {
        "name",
        "description",
        "billing_email",
        "notifications",
        "payment_terms_days",
        "discount_percent",
        "tax_percent",
    }
)
"""What a billing team may change on a signed contract; the terms, dates and scope are what was signed."""


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
    notifications: ContractNotifications = field(default_factory=ContractNotifications)
    notices_done: set[NoticeKind] = field(default_factory=set)
    """Notices sent, or no longer worth sending; each goes out at most once."""

    def __post_init__(self) -> None:
        self._validate()

    def _validate(self) -> None:
        if not self.contract_number.strip():
            raise InvalidContract("contract_number may not be blank")
        if not self.name.strip():
            raise InvalidContract("name may not be blank")
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
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def local_today(self, now: datetime) -> date:
        return local_date(now, self.zone)

    @property
    def end_date(self) -> date:
        """The last day the contract covers: its termination date if terminated, else its expiry."""
        return self.termination_date or self.expiry_date

    # --- overlap and coverage -----------------------------------------------------------------------

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

    @property
    def coverage_window(self) -> CoverageWindow:
        """What decides whether the contract covers work (`servicekit.coverage`)."""
        return CoverageWindow(
            contract_id=self.contract_id,
            all_products=self.scope.all_products,
            products=frozenset(self.scope.products),
            start_date=self.start_date,
            end_date=self.end_date,
            time_zone=self.time_zone,
        )

    # --- lifecycle -----------------------------------------------------------------------------------

    def advance_status(self, today: date) -> list[StatusChange]:
        """Walk the lifecycle to what the dates say on the local day `today`, one step at a time, so
        that a contract found late (after downtime) still passes through every state in order.

        Returns each step with the state it led to; nothing when the status is already right.
        """
        target = status_on(today, self.start_date, self.expiry_date, self.termination_date)
        changes: list[StatusChange] = []
        while self.status is not target:
            step = _NEXT_STATUS.get((self.status, target))
            if step is None:
                raise InvalidContract(f"a contract cannot go from {self.status} to {target}")
            previous, self.status = self.status, step
            self.version += 1
            changes.append(StatusChange(previous, self._snapshot()))
        return changes

    def _snapshot(self) -> Contract:
        return replace(self, notices_done=set(self.notices_done))

    def _ensure_in_period(self, today: date, action: str) -> None:
        if self.termination_date is not None:
            raise ContractAlreadyTerminated(
                f"contract {self.contract_number} is terminated as of {self.termination_date}"
            )
        if not self.start_date <= today <= self.expiry_date:
            raise OutsideContractPeriod(
                f"{action} is only possible during the contract period {self.start_date} to "
                f"{self.expiry_date}; today is {today} in {self.time_zone}"
            )

    def top_up(
        self,
        top_up_plan: TopUpPlan,
        offered_by_plan: list[UUID],
        *,
        top_up_id: UUID,
        now: datetime,
    ) -> TopUp:
        """Buy units for the current cycle; the dates stay as they are."""
        today = self.local_today(now)
        if status_on(today, self.start_date, self.expiry_date, self.termination_date) is not (
            ContractStatus.ACTIVE
        ):
            raise ContractNotActive(
                f"contract {self.contract_number} is not active on {today} ({self.time_zone}); "
                "only active contracts can be topped up"
            )
        if not accepts_top_ups(self.terms):
            raise TopUpNotAllowed("only prepaid contracts that are not fixed charge can be topped up")
        if top_up_plan.top_up_plan_id not in offered_by_plan:
            raise TopUpNotAllowed(
                f"top-up plan {top_up_plan.name!r} is not offered by the contract's support plan"
            )
        if top_up_plan.price.currency != self.terms.currency:
            raise TopUpNotAllowed(
                f"top-up plan {top_up_plan.name!r} is priced in {top_up_plan.price.currency}, "
                f"the contract bills in {self.terms.currency}"
            )
        units = top_up_plan.units_for(self.terms.plan_type)
        if units <= 0:
            raise TopUpNotAllowed(
                f"top-up plan {top_up_plan.name!r} adds no units a {self.terms.plan_type} contract counts"
            )
        self.version += 1
        return TopUp(top_up_id, top_up_plan.top_up_plan_id, units, top_up_plan.price, now)

    def terminate(self, now: datetime, termination_date: date | None = None) -> datetime:
        """End the contract at the end of `termination_date` (today by default); irreversible.

        A termination cannot be back-dated: work already logged and bills already made rely on the
        contract running until today. Returns the UTC instant the contract ends.
        """
        today = self.local_today(now)
        self._ensure_in_period(today, "termination")
        if self.renewed_to is not None:
            # Its renewal was signed to follow it: ending this one early would leave that one dangling.
            raise ContractAlreadyRenewed(
                f"contract {self.contract_number} was renewed: terminate (or delete) its renewal first"
            )
        day = termination_date or today
        if not today <= day <= self.expiry_date:
            raise InvalidTermination(
                f"the termination date must be between today ({today}) and the expiry date "
                f"({self.expiry_date}); got {day}"
            )
        self.termination_date = day
        self.version += 1
        return self.terminated_at()

    def terminated_at(self) -> datetime:
        if self.termination_date is None:
            raise InvalidTermination(f"contract {self.contract_number} is not terminated")
        return end_of_day_utc(self.termination_date, self.zone)

    def renew(
        self,
        now: datetime,
        *,
        new_contract_id: UUID,
        contract_number: str,
        plan_id: UUID,
        terms: PlanTerms,
        start_date: date | None = None,
        expiry_date: date | None = None,
    ) -> Contract:
        """A new contract with this one's terms (unless changed), by default from the day after expiry
        for as long as this one ran; the two are linked both ways."""
        today = self.local_today(now)
        self._ensure_in_period(today, "renewal")
        if self.renewed_to is not None:
            raise ContractAlreadyRenewed(f"contract {self.contract_number} was already renewed")
        start, default_expiry = renewal_period(
            self.start_date, self.expiry_date, start_date or self.expiry_date + ONE_DAY
        )
        expiry = expiry_date or default_expiry
        if start <= self.expiry_date:
            raise OverlappingContract(
                f"a renewal of {self.contract_number} starts after it ends ({self.expiry_date}); got {start}"
            )
        renewal = Contract(
            contract_id=new_contract_id,
            contract_number=contract_number,
            account_id=self.account_id,
            name=self.name,
            description=self.description,
            plan_id=plan_id,
            status=status_on(today, start, expiry, None),
            start_date=start,
            expiry_date=expiry,
            time_zone=self.time_zone,
            scope=self.scope,
            payment_terms_days=self.payment_terms_days,
            discount_percent=self.discount_percent,
            tax_percent=self.tax_percent,
            terms=terms,
            billing_email=self.billing_email,
            renewed_from=self.contract_id,
            notifications=self.notifications,
        )
        self.renewed_to = new_contract_id
        self.version += 1
        return renewal

    def forget_renewal(self) -> None:
        """The renewal was deleted before anything happened under it: this contract may renew again."""
        self.renewed_to = None
        self.version += 1

    # --- management ----------------------------------------------------------------------------------

    def edit(self, changes: Mapping[str, Any]) -> list[str]:
        """Change editable fields; returns the names of those whose value really changed."""
        not_editable = sorted(set(changes) - EDITABLE_FIELDS)
        if not_editable:
            raise InvalidContract(
                f"{', '.join(not_editable)} cannot be edited on a signed contract "
                f"(editable: {', '.join(sorted(EDITABLE_FIELDS))})"
            )
        changed = sorted(name for name, value in changes.items() if getattr(self, name) != value)
        if not changed:
            return []
        before = {name: getattr(self, name) for name in changed}
        for name in changed:
            setattr(self, name, changes[name])
        try:
            self._validate()
        except InvalidContract:
            for name, value in before.items():
                setattr(self, name, value)
            raise
        self.version += 1
        return changed

    def ensure_deletable(self, activity: ContractActivity) -> None:
        """Only a contract nothing happened against may disappear: bills and time entries refer to it."""
        reasons = [
            reason
            for present, reason in (
                (activity.has_bills, "bills were issued for it"),
                (activity.has_time_entries, "time entries were logged against it"),
                (activity.has_top_ups, "top-ups were bought on it"),
                (self.renewed_to is not None, "it was renewed (delete the renewal first)"),
            )
            if present
        ]
        if reasons:
            raise ContractInUse(f"contract {self.contract_number} cannot be deleted: {'; '.join(reasons)}")

    # --- notices -------------------------------------------------------------------------------------

    def notice_dates(self) -> dict[NoticeKind, date]:
        """The local day each configured notice falls due; an expired notice never before the first
        day the contract is expired."""
        dates: dict[NoticeKind, date] = {}
        if self.notifications.days_before_expiry is not None:
            dates[NoticeKind.EXPIRY_APPROACHING] = self.expiry_date - timedelta(
                days=self.notifications.days_before_expiry
            )
        if self.notifications.days_after_expiry is not None:
            dates[NoticeKind.EXPIRED] = self.expiry_date + timedelta(
                days=max(self.notifications.days_after_expiry, 1)
            )
        return dates

    @property
    def next_notice_on(self) -> date | None:
        """The earliest day a notice is still to be considered: what the scheduler looks up by."""
        if self.termination_date is not None:
            return None
        pending = [day for kind, day in self.notice_dates().items() if kind not in self.notices_done]
        return min(pending, default=None)

    def due_notices(self, today: date) -> list[Notice]:
        """Notices to send on local day `today`; each is sent once. A terminated contract did not
        expire and gets none; an approaching notice found only after expiry is stale and dropped."""
        due: list[Notice] = []
        for kind, day in self.notice_dates().items():
            if kind in self.notices_done or today < day:
                continue
            self.notices_done.add(kind)
            if self.termination_date is not None:
                continue
            if kind is NoticeKind.EXPIRY_APPROACHING and today <= self.expiry_date:
                due.append(Notice(kind, (self.expiry_date - today).days))
            elif kind is NoticeKind.EXPIRED:
                due.append(Notice(kind, (today - self.expiry_date).days))
        return due


_NEXT_STATUS: dict[tuple[ContractStatus, ContractStatus], ContractStatus] = {
    (ContractStatus.UPCOMING, ContractStatus.ACTIVE): ContractStatus.ACTIVE,
    (ContractStatus.UPCOMING, ContractStatus.EXPIRED): ContractStatus.ACTIVE,
    (ContractStatus.UPCOMING, ContractStatus.TERMINATED): ContractStatus.ACTIVE,
    (ContractStatus.ACTIVE, ContractStatus.EXPIRED): ContractStatus.EXPIRED,
    (ContractStatus.ACTIVE, ContractStatus.TERMINATED): ContractStatus.TERMINATED,
}
"""One lifecycle step from (current, target): upcoming → active → expired | terminated."""
