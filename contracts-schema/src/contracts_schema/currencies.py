"""ISO 4217 currencies and their minor units, from the `iso4217` package.

That package ships the ISO 4217 maintenance agency's own table (SIX's list one, kept up to date with
each amendment), so a new or withdrawn currency is a dependency update, not a code change. Codes
without minor units (gold, SDRs, the testing and "no currency" codes) are not money anyone is billed
in, so they are left out.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

import iso4217


def _minor_units() -> dict[str, int]:
    found: dict[str, int] = {}
    for code, entry in iso4217.raw_table.items():
        units = entry.get("CcyMnrUnts")
        if isinstance(code, str) and isinstance(units, str) and units.isdigit():
            found[code] = int(units)
    return found


MINOR_UNITS: Final = MappingProxyType(_minor_units())
"""ISO 4217 code -> digits after the decimal point (USD 2, JPY 0, BHD 3, CLF 4)."""
PUBLISHED: Final = iso4217.__published__
"""The date of the ISO 4217 list in use."""


def is_iso_currency(code: str) -> bool:
    return code in MINOR_UNITS
