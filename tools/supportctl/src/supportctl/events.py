"""A Kafka record as a person reads it: a CloudEvent's time, type, key, subject and actor on one
coloured line, its data as compact JSON below; a record that is not a CloudEvent shown as it is."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aiokafka import ConsumerRecord
from rich.text import Text

# Colours by what the event says happened: refusals and dead ends stand out.
_ALARMING = ("rejected", "exhausted", "needs_regeneration", "deleted", "terminated")
_COMMAND_WORDS = (".log", ".generate", ".issue", ".send", ".pay", ".void", ".create", ".renew", ".terminate")


def _type_style(event_type: str) -> str:
    if any(word in event_type for word in _ALARMING):
        return "bold red"
    if event_type.endswith(_COMMAND_WORDS):
        return "bold magenta"
    return "bold green"


def render_event(record: ConsumerRecord[bytes, bytes]) -> Text:
    key = record.key.decode(errors="replace") if record.key else "-"
    where = f"{record.topic}[{record.partition}]@{record.offset}"
    try:
        document: Any = json.loads(record.value or b"")
    except ValueError:
        document = None
    if not isinstance(document, dict) or "type" not in document:
        at = datetime.fromtimestamp(record.timestamp / 1000, UTC).isoformat(timespec="seconds")
        text = Text.assemble(
            (at, "dim"), "  ", ("(not a CloudEvent)", "bold yellow"), f"  key={key}  ", (where, "dim")
        )
        text.append("\n  " + (record.value or b"").decode(errors="replace")[:2000])
        return text
    text = Text.assemble(
        (str(document.get("time", "")), "dim"),
        "  ",
        (str(document["type"]), _type_style(str(document["type"]))),
        "  key=",
        (key, "cyan"),
        "  subject=",
        (str(document.get("subject", "-")), "cyan"),
        "  actor=",
        (str(document.get("actor", "-")), "blue"),
        "  ",
        (where, "dim"),
    )
    if document.get("causationid"):
        text.append(f"\n  id={document.get('id')} correlation={document.get('correlationid')}", style="dim")
        text.append(f" cause={document.get('causationid')}", style="dim")
    text.append("\n  " + json.dumps(document.get("data"), separators=(",", ":"), ensure_ascii=False))
    return text
