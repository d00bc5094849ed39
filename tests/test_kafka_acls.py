"""The declared Kafka ACLs cannot drift: they name exactly the topics each service subscribes to, and
docs/security.md shows them as declared."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from billing.bootstrap import bootstrap as billing
from billing.config import BillingSettings
from contracts.bootstrap import bootstrap as contracts
from contracts.config import ContractsSettings
from servicekit.kafka_acls import SUBSCRIPTIONS, markdown
from timetracking.bootstrap import bootstrap as timetracking
from timetracking.config import TimeTrackingSettings

ROOT = Path(__file__).resolve().parents[1]
BUILDERS: dict[str, tuple[Callable[[Any], Any], type[Any]]] = {
    "contracts": (contracts, ContractsSettings),
    "billing": (billing, BillingSettings),
    "timetracking": (timetracking, TimeTrackingSettings),
}


@pytest.mark.parametrize("service", sorted(BUILDERS))
def test_a_service_reads_exactly_the_topics_its_acls_allow(service: str, tmp_path: Path) -> None:
    build, settings = BUILDERS[service]
    # Built, not started: subscribing connects nothing.
    app = build(settings(database_url=f"sqlite+aiosqlite:///{tmp_path / service}.db"))

    assert app.settings.service_name == service
    assert app.service.consumers.topics == {topic.name for topic in SUBSCRIPTIONS[service]}


def test_docs_security_shows_the_declared_acls() -> None:
    text = (ROOT / "docs" / "security.md").read_text()
    shown = re.search(r"<!-- acls:[^\n]*-->\n(.*?)<!-- /acls -->", text, re.DOTALL)

    assert shown, "docs/security.md lost its <!-- acls --> markers"
    assert shown.group(1) == markdown(), "run `python -m servicekit.admin acls list --markdown` and paste it"
