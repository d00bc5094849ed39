"""Builders of the contracts tests' data, in one place: domain objects for the unit tests, REST bodies
and Kafka commands for the integration tests.

Each is valid by default and describes the same contract: an account's support for 2026 on prepaid,
monthly, per-hour terms (USD 500.00 a month, 10 hours, 60.00 an hour beyond). A test changes only the
fields its rule is about.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from contracts.domain.contracts import Contract, ContractScope, ContractStatus
from contracts.domain.plans import (
    BillCycle,
    BillingMode,
    OverageRateKind,
    PlanTerms,
    PlanType,
    SupportPlan,
    TopUpPlan,
    WhenExhausted,
)
from contracts_schema.contracts import CreateContract
from servicekit.money import Money

CALENDAR_ID = UUID("00000000-0000-0000-0000-00000000ca1e")
START, EXPIRY = date(2026, 1, 1), date(2026, 12, 31)

# --- domain objects ---------------------------------------------------------------------------------


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


def support_plan(plan_terms: PlanTerms, top_up_plan_ids: Iterable[UUID] = ()) -> SupportPlan:
    return SupportPlan(uuid.uuid4(), "Plan", "", plan_terms, list(top_up_plan_ids))


def contract(**changes: Any) -> Contract:
    """An account's contract for 2026 (all products, Europe/Berlin), active, on `terms()`."""
    fields: dict[str, Any] = {
        "contract_id": uuid.uuid4(),
        "contract_number": f"C-{uuid.uuid4().hex[:6]}",
        "account_id": "acct-1",
        "name": "Support 2026",
        "description": "",
        "plan_id": uuid.uuid4(),
        "status": ContractStatus.ACTIVE,
        "start_date": START,
        "expiry_date": EXPIRY,
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
        "top_up_plan_id": uuid.uuid4(),
        "name": "5 more hours",
        "description": "",
        "price": usd("250.00"),
        "hour_units": 5,
        "request_units": 0,
    }
    fields.update(changes)
    return TopUpPlan(**fields)


# --- REST bodies and Kafka commands -----------------------------------------------------------------


def calendar_body(time_zone: str = "Europe/Berlin") -> dict[str, Any]:
    return {"name": "Office", "time_zone": time_zone, "working_hours": [{"start": "09:00", "end": "17:00"}]}


def top_up_plan_body(hours: int = 5, price: str = "250.00", currency: str = "USD") -> dict[str, Any]:
    return {"name": f"{hours} hours", "price": {"amount": price, "currency": currency}, "hour_units": hours}


def terms_body(calendar_id: str, **changes: Any) -> dict[str, Any]:
    """`terms()` as a request body writes them."""
    body: dict[str, Any] = {
        "plan_type": "per_hour",
        "billing_mode": "prepaid",
        "bill_cycle": "monthly",
        "currency": "USD",
        "base_charge": {"amount": "500.00", "currency": "USD"},
        "allowance": 10,
        "when_exhausted": "charge_extra",
        "overage_rate_kind": "fixed",
        "overage_rate": {"amount": "60.00", "currency": "USD"},
        "calendar_id": calendar_id,
    }
    body.update(changes)
    return body


def contract_body(account_id: str, plan_id: str, **changes: Any) -> dict[str, Any]:
    """A contract for 2026 as a REST body writes it."""
    body: dict[str, Any] = {
        "account_id": account_id,
        "plan_id": plan_id,
        "name": "Support 2026",
        "start_date": START.isoformat(),
        "expiry_date": EXPIRY.isoformat(),
    }
    body.update(changes)
    return body


def create_command(account_id: str, plan_id: str, **changes: Any) -> CreateContract:
    """The same contract as a Kafka command, with the id its producer chose."""
    return CreateContract.model_validate(
        {"contract_id": uuid.uuid4(), **contract_body(account_id, plan_id, **changes)}
    )
