"""The domain builders (`tests/builders.py`) as fixtures of the unit tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from contracts.domain.contracts import Contract
from contracts.domain.plans import PlanTerms, TopUpPlan
from services.contracts.tests import builders


@pytest.fixture
def make_contract() -> Callable[..., Contract]:
    return builders.contract


@pytest.fixture
def make_terms() -> Callable[..., PlanTerms]:
    return builders.terms


@pytest.fixture
def make_blocking_terms() -> Callable[..., PlanTerms]:
    return builders.blocking_terms


@pytest.fixture
def make_top_up_plan() -> Callable[..., TopUpPlan]:
    return builders.top_up_plan
