"""Logs: one JSON object a line in production, readable lines in the dev stack; both carry context.

Context is bound where work starts and applies to every line logged inside it, whatever module logs:
a consumer binds the topic and group of a batch and, for a single message, its partition, offset,
message id, correlation id, causation id and actor; a REST request binds its method, path and actor.
The current trace and span ids are added when tracing is on. `LOG_FORMAT` is `json` (default) or
`console`; `LOG_LEVEL` is a level name (INFO by default).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from servicekit import tracing

_fields: ContextVar[Mapping[str, Any] | None] = ContextVar("log_fields", default=None)

# Attributes every LogRecord has; anything else was passed with `extra=` and is logged as a field.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Every line logged inside the block carries these fields (None values are left out)."""
    given = {key: value for key, value in fields.items() if value is not None}
    token = _fields.set({**(_fields.get() or {}), **given})
    try:
        yield
    finally:
        _fields.reset(token)


def context() -> dict[str, Any]:
    """The fields bound here, with the current trace and span ids."""
    return {**(_fields.get() or {}), **tracing.current_ids()}


# uvicorn's copy of the message with terminal colours in it
_DROPPED = frozenset({"color_message"})


def _extra(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: value
        for key, value in vars(record).items()
        if key not in _RECORD_ATTRIBUTES and key not in _DROPPED and value not in ("", None)
    }


class JsonFormatter(logging.Formatter):
    """`{"time": ..., "level": ..., "logger": ..., "message": ..., "service": ..., <context>}`."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "service": self._service,
            **context(),
            **_extra(record),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    """`12:00:01.234 INFO    billing.x: message  topic=... offset=...` for people reading a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s.%(msecs)03d %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = {**context(), **_extra(record)}
        if not fields:
            return text
        first, newline, rest = text.partition("\n")  # keep a traceback below the fields
        return f"{first}  " + " ".join(f"{key}={value}" for key, value in fields.items()) + newline + rest


class OncePerInterval(logging.Filter):
    """Lets a Kafka client's warning or error through once per kind (its logger and message template)
    per interval, and says how many like it were held back. While the broker is down aiokafka logs the
    same failure hundreds of times a second; an operator needs to read it once a minute."""

    def __init__(self, prefixes: tuple[str, ...] = ("aiokafka",), interval_seconds: float = 60.0) -> None:
        super().__init__()
        self._prefixes = prefixes
        self._interval = interval_seconds
        self._last: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or not record.name.startswith(self._prefixes):
            return True
        kind = (record.name, str(record.msg))
        last = self._last.get(kind)
        if last is not None and record.created - last[0] < self._interval:
            self._last[kind] = (last[0], last[1] + 1)
            return False
        held = last[1] if last is not None else 0
        self._last[kind] = (record.created, 0)
        if held:
            record.msg = f"{record.msg} (and {held} more like it since the last one)"
        return True


def configure(service: str, *, format_: str = "json", level: str = "INFO") -> None:
    """Send every logger's lines to stderr in the chosen format, replacing what was set up before."""
    if format_ not in ("json", "console"):
        raise ValueError(f"LOG_FORMAT must be json or console, not {format_!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service) if format_ == "json" else ConsoleFormatter())
    handler.addFilter(OncePerInterval(("aiokafka", "faststream", f"{service}.kafka")))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
