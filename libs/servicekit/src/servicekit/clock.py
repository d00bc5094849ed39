"""The time every service asks for, injected at bootstrap so that tests can set it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
"""Returns the current instant, with a time zone."""


def utc_now() -> datetime:
    return datetime.now(UTC)
