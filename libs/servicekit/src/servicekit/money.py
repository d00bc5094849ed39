"""Money as a value type: a Decimal amount with its ISO 4217 currency, never a float."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from contracts_schema.currencies import MINOR_UNITS
from servicekit.errors import DomainError


class CurrencyMismatch(DomainError):
    """Two amounts in different currencies were combined: a request or message that mixes currencies."""


def minor_units(currency: str) -> int:
    """Digits after the decimal point for the currency (USD 2, JPY 0, BHD 3), by ISO 4217; 2 for a code
    the list does not have (money published before currencies were checked at the edge)."""
    return MINOR_UNITS.get(currency, 2)


def is_currency_code(code: str) -> bool:
    return len(code) == 3 and code.isascii() and code.isalpha() and code.isupper()


def round_to_currency(amount: Decimal, currency: str) -> Decimal:
    """Round half up to the currency's minor units: the one rounding a bill line gets."""
    return amount.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise TypeError(f"Money needs a Decimal amount, got {type(self.amount).__name__}")
        if not is_currency_code(self.currency):
            raise ValueError(f"{self.currency!r} is not an ISO 4217 currency code")

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(round_to_currency(Decimal(0), currency), currency)

    @classmethod
    def of(cls, amount: Decimal | str | int, currency: str) -> Money:
        """Money rounded half up to the currency's minor units."""
        return cls(round_to_currency(Decimal(amount), currency), currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"
