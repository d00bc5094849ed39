"""Wire types shared by every message: money as a decimal string with its currency, percentages."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema, field_serializer

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

    @field_serializer("amount", when_used="json")
    def _amount_in_minor_units(self, amount: Decimal) -> str:
        return amount_text(amount, self.currency)


def amount_text(amount: Decimal, currency: str) -> str:
    """An amount as `MoneyAmount` writes it: with at least the currency's minor units ("50.00" USD,
    "5000" JPY), as every amount on a bill is, so a reader never sees "50" beside "50.00". More decimals
    (a price per minute) stay as they are. Also for documents written without the model."""
    from contracts_schema.currencies import MINOR_UNITS

    places = MINOR_UNITS.get(currency, 2)
    text = str(amount)
    # Without an exponent, the digits after the point are the decimal places: as the amounts of a bill
    # are, already rounded to minor units. Read off the text, which `as_tuple` costs more than.
    point = text.find(".")
    if "E" not in text and (len(text) - point - 1 if point >= 0 else 0) >= places:
        return text
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -places:
        amount = amount.quantize(Decimal(1).scaleb(-places))
    return str(amount)
