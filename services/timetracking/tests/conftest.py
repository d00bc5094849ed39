"""Builders every timetracking test shares: valid by default, one field changed per test.

Domain values for the unit tests; the wire messages (contract states, log commands, bills) that the
integration tests send the running service.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from contracts_schema.billing import BillState, BillStatus
from contracts_schema.contracts import (
    BillCycle,
    BillingMode,
    ContractScope,
    ContractState,
    ContractStatus,
    OverageRateKind,
    PlanTerms,
    PlanType,
    WhenExhausted,
)
from contracts_schema.edge import Money
from contracts_schema.timetracking import LogTimeEntry
from timetracking.domain.contracts import CoveringContract
from timetracking.domain.time_entries import EndedAt, WorkLog

STARTED_AT = datetime(2026, 3, 2, 14, 0, 59, tzinfo=UTC)
ENDED_AT = datetime(2026, 3, 2, 15, 30, 1, tzinfo=UTC)
"""90 whole minutes of work on 2 March 2026, inside every contract built here."""
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
"""When the unit tests' entries are logged: a week after the work."""


def usd(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="USD")


def covering_contract(**changes: Any) -> CoveringContract:
    """acme's contract for 2026 in New York, all products, in USD; reps may neither override the time
    taken nor add other charges."""
    fields: dict[str, Any] = {
        "contract_id": uuid.uuid4(),
        "account_id": "acme",
        "all_products": True,
        "products": frozenset(),
        "start_date": date(2026, 1, 1),
        "end_date": date(2026, 12, 31),
        "time_zone": "America/New_York",
        "currency": "USD",
        "reps_may_override_time_taken": False,
        "reps_may_add_other_charges": False,
        "version": 1,
        "calendar_id": None,
    }
    fields.update(changes)
    return CoveringContract(**fields)


def work(**changes: Any) -> WorkLog:
    """Ann's 90 minutes on request R1 for acme, billable, with nothing overridden or charged."""
    fields: dict[str, Any] = {
        "request_id": "R1",
        "task_id": None,
        "account_id": "acme",
        "product": None,
        "rep_id": "ann",
        "started_at": STARTED_AT,
        "span": EndedAt(ENDED_AT),
        "time_taken_minutes": None,
        "billable": True,
        "include_non_operational": True,
        "other_charges": None,
        "description": "",
        "work_log_type": None,
        "rate_type": None,
        "custom_fields": {},
    }
    fields.update(changes)
    return WorkLog(**fields)


def plan_terms(**changes: Any) -> PlanTerms:
    """Prepaid monthly per-hour terms in USD, 10 hours a cycle, extra hours charged at a fixed rate."""
    fields: dict[str, Any] = {
        "plan_type": PlanType.PER_HOUR,
        "billing_mode": BillingMode.PREPAID,
        "bill_cycle": BillCycle.MONTHLY,
        "currency": "USD",
        "base_charge": usd("500.00"),
        "allowance": 10,
        "when_exhausted": WhenExhausted.CHARGE_EXTRA,
        "overage_rate_kind": OverageRateKind.FIXED,
        "overage_rate": usd("60.00"),
        "calendar_id": uuid.uuid4(),
    }
    fields.update(changes)
    return PlanTerms(**fields)


def contract_state(**changes: Any) -> ContractState:
    """An active contract for 2026 in New York, all products, on `plan_terms()`, as contracts states it."""
    contract_id = uuid.uuid4()
    fields: dict[str, Any] = {
        "contract_id": contract_id,
        "contract_number": f"C-{contract_id.hex[:6]}",
        "account_id": "acme",
        "name": "Support 2026",
        "plan_id": uuid.uuid4(),
        "status": ContractStatus.ACTIVE,
        "start_date": date(2026, 1, 1),
        "expiry_date": date(2026, 12, 31),
        "time_zone": "America/New_York",
        "scope": ContractScope(),
        "payment_terms_days": 30,
        "discount_percent": Decimal(0),
        "tax_percent": Decimal(0),
        "terms": plan_terms(),
        "version": 1,
    }
    fields.update(changes)
    return ContractState(**fields)


def log_command(**changes: Any) -> LogTimeEntry:
    """The command to log Ann's 90 minutes on request R1 for acme (as `work()`) under a new entry id."""
    fields: dict[str, Any] = {
        "entry_id": uuid.uuid4(),
        "request_id": "R1",
        "account_id": "acme",
        "rep_id": "ann",
        "started_at": STARTED_AT,
        "ended_at": ENDED_AT,
    }
    fields.update(changes)
    return LogTimeEntry(**fields)


def bill(**changes: Any) -> BillState:
    """acme's main bill for March 2026, covering no entries and charging nothing."""
    fields: dict[str, Any] = {
        "bill_id": uuid.uuid4(),
        "bill_number": "B-0001-v1",
        "version": 1,
        "contract_id": uuid.uuid4(),
        "account_id": "acme",
        "period": "3",
        "period_start": date(2026, 3, 1),
        "period_end": date(2026, 3, 31),
        "bill_date": date(2026, 4, 1),
        "due_date": date(2026, 5, 1),
        "currency": "USD",
        "lines": [],
        "time_entry_ids": [],
        "subtotal": usd("0.00"),
        "discount_percent": Decimal(0),
        "discount": usd("0.00"),
        "tax_percent": Decimal(0),
        "tax": usd("0.00"),
        "total": usd("0.00"),
        "status": BillStatus.ISSUED,
        "is_main": True,
    }
    fields.update(changes)
    return BillState(**fields)


@pytest.fixture
def make_covering_contract() -> Callable[..., CoveringContract]:
    return covering_contract


@pytest.fixture
def make_work() -> Callable[..., WorkLog]:
    return work


@pytest.fixture
def make_plan_terms() -> Callable[..., PlanTerms]:
    return plan_terms


@pytest.fixture
def make_contract_state() -> Callable[..., ContractState]:
    return contract_state


@pytest.fixture
def make_log_command() -> Callable[..., LogTimeEntry]:
    return log_command


@pytest.fixture
def make_bill() -> Callable[..., BillState]:
    return bill
