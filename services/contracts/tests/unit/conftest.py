"""Builders of plans and contracts for the domain tests: valid by default, one field changed per test."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from contracts.domain.contracts import Contract, ContractScope, ContractStatus
from contracts.domain.plans import (
    BillCycle,
    BillingMode,
    OverageRateKind,
    PlanTerms,
    PlanType,
    TopUpPlan,
    WhenExhausted,
)
from servicekit.money import Money

CALENDAR_ID = UUID("00000000-0000-0000-0000-00000000ca1e")


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


def terms(**changes: Any) -> PlanTerms:
    """Prepaid monthly per-hour terms, 10 h allowance, charge extra at a fixed rate."""
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
        "calendar_id": CALENDAR_ID,
    }
    fields.update(changes)
    return PlanTerms(**fields)


def blocking_terms(**changes: Any) -> PlanTerms:
    fields: dict[str, Any] = {
        "when_exhausted": WhenExhausted.BLOCK,
        "overage_rate_kind": None,
        "overage_rate": None,
    }
    return terms(**{**fields, **changes})


def contract(**changes: Any) -> Contract:
    """An account's contract for 2026 (all products, Europe/Berlin), active, on `terms()`."""
    fields: dict[str, Any] = {
        "contract_id": uuid4(),
        "contract_number": f"C-{uuid4().hex[:6]}",
        "account_id": "acct-1",
        "name": "Support 2026",
        "description": "",
        "plan_id": uuid4(),
        "status": ContractStatus.ACTIVE,
        "start_date": date(2026, 1, 1),
        "expiry_date": date(2026, 12, 31),
        "time_zone": "Europe/Berlin",
        "scope": ContractScope(),
        "payment_terms_days": 30,
        "discount_percent": Decimal(0),
        "tax_percent": Decimal(0),
        "terms": terms(),
    }
    fields.update(changes)
    return Contract(**fields)


def top_up_plan(**changes: Any) -> TopUpPlan:
    fields: dict[str, Any] = {
        "top_up_plan_id": uuid4(),
        "name": "5 more hours",
        "description": "",
        "price": usd("250.00"),
        "hour_units": 5,
        "request_units": 0,
    }
    fields.update(changes)
    return TopUpPlan(**fields)


@pytest.fixture
def make_contract() -> Callable[..., Contract]:
    return contract


@pytest.fixture
def make_terms() -> Callable[..., PlanTerms]:
    return terms


@pytest.fixture
def make_blocking_terms() -> Callable[..., PlanTerms]:
    return blocking_terms


@pytest.fixture
def make_top_up_plan() -> Callable[..., TopUpPlan]:
    return top_up_plan
