"""Issuing a draft: what a seller and a buyer need, and the header a draft is frozen with.

Pure: the handler reads the draft, the parties and the counter, this decides; every refusal names
its field (problem+json via ``shared.errors``)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import msgspec
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from stdnum.exceptions import ValidationError
from stdnum.fi import alv, ytunnus

from services.billing.domain.documents import (
    DocumentHeader,
    Party,
    VatBreakdown,
    header_problems,
    party_problems,
)
from services.billing.domain.references import invoice_number, reference_for_invoice, rf_reference
from shared.errors import Conflict, FieldError, InvariantViolated

__all__ = [
    "DEFAULT_PAYMENT_TERMS_DAYS",
    "Draft",
    "breakdown_of",
    "check_issuable",
    "checked_buyer",
    "checked_seller",
    "issue_header",
]

DEFAULT_PAYMENT_TERMS_DAYS = 21


class Draft(msgspec.Struct, frozen=True, kw_only=True):
    """What issuing needs of a draft and of its items and orders."""

    invoice_id: uuid.UUID
    cost_centre_id: uuid.UUID
    order_id: uuid.UUID | None
    """Set when the buyer requires an invoice per order."""
    order_ids: list[uuid.UUID]
    breakdown: list[VatBreakdown]
    net_cents: int
    vat_cents: int
    gross_cents: int
    period_start: dt.date
    period_end: dt.date
    payment_terms_days: int | None
    agreement_number: str | None
    order_number: str | None
    cost_centre_code: str | None


def check_issuable(status: str, item_count: int) -> None:
    if status != "draft":
        raise Conflict("the invoice is already issued")
    if item_count == 0:
        raise Conflict("the draft has no items")


def checked_seller(seller: Party | None) -> Party:
    if seller is None:
        raise Conflict("billing has not heard the seller's invoicing facts yet")
    errors: list[FieldError] = []
    try:
        ytunnus.validate(seller.business_id)
    except ValidationError:
        errors.append(FieldError("seller.businessId", "not a valid Y-tunnus"))
    try:
        alv.validate(seller.vat_id or "")
    except ValidationError:
        errors.append(FieldError("seller.vatId", "not a valid Finnish VAT id"))
    try:
        IBAN(seller.iban or "")
    except (SchwiftyException, ValueError):
        errors.append(FieldError("seller.iban", "not a valid IBAN"))
    if not seller.ovt:
        errors.append(FieldError("seller.eInvoiceAddress", "missing"))
    errors += [FieldError(field, why) for field, why in party_problems("seller", seller)]
    if errors:
        raise InvariantViolated("the seller's invoicing facts are incomplete", errors=errors)
    return seller


def checked_buyer(buyer: Party | None) -> Party:
    if buyer is None:
        raise Conflict("billing has not heard the buyer's invoicing facts yet")
    if not buyer.ovt:
        raise InvariantViolated(
            "the buyer has no e-invoice address", errors=[FieldError("buyer.eInvoiceAddress", "missing")]
        )
    # Facts stored before the read models sanitised their text (see ``apply_tenant_facts``): an
    # invoice is never issued with text its documents could not carry.
    if problems := party_problems("buyer", buyer):
        raise InvariantViolated(
            "the buyer's invoicing facts hold text no e-invoice can carry",
            errors=[FieldError(field, why) for field, why in problems],
        )
    return buyer


def breakdown_of(value: object) -> list[VatBreakdown]:
    """A stored VAT breakdown (JSON: rates as text) as value objects."""
    items = msgspec.convert(value, list[dict[str, str | int]], strict=False)
    return [
        VatBreakdown(
            rate=Decimal(str(b["rate"])), taxable_cents=int(b["taxable_cents"]), tax_cents=int(b["tax_cents"])
        )
        for b in items
    ]


def issue_header(
    draft: Draft, *, sequence: int, today: dt.date, seller: Party | None, buyer: Party | None
) -> DocumentHeader:
    """The header a draft is issued with: numbered from ``sequence``, dated ``today``, due after the
    order's payment terms (21 days when it has none). Refused when a party's facts are missing or
    invalid, or when the header would hold text no e-invoice can carry (e.g. a cost centre code
    stored before the read models sanitised text)."""
    seller = checked_seller(seller)
    buyer = checked_buyer(buyer)
    terms = draft.payment_terms_days or DEFAULT_PAYMENT_TERMS_DAYS
    reference = reference_for_invoice(sequence)
    cost_centre = draft.cost_centre_code or str(draft.cost_centre_id)
    single_order = draft.order_id or (draft.order_ids[0] if len(draft.order_ids) == 1 else None)
    header = DocumentHeader(
        kind="invoice",
        invoice_id=draft.invoice_id,
        number=invoice_number(sequence),
        issue_date=today,
        due_date=today + dt.timedelta(days=terms),
        payment_terms_days=terms,
        buyer_reference=cost_centre,
        accounting_cost=cost_centre,
        contract_reference=draft.agreement_number,
        # The buyer's order number people know; the id for orders heard before numbers existed.
        order_reference=(draft.order_number or str(single_order)) if single_order else None,
        period_start=draft.period_start,
        period_end=draft.period_end,
        seller=seller,
        buyer=buyer,
        payment_reference=reference,
        rf_reference=rf_reference(reference),
        breakdown=draft.breakdown,
        net_cents=draft.net_cents,
        vat_cents=draft.vat_cents,
        gross_cents=draft.gross_cents,
    )
    if problems := header_problems(header):
        raise InvariantViolated(
            "the invoice would hold text no e-invoice can carry",
            errors=[FieldError(field, why) for field, why in problems],
        )
    return header
