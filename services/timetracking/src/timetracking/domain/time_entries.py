"""Time entries: how many minutes an entry counts, which contract covers it, what a rep may enter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID
from zoneinfo import ZoneInfo

from contracts_schema.contracts import ContractState
from contracts_schema.timetracking import TimeEntryFields, TimeEntryState
from servicekit.dates import end_of_day_utc, local_midnight_utc
from servicekit.money import round_to_currency
from timetracking.domain.errors import InvalidTimeEntry

# Other charges are stored as NUMERIC(18, 6): anything this large is a typo, not a charge.
MAX_OTHER_CHARGES = Decimal(10) ** 9


@dataclass(frozen=True)
class CoveringContract:
    """What timetracking keeps of a contract: enough to attach entries and check what reps may enter."""

    contract_id: UUID
    account_id: str
    all_products: bool
    products: frozenset[str]
    start_date: date
    end_date: date
    time_zone: str
    currency: str
    reps_may_override_time_taken: bool
    reps_may_add_other_charges: bool
    version: int

    @classmethod
    def from_state(cls, state: ContractState) -> CoveringContract:
        return cls(
            contract_id=state.contract_id,
            account_id=state.account_id,
            all_products=state.scope.all_products,
            products=frozenset(state.scope.products),
            start_date=state.start_date,
            end_date=state.termination_date or state.expiry_date,
            time_zone=state.time_zone,
            currency=state.terms.currency,
            reps_may_override_time_taken=state.terms.reps_may_override_time_taken,
            reps_may_add_other_charges=state.terms.reps_may_add_other_charges,
            version=state.version,
        )

    def covered_instants(self) -> tuple[datetime, datetime]:
        """[first, last) instant of the contract's days in its zone."""
        zone = ZoneInfo(self.time_zone)
        return local_midnight_utc(self.start_date, zone), end_of_day_utc(self.end_date, zone)

    def covers(self, product: str | None, at: datetime) -> bool:
        local_day = at.astimezone(ZoneInfo(self.time_zone)).date()
        if not self.start_date <= local_day <= self.end_date:
            return False
        return self.all_products or (product is not None and product in self.products)


def find_covering_contract(
    contracts: list[CoveringContract], product: str | None, at: datetime
) -> CoveringContract | None:
    """The contract that covers the product at the instant; a product-scoped one wins over all-products."""
    covering = [contract for contract in contracts if contract.covers(product, at)]
    covering.sort(key=lambda contract: (contract.all_products, contract.start_date))
    return covering[0] if covering else None


def whole_minute(instant: datetime) -> datetime:
    """The instant in UTC, cut down to the whole minute (time is counted in whole minutes)."""
    return instant.astimezone(UTC).replace(second=0, microsecond=0)


def elapsed_minutes(fields: TimeEntryFields) -> int:
    """Real elapsed whole minutes between the start and end cut down to the minute, or the duration."""
    if fields.duration_minutes is not None:
        return fields.duration_minutes
    assert fields.ended_at is not None  # the message model guarantees one of the two
    span = whole_minute(fields.ended_at) - whole_minute(fields.started_at)
    return span // timedelta(minutes=1)


def new_time_entry(
    entry_id: UUID, fields: TimeEntryFields, contract: CoveringContract | None
) -> TimeEntryState:
    """Check what the rep entered against the contract's terms and build the entry."""
    if fields.time_taken_minutes is not None and not (contract and contract.reps_may_override_time_taken):
        raise InvalidTimeEntry("the contract's plan does not let reps override the time taken")
    if fields.other_charges is not None:
        if not (contract and contract.reps_may_add_other_charges):
            raise InvalidTimeEntry("the contract's plan does not let reps add other charges")
        if fields.other_charges.currency != contract.currency:
            raise InvalidTimeEntry(
                f"other charges are in {fields.other_charges.currency}, the contract bills in "
                f"{contract.currency}"
            )
        amount = fields.other_charges.amount
        if not 0 <= amount < MAX_OTHER_CHARGES:
            raise InvalidTimeEntry(f"other charges must be from 0 up to {MAX_OTHER_CHARGES}")
        if amount != round_to_currency(amount, contract.currency):
            raise InvalidTimeEntry(
                f"other charges of {amount} have more decimals than {contract.currency} allows"
            )
    minutes = fields.time_taken_minutes if fields.time_taken_minutes is not None else elapsed_minutes(fields)
    return TimeEntryState(
        entry_id=entry_id,
        account_id=fields.account_id,
        contract_id=contract.contract_id if contract else None,
        request_id=fields.request_id,
        task_id=fields.task_id,
        product=fields.product,
        rep_id=fields.rep_id,
        started_at=whole_minute(fields.started_at),
        minutes=minutes,
        billable=fields.billable,
        include_non_operational=fields.include_non_operational,
        other_charges=fields.other_charges,
        description=fields.description,
        work_log_type=fields.work_log_type,
        billed=False,
        version=1,
    )


# What the rep entered; the contract it was attached to, its version and billing state come later.
_ENTERED = frozenset(TimeEntryState.model_fields) - {"contract_id", "version", "billed"}


def same_entry(logged: TimeEntryState, again: TimeEntryState) -> bool:
    """Whether a repeated log of an entry id says what was logged the first time."""
    return logged.model_dump(include=set(_ENTERED)) == again.model_dump(include=set(_ENTERED))
