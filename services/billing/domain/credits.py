"""Credit notes: which lines of an issued invoice they credit, and by how much.

Invariants are cited by their number in docs/architecture.md §8.

A credit note references one issued invoice and credits some of its lines (all of them when it
names none), each at most once over all credit notes of that invoice:

- in whole (``full``): the line's quantity at its price. The session may then be billed again —
  its item returns to billable (as the session's next generation, snapshot unchanged) unless the
  seller says ``rebill: false`` — so a wrong invoice can be replaced by a corrected one;
- by a quantity (``quantity``): part of the quantity at the line's price (a 90-minute session
  billed per hour that lasted 60: credit 0.5 HUR);
- by a price correction (``price``): the whole quantity at the difference between the invoiced
  price and the correct one.

Issued invoices and credit notes never change; what a session has been billed, net, is the sum
of its invoice lines less their credit lines, and never more than one session's worth (domain
invariant 10: a session is invoiced at most once, net).
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal, InvalidOperation
from typing import Literal

import msgspec

from services.billing.domain.documents import DocumentHeader, safe_party, vat_breakdown
from services.billing.domain.items import Quantity, line_net_cents
from services.billing.domain.references import invoice_number, reference_for_invoice, rf_reference
from shared.errors import Conflict, FieldError, InvariantViolated

__all__ = [
    "CreditLine",
    "CreditRefused",
    "CreditRequestLine",
    "InvoicedLine",
    "credit_line",
    "credit_lines",
    "credit_note_header",
]

Correction = Literal["full", "quantity", "price"]


class CreditRefused(ValueError):
    """A credit request line the rules refuse; ``field`` names it as the API does."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class InvoicedLine(msgspec.Struct, frozen=True, kw_only=True):
    item_id: uuid.UUID
    session_id: uuid.UUID
    quantity: Decimal
    unit_code: str
    base_quantity: Decimal
    unit_price: Decimal
    net_cents: int
    vat_rate: Decimal
    credited: bool
    """Already on a credit note of this invoice."""


class CreditRequestLine(msgspec.Struct, frozen=True, kw_only=True):
    session_id: uuid.UUID
    quantity: str | None = None
    """Credit this much of the line's quantity (in its unit) at the invoiced price."""
    correct_unit_price: str | None = None
    """The price (per base quantity, euros) the line should have had: the difference is credited."""


class CreditLine(msgspec.Struct, frozen=True, kw_only=True):
    item_id: uuid.UUID
    correction: Correction
    quantity: Decimal
    unit_price: Decimal
    net_cents: int
    vat_rate: Decimal


def _decimal(text: str, field: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise CreditRefused(field, "not a decimal number") from None
    if not value.is_finite():
        raise CreditRefused(field, "not a decimal number")
    return value


def credit_line(line: InvoicedLine, request: CreditRequestLine | None, field: str) -> CreditLine:
    """The credit of one invoiced line (``request`` None: in whole); ``field`` prefixes the errors."""
    if line.credited:
        raise CreditRefused(f"{field}.sessionId", "this line is already credited")
    if request is None or (request.quantity is None and request.correct_unit_price is None):
        return CreditLine(
            item_id=line.item_id,
            correction="full",
            quantity=line.quantity,
            unit_price=line.unit_price,
            net_cents=line.net_cents,
            vat_rate=line.vat_rate,
        )
    if request.quantity is not None and request.correct_unit_price is not None:
        raise CreditRefused(field, "credit either a quantity or a price, not both")
    if request.quantity is not None:
        where = f"{field}.quantity"
        quantity = _decimal(request.quantity, where)
        if quantity <= 0:
            raise CreditRefused(where, "a credited quantity is more than zero")
        if quantity > line.quantity:
            raise CreditRefused(where, f"more than the {line.quantity.normalize()} invoiced")
        if quantity.as_tuple().exponent < -4:  # type: ignore[operator]
            raise CreditRefused(where, "at most four decimals")
        net = line_net_cents(Quantity(quantity, line.unit_code, line.base_quantity), line.unit_price)
        if quantity == line.quantity:
            correction: Correction = "full"
            net = line.net_cents
        else:
            correction = "quantity"
        if net <= 0:
            raise CreditRefused(where, "credits less than a cent")
        return CreditLine(
            item_id=line.item_id,
            correction=correction,
            quantity=quantity,
            unit_price=line.unit_price,
            net_cents=net,
            vat_rate=line.vat_rate,
        )
    assert request.correct_unit_price is not None
    where = f"{field}.correctUnitPrice"
    correct = _decimal(request.correct_unit_price, where)
    if correct < 0:
        raise CreditRefused(where, "a price is not negative: that would credit more than was invoiced")
    if correct >= line.unit_price:
        raise CreditRefused(where, f"not below the invoiced {line.unit_price.normalize()}")
    if correct.as_tuple().exponent < -4:  # type: ignore[operator]
        raise CreditRefused(where, "at most four decimals")
    difference = line.unit_price - correct
    # The credit line is quantity × difference ÷ base, rounded like every line (BT-131), so the
    # credit note's own lines add up by the EN 16931 rules.
    net = line_net_cents(Quantity(line.quantity, line.unit_code, line.base_quantity), difference)
    if net <= 0:
        raise CreditRefused(where, "credits less than a cent")
    return CreditLine(
        item_id=line.item_id,
        correction="price",
        quantity=line.quantity,
        unit_price=difference,
        net_cents=net,
        vat_rate=line.vat_rate,
    )


def credit_lines(invoiced: list[InvoicedLine], lines: list[CreditRequestLine] | None) -> list[CreditLine]:
    """The credit lines a request makes of an invoice's lines; every refusal names its field."""
    if lines is None:
        pending = [line for line in invoiced if not line.credited]
        if not pending:
            raise Conflict("the invoice is already credited")
        return [credit_line(line, None, "body") for line in pending]
    if not lines:
        raise InvariantViolated(
            "a credit note credits at least one line",
            errors=[FieldError("body.lines", "name a line, or leave lines out to credit them all")],
        )
    by_session = {line.session_id: line for line in invoiced}
    credits: list[CreditLine] = []
    errors: list[FieldError] = []
    already: list[FieldError] = []
    seen: set[uuid.UUID] = set()
    for index, request in enumerate(lines):
        field = f"body.lines[{index}]"
        line = by_session.get(request.session_id)
        if line is None:
            errors.append(FieldError(f"{field}.sessionId", "not a line of this invoice"))
        elif request.session_id in seen:
            errors.append(FieldError(f"{field}.sessionId", "named twice"))
        elif line.credited:
            already.append(FieldError(f"{field}.sessionId", "this line is already credited"))
        else:
            try:
                credits.append(credit_line(line, request, field))
            except CreditRefused as refused:
                errors.append(FieldError(refused.field, refused.message))
        seen.add(request.session_id)
    if errors:
        raise InvariantViolated("the credit note cannot credit these lines", errors=errors)
    if already:
        raise Conflict("a line is credited at most once", errors=already)
    return credits


def credit_note_header(
    was: DocumentHeader, credits: list[CreditLine], *, credit_id: uuid.UUID, sequence: int, today: dt.date
) -> DocumentHeader:
    """The credit note's header: the original's, renumbered from ``sequence``, dated (and due)
    ``today``, referencing the original, with the credited amounts (positive here; the event and
    the documents say they are a credit)."""
    taxable: dict[Decimal, int] = {}
    for credit in credits:
        taxable[credit.vat_rate] = taxable.get(credit.vat_rate, 0) + credit.net_cents
    breakdown = vat_breakdown(taxable)
    net = sum(b.taxable_cents for b in breakdown)
    vat = sum(b.tax_cents for b in breakdown)
    reference = reference_for_invoice(sequence)
    return msgspec.structs.replace(
        was,
        kind="credit_note",
        invoice_id=credit_id,
        number=invoice_number(sequence),
        issue_date=today,
        due_date=today,
        payment_reference=reference,
        rf_reference=rf_reference(reference),
        credited_number=was.number,
        credited_issue_date=was.issue_date,
        # An original issued before documents were checked may hold text XML cannot carry; its
        # credit note carries U+FFFD there instead, so the correction can always be written.
        seller=safe_party(was.seller),
        buyer=safe_party(was.buyer),
        breakdown=breakdown,
        net_cents=net,
        vat_cents=vat,
        gross_cents=net + vat,
    )
