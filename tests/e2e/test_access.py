"""Who may do what, on the running services: a matrix of every operation of every service's OpenAPI
document against every role (PRODUCT.md "Who may do what").

One account (the owner) has a contract, its bills and a time entry. Then, for each operation:
- without a token, it answers 401;
- a caller of each role whose token holds only another account never gets a 2xx on the owner's
  resources, and no answer (a list, a total, a problem) shows anything of the owner's;
- a caller of the owner's account whose role may not call the operation gets 403;
- the operation's OpenAPI names exactly the roles the table below gives it.
The operations are read from the services' OpenAPI documents, so a new endpoint without a row in the
table fails the test until someone decides who may call it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

import httpx
import pytest

from servicekit.app import OPEN_PATHS
from servicekit.auth import Role
from tests.e2e.stack import SERVICES, Stack
from tests.support.auth import bearer
from tests.support.kafka import eventually
from tests.support.scenario import WORKED_EXAMPLE_1_TERMS, created, new_account, sign_contract, work_day

EVERYONE = frozenset(Role)
ADMIN = frozenset({Role.ADMIN})
BILLING_TEAM = frozenset({Role.ADMIN, Role.BILLING})
CONTRACT_WRITERS = frozenset({Role.ADMIN, Role.INTEGRATION})
COMMERCIAL_EDITORS = frozenset({Role.ADMIN, Role.INTEGRATION, Role.BILLING})
TIME_LOGGERS = frozenset({Role.ADMIN, Role.INTEGRATION, Role.SUPPORT_REP})
BILLABLE_MARKERS = frozenset({Role.ADMIN, Role.INTEGRATION, Role.BILLING})


class Reach(Enum):
    ACCOUNT = "one account's resource: a caller of another account never gets a 2xx"
    LIST = "a list or total over accounts: answers, without anything of accounts outside the caller's"
    CATALOG = "shared by every account (calendars, plans, the service's own state): only roles matter"


@dataclass(frozen=True)
class Rule:
    roles: frozenset[Role]
    reach: Reach
    query: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | list[Any] | None = None


CALENDAR = {"name": "Matrix", "time_zone": "Etc/UTC", "working_hours": [{"start": "09:00", "end": "17:00"}]}
FOREIGN_ENTRY = {
    "request_id": "REQ-FOREIGN",
    "account_id": "{account_id}",
    "rep_id": "{subject}",
    "started_at": "{work_started_at}",
    "duration_minutes": 30,
}
TOP_UP_PLAN = {"name": "5 h", "price": {"amount": "250.00", "currency": "USD"}, "hour_units": 5}

# Values in braces are the owner's: its account, contract, bill, entry, and the shared catalog's ids.
RULES: dict[tuple[str, str, str], Rule] = {
    **{(service, "GET", "/ops/outbox"): Rule(ADMIN, Reach.CATALOG) for service in SERVICES},
    **{(service, "POST", "/ops/outbox/release"): Rule(ADMIN, Reach.CATALOG, body={}) for service in SERVICES},
    ("billing", "POST", "/bill-runs"): Rule(
        BILLING_TEAM, Reach.CATALOG, body={"due_before": "2020-01-01T00:00:00Z", "limit": 1}
    ),
    ("contracts", "POST", "/calendars"): Rule(ADMIN, Reach.CATALOG, body=CALENDAR),
    ("contracts", "GET", "/calendars"): Rule(EVERYONE, Reach.CATALOG),
    ("contracts", "PUT", "/calendars/{calendar_id}"): Rule(ADMIN, Reach.CATALOG, body=CALENDAR),
    ("contracts", "GET", "/calendars/{calendar_id}"): Rule(EVERYONE, Reach.CATALOG),
    ("contracts", "POST", "/plans"): Rule(ADMIN, Reach.CATALOG, body={"name": "P", "terms": "{terms}"}),
    ("contracts", "GET", "/plans"): Rule(EVERYONE, Reach.CATALOG),
    ("contracts", "PUT", "/plans/{plan_id}"): Rule(
        ADMIN, Reach.CATALOG, body={"name": "P", "terms": "{terms}"}
    ),
    ("contracts", "GET", "/plans/{plan_id}"): Rule(EVERYONE, Reach.CATALOG),
    ("contracts", "POST", "/top-up-plans"): Rule(ADMIN, Reach.CATALOG, body=TOP_UP_PLAN),
    ("contracts", "GET", "/top-up-plans"): Rule(EVERYONE, Reach.CATALOG),
    ("contracts", "PUT", "/top-up-plans/{top_up_plan_id}"): Rule(ADMIN, Reach.CATALOG, body=TOP_UP_PLAN),
    ("contracts", "GET", "/top-up-plans/{top_up_plan_id}"): Rule(EVERYONE, Reach.CATALOG),
    ("contracts", "DELETE", "/top-up-plans/{top_up_plan_id}"): Rule(ADMIN, Reach.CATALOG),
    ("contracts", "POST", "/contracts"): Rule(
        CONTRACT_WRITERS,
        Reach.ACCOUNT,
        body={
            "name": "Not yours",
            "account_id": "{account_id}",
            "plan_id": "{plan_id}",
            "start_date": "2030-01-01",
            "expiry_date": "2030-12-31",
        },
    ),
    ("contracts", "GET", "/contracts"): Rule(EVERYONE, Reach.LIST, query={"account_id": "{account_id}"}),
    ("contracts", "GET", "/contracts/{contract_id}"): Rule(EVERYONE, Reach.ACCOUNT),
    ("contracts", "PATCH", "/contracts/{contract_id}"): Rule(
        COMMERCIAL_EDITORS, Reach.ACCOUNT, body={"discount_percent": "100"}
    ),
    ("contracts", "DELETE", "/contracts/{contract_id}"): Rule(CONTRACT_WRITERS, Reach.ACCOUNT),
    ("contracts", "POST", "/contracts/{contract_id}/top-ups"): Rule(
        COMMERCIAL_EDITORS, Reach.ACCOUNT, body={"top_up_plan_id": "{top_up_plan_id}"}
    ),
    ("contracts", "POST", "/contracts/{contract_id}/renewals"): Rule(
        CONTRACT_WRITERS, Reach.ACCOUNT, body={}
    ),
    ("contracts", "POST", "/contracts/{contract_id}/termination"): Rule(
        CONTRACT_WRITERS, Reach.ACCOUNT, body={"reason": "not yours"}
    ),
    ("contracts", "GET", "/coverage"): Rule(EVERYONE, Reach.LIST, query={"account_id": "{account_id}"}),
    ("billing", "GET", "/contracts/{contract_id}/usage"): Rule(EVERYONE, Reach.ACCOUNT),
    ("billing", "GET", "/contracts/{contract_id}/cycles"): Rule(EVERYONE, Reach.ACCOUNT),
    ("billing", "POST", "/contracts/{contract_id}/bills"): Rule(
        BILLING_TEAM, Reach.ACCOUNT, body={"period": "1"}
    ),
    ("billing", "POST", "/contracts/{contract_id}/bills/preview"): Rule(
        EVERYONE, Reach.ACCOUNT, body={"period": "1"}
    ),
    ("billing", "GET", "/bills"): Rule(EVERYONE, Reach.LIST, query={"account_id": "{account_id}"}),
    ("billing", "GET", "/bills/totals"): Rule(EVERYONE, Reach.LIST, query={"account_id": "{account_id}"}),
    ("billing", "GET", "/bills/{bill_id}"): Rule(EVERYONE, Reach.ACCOUNT),
    ("billing", "PATCH", "/bills/{bill_id}"): Rule(BILLING_TEAM, Reach.ACCOUNT, body={"notes": "not yours"}),
    ("billing", "POST", "/bills/{bill_id}/issue"): Rule(BILLING_TEAM, Reach.ACCOUNT),
    ("billing", "POST", "/bills/{bill_id}/send"): Rule(BILLING_TEAM, Reach.ACCOUNT),
    ("billing", "POST", "/bills/{bill_id}/pay"): Rule(BILLING_TEAM, Reach.ACCOUNT),
    ("billing", "POST", "/bills/{bill_id}/void"): Rule(
        BILLING_TEAM, Reach.ACCOUNT, body={"reason": "not yours"}
    ),
    ("billing", "POST", "/bills/{bill_id}/mark-main"): Rule(BILLING_TEAM, Reach.ACCOUNT),
    ("billing", "POST", "/bills/{bill_id}/regenerate"): Rule(BILLING_TEAM, Reach.ACCOUNT, body={}),
    ("billing", "GET", "/bills/{bill_id}/reconciliation"): Rule(EVERYONE, Reach.ACCOUNT),
    ("billing", "GET", "/bills/{bill_id}/printable"): Rule(EVERYONE, Reach.ACCOUNT),
    ("timetracking", "POST", "/time-entries"): Rule(TIME_LOGGERS, Reach.ACCOUNT, body=FOREIGN_ENTRY),
    ("timetracking", "POST", "/time-entries/batch"): Rule(TIME_LOGGERS, Reach.ACCOUNT, body=[FOREIGN_ENTRY]),
    ("timetracking", "POST", "/time-entries/billable"): Rule(
        BILLABLE_MARKERS,
        Reach.ACCOUNT,
        body={"account_id": "{account_id}", "billable": False, "entry_ids": ["{entry_id}"]},
    ),
    ("timetracking", "GET", "/time-entries/summary"): Rule(
        EVERYONE,
        Reach.LIST,
        query={
            "group_by": "account",
            "account_id": "{account_id}",
            "started_from": "{summary_from}",
            "started_before": "{summary_before}",
        },
    ),
    ("timetracking", "GET", "/time-entries/{entry_id}/audit"): Rule(EVERYONE, Reach.ACCOUNT),
    ("timetracking", "PATCH", "/time-entries/{entry_id}"): Rule(
        TIME_LOGGERS, Reach.ACCOUNT, body={"description": "not yours"}
    ),
    ("timetracking", "DELETE", "/time-entries/{entry_id}"): Rule(TIME_LOGGERS, Reach.ACCOUNT),
    ("timetracking", "GET", "/time-entries"): Rule(
        EVERYONE, Reach.LIST, query={"account_id": "{account_id}"}
    ),
    ("timetracking", "GET", "/time-entries/{entry_id}"): Rule(EVERYONE, Reach.ACCOUNT),
}


@dataclass
class Owner:
    """The account whose resources the matrix tries to reach, and what of it must never show."""

    values: dict[str, Any]
    secrets: set[str]

    def fill(self, template: Any, subject: str) -> Any:
        if isinstance(template, dict):
            return {key: self.fill(value, subject) for key, value in template.items()}
        if isinstance(template, list):
            return [self.fill(value, subject) for value in template]
        if isinstance(template, str) and template.startswith("{") and template.endswith("}"):
            name = template[1:-1]
            return subject if name == "subject" else self.values[name]
        return template

    def path(self, template: str) -> str:
        return template.format(**self.values)

    def leaked(self, response: httpx.Response, asked: str) -> set[str]:
        """Owner's values in the answer that the caller did not send itself."""
        return {secret for secret in self.secrets if secret in response.text and secret not in asked}


@pytest.fixture(scope="module")
async def owner(stack: Stack) -> Owner:
    contracts, billing, timetracking = (stack[name].url for name in ("contracts", "billing", "timetracking"))
    account = new_account()
    marker = uuid.uuid4().hex[:12]
    start = (datetime.now(UTC).date().replace(day=1) - timedelta(days=40)).replace(day=1)
    async with httpx.AsyncClient(timeout=20, headers=bearer()) as client:
        contract = await sign_contract(
            client,
            contracts,
            account_id=account,
            terms=WORKED_EXAMPLE_1_TERMS,
            start_date=start.isoformat(),
            expiry_date=(start + timedelta(days=364)).isoformat(),
            time_zone="Etc/UTC",
            billing_email=f"owner-{marker}@example.test",
        )
        top_up_plan = await created(await client.post(f"{contracts}/top-up-plans", json=TOP_UP_PLAN))
        entry = await created(
            await client.post(
                f"{timetracking}/time-entries",
                json={
                    "request_id": f"REQ-{marker}",
                    "account_id": account,
                    "rep_id": "ann",
                    "started_at": work_day(start, 3),
                    "duration_minutes": 45,
                },
            )
        )

        async def first_bill() -> dict[str, Any] | None:
            found = await client.get(f"{billing}/bills", params={"contract_id": contract["contract_id"]})
            return next(iter(found.json()["items"]), None)

        bill = await eventually(first_bill, timeout=60)
        plan = (await client.get(f"{contracts}/plans/{contract['plan_id']}")).json()
    values = {
        "account_id": account,
        "contract_id": contract["contract_id"],
        "plan_id": contract["plan_id"],
        "calendar_id": plan["terms"]["calendar_id"],
        "top_up_plan_id": top_up_plan["top_up_plan_id"],
        "bill_id": bill["bill_id"],
        "entry_id": entry["entry_id"],
        "terms": plan["terms"],
        "work_started_at": work_day(start, 4),
        "summary_from": f"{start.isoformat()}T00:00:00Z",
        "summary_before": f"{(start + timedelta(days=60)).isoformat()}T00:00:00Z",
    }
    secrets = {
        account,
        marker,
        contract["contract_id"],
        contract["contract_number"],
        bill["bill_id"],
        bill["bill_number"],
        entry["entry_id"],
    }
    return Owner(values, secrets)


@pytest.fixture(scope="module")
def operations(stack: Stack) -> list[tuple[str, str, str]]:
    """Every operation the services document, but the open ones (probes, metrics, documents)."""
    found = []
    for service in ("contracts", "billing", "timetracking"):
        document = httpx.get(f"{stack[service].url}/openapi.json", timeout=10).json()
        for path, methods in document["paths"].items():
            if path in OPEN_PATHS:
                continue
            for method, operation in methods.items():
                found.append((service, method.upper(), path))
                rule = RULES.get((service, method.upper(), path))
                assert rule is not None, f"{method.upper()} {path} of {service} has no rule in the matrix"
                assert set(operation.get("x-roles", ())) == set(rule.roles), (service, method, path)
    return found


@dataclass(frozen=True)
class Caller:
    role: Role
    subject: str
    headers: dict[str, str]


def callers(account: str) -> Iterator[Caller]:
    """A caller of each role whose token holds `account` only."""
    for role in Role:
        subject = f"{role.value}-of-{account}"
        yield Caller(role, subject, bearer(role.value, accounts=[account], subject=subject))


ANONYMOUS = Caller(Role.VIEWER, "", {})


async def _call(
    client: httpx.AsyncClient, url: str, method: str, path: str, rule: Rule, owner: Owner, caller: Caller
) -> tuple[httpx.Response, str]:
    """The operation as `caller` makes it on the owner's resources; and what the caller sent."""
    subject = caller.subject
    body = owner.fill(rule.body, subject) if rule.body is not None else None
    query = owner.fill(rule.query, subject)
    response = await client.request(
        method, url + owner.path(path), params=query, json=body, headers=caller.headers
    )
    return response, f"{owner.path(path)} {query} {body}"


async def test_every_operation_refuses_callers_without_a_token_or_the_account_or_the_role(
    stack: Stack, owner: Owner, operations: list[tuple[str, str, str]]
) -> None:
    stranger = new_account()
    failures: list[str] = []
    async with httpx.AsyncClient(timeout=20) as client:
        for service, method, path in operations:
            rule = RULES[(service, method, path)]
            url = stack[service].url
            where = f"{method} {path} ({service})"

            anonymous, _ = await _call(client, url, method, path, rule, owner, ANONYMOUS)
            if anonymous.status_code != 401:
                failures.append(f"{where} without a token: {anonymous.status_code}")

            for caller in callers(stranger):
                response, asked = await _call(client, url, method, path, rule, owner, caller)
                status, who = response.status_code, f"a {caller.role} of another account"
                if rule.reach is Reach.ACCOUNT and status not in (403, 404):
                    # A 2xx is a breach; anything else (a 422, say) would hide whether the account was
                    # checked at all, so the request is wrong and the row must be fixed.
                    failures.append(f"{where} by {who}: {status} {response.text[:200]}")
                if rule.reach is not Reach.CATALOG and (leaked := owner.leaked(response, asked)):
                    failures.append(f"{where} by {who} shows {sorted(leaked)}")
                if caller.role not in rule.roles and status != 403:
                    failures.append(f"{where} by {who}, a role that may not: {status}")

            for caller in callers(owner.values["account_id"]):
                if caller.role in rule.roles:
                    continue
                response, _ = await _call(client, url, method, path, rule, owner, caller)
                if response.status_code != 403:
                    failures.append(f"{where} by the owner's {caller.role}: {response.status_code}")
    assert not failures, "\n".join(failures)


async def test_the_owner_reaches_what_the_matrix_keeps_from_others(
    stack: Stack, owner: Owner, operations: list[tuple[str, str, str]]
) -> None:
    """The control: every read the matrix refuses to others answers the owner's own viewer, with the
    owner's data in it, so a refusal above is never just a broken request."""
    async with httpx.AsyncClient(timeout=20) as client:
        viewer = Caller(Role.VIEWER, "owner-viewer", bearer("viewer", accounts=[owner.values["account_id"]]))
        for service, method, path in operations:
            rule = RULES[(service, method, path)]
            if method != "GET" or rule.reach is Reach.CATALOG:
                continue
            response, _ = await _call(client, stack[service].url, method, path, rule, owner, viewer)
            assert response.is_success, (method, path, response.status_code, response.text)
            if not path.endswith("/cycles"):  # dates only: nothing in them names the owner
                assert owner.leaked(response, asked=""), (method, path, response.text[:300])
