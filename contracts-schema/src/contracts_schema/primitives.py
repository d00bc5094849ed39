"""Wire types shared by every message: money as a decimal string with its currency, percentages."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

_DECIMAL_PATTERN = r"^-?\d+(\.\d+)?$"

DecimalString = Annotated[
    Decimal,
    PlainSerializer(lambda value: str(value), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": _DECIMAL_PATTERN}),
]
"""A Decimal that travels as a JSON string ("632.50"), never a float."""

Percentage = Annotated[DecimalString, Field(ge=0, le=100)]
CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217")]


class WireModel(BaseModel):
    """Base of every message body: unknown fields are rejected so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class MoneyAmount(WireModel):
    amount: DecimalString
    currency: CurrencyCode
