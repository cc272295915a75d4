"""Valid test data: Finnish identifiers and the like, made with the same libraries the code uses."""

from __future__ import annotations

import random

from schwifty import IBAN
from stdnum.fi import ytunnus

__all__ = ["business_id", "iban", "ovt", "vat_id"]


def business_id() -> str:
    """A random, valid Y-tunnus (``1234567-8``): seven digits and the matching check digit."""
    while True:
        base = f"{random.randrange(10**7):07d}"
        for digit in "0123456789":
            if ytunnus.is_valid(f"{base}-{digit}"):
                return f"{base}-{digit}"


def vat_id(of_business_id: str) -> str:
    """The Finnish VAT id of a business: ``FI`` and the Y-tunnus digits."""
    return "FI" + of_business_id.replace("-", "")


def ovt(of_business_id: str, suffix: str = "") -> str:
    """An OVT e-invoice address: ``0037``, the Y-tunnus digits and an optional suffix."""
    return "0037" + of_business_id.replace("-", "") + suffix


def iban(bank_code: str = "123") -> str:
    """A random, valid Finnish IBAN in compact form (bank ``123`` is Nordea, BIC NDEAFIHH)."""
    return str(
        IBAN.generate("FI", bank_code=bank_code, account_code=f"{random.randrange(10**7):07d}").compact
    )
