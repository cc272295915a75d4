"""Events published by the billing service: ids, totals and references of issued documents.

No rows, no participants, no content. They go to the seller (provider) and the buyer.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import ClassVar

from shared.contracts import Event, register

__all__ = ["CreditNoteIssued", "InvoiceFacts", "InvoiceIssued"]


class InvoiceFacts(Event, frozen=True, kw_only=True):
    """An issued invoice or credit note (not an event itself). Amounts in euro cents; a credit
    note's amounts are negative."""

    invoice_id: uuid.UUID
    provider_id: uuid.UUID
    buyer_id: uuid.UUID
    number: str
    """Gapless per provider."""
    issue_date: dt.date
    due_date: dt.date
    currency: str = "EUR"
    net_cents: int
    vat_cents: int
    gross_cents: int
    payment_reference: str
    """Finnish reference number (7-3-1); the RF form is in the documents."""
    agreement_id: uuid.UUID | None = None
    cost_centre_id: uuid.UUID | None = None
    order_ids: list[uuid.UUID] = []
    billing_month: str
    """``YYYY-MM`` in Europe/Helsinki."""


@register
class InvoiceIssued(InvoiceFacts, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "billing.invoice.issued.v1"
    aggregate: ClassVar[str] = "invoice"


@register
class CreditNoteIssued(InvoiceFacts, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "billing.credit_note.issued.v1"
    aggregate: ClassVar[str] = "invoice"

    credited_invoice_id: uuid.UUID
    credited_invoice_number: str
