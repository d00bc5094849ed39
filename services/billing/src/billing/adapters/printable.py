"""Bills a person can read and print: HTML from a Jinja2 template, PDF from that HTML with WeasyPrint.

Amounts are shown in the currency's minor units (USD 632.50, JPY 11389, BHD 6.173), time as h:mm, and
the time entries the bill covers are listed with their start (on the contract's clock) and request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape

from billing.adapters import wire
from billing.domain.bill_versions import Bill
from billing.domain.bills import format_minutes
from billing.domain.usage import UsageEntry
from contracts_schema.primitives import MoneyAmount
from servicekit.money import round_to_currency

_TEMPLATES = Environment(
    loader=PackageLoader("billing.adapters", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class CoveredEntry:
    entry_id: str
    request_id: str
    started_at: str
    time: str


def _money(value: MoneyAmount) -> str:
    return f"{value.currency} {round_to_currency(value.amount, value.currency)}"


def bill_html(bill: Bill, entries: Sequence[UsageEntry], time_zone: str) -> str:
    zone = ZoneInfo(time_zone)
    covered = [
        CoveredEntry(
            entry_id=entry.entry_id,
            request_id=entry.request_id,
            started_at=entry.started_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
            time=format_minutes(_minutes(entry)),
        )
        for entry in sorted(entries, key=lambda entry: entry.draw_order)
    ]
    return _TEMPLATES.get_template("bill.html").render(
        bill=wire.bill_state(bill), entries=covered, money=_money
    )


def bill_pdf(html: str) -> bytes:
    from weasyprint import HTML  # imported on first use: it loads Pango, which a service may not need

    pdf: bytes = HTML(string=html).write_pdf()
    return pdf


def _minutes(entry: UsageEntry) -> int:
    start, end = entry.span()
    return int((end - start).total_seconds() // 60)
