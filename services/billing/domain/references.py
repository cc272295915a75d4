"""Payment references and invoice numbers.

The Finnish domestic reference (viitenumero, weights 7-3-1 from the right) has no python-stdnum
module, so its check digit is written here; its RF form (ISO 11649) comes from python-stdnum.
"""

from __future__ import annotations

from stdnum import iso11649

__all__ = ["finnish_reference", "invoice_number", "reference_for_invoice", "rf_reference"]

_WEIGHTS = (7, 3, 1)


def finnish_reference(base: str) -> str:
    """``base`` (3–19 digits, no leading zero) with its 7-3-1 check digit appended."""
    if not base.isdigit() or not 3 <= len(base) <= 19 or base[0] == "0":
        raise ValueError("a reference base is 3 to 19 digits without a leading zero")
    total = sum(int(digit) * _WEIGHTS[i % 3] for i, digit in enumerate(reversed(base)))
    return base + str((10 - total % 10) % 10)


def rf_reference(finnish: str) -> str:
    """The ISO 11649 (RF) creditor reference built on a full Finnish reference."""
    digits = finnish + "271500"  # "RF00" as digits, moved to the end
    reference = f"RF{98 - int(digits) % 97:02d}{finnish}"
    iso11649.validate(reference)
    return reference


def invoice_number(sequence: int) -> str:
    """The seller's gapless invoice number as printed."""
    if sequence < 1:
        raise ValueError("invoice numbers start at 1")
    return str(sequence)


def reference_for_invoice(sequence: int) -> str:
    """A Finnish reference unique per seller: ``1`` + the sequence (at least five digits) + check."""
    return finnish_reference(f"1{sequence:05d}")
