"""Valid test data: Finnish identifiers and the like, made with the same libraries the code uses."""

from __future__ import annotations

import random

from stdnum.fi import ytunnus

__all__ = ["business_id"]


def business_id() -> str:
    """A random, valid Y-tunnus (``1234567-8``): seven digits and the matching check digit."""
    while True:
        base = f"{random.randrange(10**7):07d}"
        for digit in "0123456789":
            if ytunnus.is_valid(f"{base}-{digit}"):
                return f"{base}-{digit}"
