"""Validated values of what comes into the services: one type per concept, used by every service's REST
bodies and by the command models, so that what one service accepts another never refuses.

Texts refuse control characters (but tab, line feed and carriage return in multi-line texts) and lone
surrogates: neither can be stored (PostgreSQL refuses NUL) nor encoded as UTF-8. Time zones are IANA
names that `zoneinfo` knows, but not the host-dependent `localtime` nor `Factory`. Currencies are
ISO 4217 codes (`contracts_schema.currencies`). Money at the edge is from 0 to below 10^9 in whole
minor units of its currency; percentages are from 0 to 100. Dates and instants fall between
2000-01-01 and 2099-12-31. Calendar times are local wall-clock times `HH:MM`, without an offset.

Each bound is in `contracts_schema.limits`; rules a JSON Schema cannot state (a known time zone, an
ISO currency, the currency's minor units, a date range) are checked by validators and named in the
field's description.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal
from functools import cache
from typing import Annotated, Any
from zoneinfo import ZoneInfo, available_timezones

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, PlainSerializer, WithJsonSchema
from pydantic import model_validator as _model_validator

from contracts_schema import limits
from contracts_schema.currencies import MINOR_UNITS
from contracts_schema.primitives import MoneyAmount

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BUT_LINE_BREAKS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _storable(value: str, control: re.Pattern[str], what: str) -> str:
    if control.search(value):
        raise ValueError(f"control characters are not allowed in {what}")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("the text is not valid Unicode (a lone surrogate)") from None
    return value


def _single_line(value: str) -> str:
    return _storable(value, _CONTROL, "this text")


def _multi_line(value: str) -> str:
    return _storable(value, _CONTROL_BUT_LINE_BREAKS, "this text (but tab and line breaks)")


_SINGLE_LINE = AfterValidator(_single_line)
_MULTI_LINE = AfterValidator(_multi_line)

Identifier = Annotated[str, Field(min_length=1, max_length=limits.ID_LENGTH), _SINGLE_LINE]
"""An id given by another system (account, request, rep, task), a product, a work-log or rate type."""
ShortText = Annotated[str, Field(max_length=limits.ID_LENGTH), _SINGLE_LINE]
"""An optional id or label of up to 100 characters (a task id, a product, a contract number)."""
Name = Annotated[str, Field(min_length=1, max_length=limits.NAME_LENGTH), _SINGLE_LINE]
RuleName = Annotated[str, Field(min_length=1, max_length=limits.RULE_NAME_LENGTH), _SINGLE_LINE]
RuleValue = Annotated[str, Field(max_length=limits.RULE_VALUE_LENGTH), _SINGLE_LINE]
CustomFieldName = Annotated[
    str, Field(min_length=1, max_length=limits.CUSTOM_FIELD_NAME_LENGTH), _SINGLE_LINE
]
CustomFieldValue = Annotated[str, Field(max_length=limits.CUSTOM_FIELD_VALUE_LENGTH), _SINGLE_LINE]
Period = Annotated[str, Field(min_length=1, max_length=limits.PERIOD_LENGTH), _SINGLE_LINE]
Description = Annotated[str, Field(max_length=limits.DESCRIPTION_LENGTH), _MULTI_LINE]
Notes = Annotated[str, Field(max_length=limits.NOTES_LENGTH), _MULTI_LINE]
Reason = Annotated[str, Field(max_length=limits.REASON_LENGTH), _MULTI_LINE]
EmailAddress = Annotated[
    str,
    Field(max_length=limits.EMAIL_LENGTH, pattern=r"^[^@ ]+@[^@ ]+$"),
    _SINGLE_LINE,
]


# --- time zones -------------------------------------------------------------------------------------

_NOT_A_PLACE = frozenset({"localtime", "Factory", "posixrules"})
"""Names zoneinfo may find that are no place's zone: the host's own setting and tzdata's placeholders."""


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones()) - _NOT_A_PLACE


def _known_time_zone(name: str) -> str:
    if name not in _time_zones():
        raise ValueError(f"{name[:64]!r} is not an IANA time zone name (e.g. Europe/Berlin)")
    ZoneInfo(name)
    return name


TimeZoneName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=limits.TIME_ZONE_LENGTH,
        pattern=r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$",
        description="an IANA time zone name, e.g. Europe/Berlin",
    ),
    AfterValidator(_known_time_zone),
]


# --- money and percentages --------------------------------------------------------------------------


def _iso_currency(code: str) -> str:
    if code not in MINOR_UNITS:
        raise ValueError(f"{code!r} is not an ISO 4217 currency code")
    return code


CurrencyCode = Annotated[
    str,
    Field(pattern=r"^[A-Z]{3}$", description="an ISO 4217 currency code, e.g. USD"),
    AfterValidator(_iso_currency),
]


def _decimals(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _as_text(value: Decimal) -> str:
    return str(value)


Amount = Annotated[
    Decimal,
    Field(allow_inf_nan=False),
    PlainSerializer(_as_text, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": rf"^\d{{1,{limits.MAX_AMOUNT_DIGITS}}}(\.\d{{1,4}})?$",
            "description": "from 0 to below 10^9, in whole minor units of the currency, e.g. 632.50",
        }
    ),
]


class Money(MoneyAmount):
    """An amount of money coming in: from 0 to below 10^9, in whole minor units of its ISO 4217
    currency (USD 2 decimals, JPY 0, BHD 3)."""

    amount: Amount
    currency: CurrencyCode

    @_model_validator(mode="after")
    def _in_minor_units(self) -> Money:
        if not Decimal(0) <= self.amount < Decimal(10) ** limits.MAX_AMOUNT_DIGITS:
            raise ValueError("an amount is from 0 to below 10^9")
        if _decimals(self.amount) > MINOR_UNITS[self.currency]:
            raise ValueError(f"{self.currency} has {MINOR_UNITS[self.currency]} decimals")
        return self


def _percent(value: Decimal) -> Decimal:
    if not Decimal(0) <= value <= Decimal(100) or _decimals(value) > 4:
        raise ValueError("a percentage is from 0 to 100, with at most 4 decimals")
    return value


Percent = Annotated[
    Decimal,
    Field(allow_inf_nan=False),
    AfterValidator(_percent),
    PlainSerializer(_as_text, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^(100(\.0{1,4})?|\d{1,2}(\.\d{1,4})?)$",
            "description": "from 0 to 100, e.g. 8.5",
        }
    ),
]


# --- dates and times --------------------------------------------------------------------------------


def _in_date_range(value: date) -> date:
    if not limits.FIRST_DATE <= value <= limits.LAST_DATE:
        raise ValueError(f"dates are from {limits.FIRST_DATE} to {limits.LAST_DATE}")
    return value


def _instant_in_range(value: datetime) -> datetime:
    if not limits.FIRST_DATE.year <= value.year <= limits.LAST_DATE.year:
        raise ValueError(f"instants are from {limits.FIRST_DATE} to {limits.LAST_DATE}")
    return value


CalendarDate = Annotated[
    date,
    AfterValidator(_in_date_range),
    Field(description=f"a date from {limits.FIRST_DATE} to {limits.LAST_DATE}"),
]
Instant = Annotated[
    AwareDatetime,
    AfterValidator(_instant_in_range),
    Field(description=f"an RFC 3339 instant with an offset, from {limits.FIRST_DATE} to {limits.LAST_DATE}"),
]


def _computable(value: datetime) -> datetime:
    if not 1900 <= value.year <= 2199:
        raise ValueError("an instant from 1900 to 2199")
    return value


Moment = Annotated[
    AwareDatetime,
    AfterValidator(_computable),
    Field(description="an RFC 3339 instant with an offset"),
]
"""An instant whose own rule is the service's to judge and answer (a time entry's start must be from
2000-01-01 to a day from now: `StartOutOfRange`); the type only keeps it within reach of arithmetic."""

_LOCAL_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)(:00)?$")
END_OF_DAY = "24:00"


def _local_time(value: Any) -> time:
    if isinstance(value, time) and value.tzinfo is None and value.second == value.microsecond == 0:
        return value
    found = _LOCAL_TIME.match(value) if isinstance(value, str) else None
    if found is None:
        raise ValueError("a local wall-clock time HH:MM, without an offset")
    return time(int(found[1]), int(found[2]))


def _local_end_time(value: Any) -> time:
    """`24:00` (midnight at the end of the day) is time(0) as an interval's end."""
    if isinstance(value, str) and value in (END_OF_DAY, END_OF_DAY + ":00"):
        return time(0)
    return _local_time(value)


LocalTime = Annotated[
    time,
    BeforeValidator(_local_time),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^([01]\d|2[0-3]):[0-5]\d(:00)?$",
            "description": "a local wall-clock time HH:MM, without an offset",
        }
    ),
]
LocalEndTime = Annotated[
    time,
    BeforeValidator(_local_end_time),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^(([01]\d|2[0-3]):[0-5]\d|24:00)(:00)?$",
            "description": "a local wall-clock time HH:MM, without an offset; 24:00 is the end of the day",
        }
    ),
]


def working_hours_problem(intervals: Sequence[tuple[time, time]]) -> str | None:
    """What is wrong with a day's working hours, or None: each interval [start, end) must end after it
    starts (an end of 00:00 is midnight at the end of the day) and no two may overlap. Calendars are
    checked by this one rule wherever they are read: at the edge, and in every service that counts
    minutes by them."""
    for start, end in intervals:
        if end != time(0) and end <= start:
            return f"working hours {_interval(start, end)} do not end after they start"
    ordered = sorted(intervals)
    for (start, end), (later_start, later_end) in zip(ordered, ordered[1:], strict=False):
        if end == time(0) or later_start < end:
            return f"working hours {_interval(start, end)} and {_interval(later_start, later_end)} overlap"
    return None


def _interval(start: time, end: time) -> str:
    return f"{start:%H:%M}-{END_OF_DAY if end == time(0) else format(end, '%H:%M')}"
