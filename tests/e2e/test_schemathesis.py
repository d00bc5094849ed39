"""Every operation of the three services' OpenAPI documents, fuzzed by schemathesis on the running stack.

Schemathesis generates requests from each document, valid ones (positive) and invalid ones (negative),
and runs all its checks on each answer: no server error, every status, content type and header
documented, every body (problem details included) matching its documented schema, invalid requests
refused, valid ones not refused for their shape. The calls carry an admin's bearer token, so they reach
the routes rather than the 401 of the authentication middleware. Examples per operation and mode are
bounded to keep the run short; `derandomize` makes a failure come back on the next run.

One check is tuned, not dropped: a schema-valid request may still break a business rule the schema
cannot say (an expiry before the start, overlapping working hours, a bill run in the future), which is
a 422 with the rule's own problem type. So positive data may be answered 422, but never with a field
error of a kind the schema could have said (a missing field, a length, a type, a pattern): that would
be a document that promises what the service refuses (`documented_shape`).

The operations are read from the documents at run time (the stack starts in a fixture), so each is
walked with schemathesis' documented strategy (`operation.as_strategy`) under Hypothesis' `given`,
rather than collected by `schema.parametrize`. An operation with nothing that can be invalid (no
parameters, no body) has no negative examples: Hypothesis says so (`Unsatisfiable`) and it is skipped.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.case import Case
from schemathesis.generation.modes import GenerationMode
from schemathesis.schemas import APIOperation

from tests.e2e.stack import SERVICES, Stack
from tests.support.auth import bearer

EXAMPLES_PER_OPERATION = 10
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
CONFIG = {
    "checks": {
        "positive_data_acceptance": {
            "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]
        }
    }
}
RULE_ERRORS = frozenset({"value_error", "assertion_error", "string_unicode"})
"""Field errors of rules across fields or against reference data, which a JSON Schema cannot say; and
lone surrogates, which JSON Schema strings allow but no text that is stored or sent may hold."""


def documented_shape(ctx: Any, response: schemathesis.Response, case: Case) -> None:
    """A schema-valid request refused with 422 names a rule, never a field the schema got wrong."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return
    errors = response.json().get("errors") or []
    drifted = [error for error in errors if error.get("type") not in RULE_ERRORS]
    assert not drifted, f"a schema-valid request was refused for its shape: {drifted}"


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_answers_as_documented(stack: Stack, service: str) -> None:
    schema = schemathesis.openapi.from_url(
        f"{stack[service].url}/openapi.json", config=SchemathesisConfig.from_dict(CONFIG)
    )
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(operation, mode, failures)
    assert operations
    assert not failures, f"{len(failures)} schemathesis failure(s) on {service}:\n\n" + "\n\n".join(
        failures.values()
    )


def _fuzz(operation: APIOperation, mode: GenerationMode, failures: dict[str, str]) -> None:
    """Call the operation with generated requests; keep each distinct failure, without shrinking."""
    headers = bearer()
    where = f"{operation.label} ({mode.value})"

    @FUZZ_SETTINGS
    @given(case=operation.as_strategy(generation_mode=mode))
    def answers_as_documented(case: Case) -> None:
        try:
            case.call_and_validate(headers=headers, additional_checks=[documented_shape])
        except (AssertionError, BaseExceptionGroup) as failure:
            failures.setdefault(f"{where}: {failure}"[:300], f"{where}\n{failure}")

    try:
        answers_as_documented()
    except Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE, f"{operation.label}: no valid request to generate"
