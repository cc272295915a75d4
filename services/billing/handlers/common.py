"""What billing's use cases share: who may act as the seller, today's date, the typed events."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TypedDict

from services.billing.domain.items import HELSINKI
from services.billing.store import Invoice
from shared.auth.principal import PROVIDER_ADMIN, Principal
from shared.contracts.billing import CreditNoteIssued, InvoiceIssued
from shared.errors import Forbidden

__all__ = ["credit_note_issued", "invoice_issued", "seller_of", "today"]


def seller_of(principal: Principal) -> uuid.UUID:
    if not principal.has_role(PROVIDER_ADMIN):
        raise Forbidden("a provider admin runs, issues and credits the provider's invoices")
    return principal.tenant_id


def today() -> dt.date:
    return dt.datetime.now(HELSINKI).date()


class _InvoiceFactsArgs(TypedDict):
    """The typed arguments both billing events take (``shared.contracts.billing.InvoiceFacts``)."""

    invoice_id: uuid.UUID
    provider_id: uuid.UUID
    buyer_id: uuid.UUID
    number: str
    issue_date: dt.date
    due_date: dt.date
    net_cents: int
    vat_cents: int
    gross_cents: int
    payment_reference: str
    agreement_id: uuid.UUID | None
    cost_centre_id: uuid.UUID | None
    order_ids: list[uuid.UUID]
    billing_month: str


def _facts(issued: Invoice, order_ids: list[uuid.UUID], sign: int) -> _InvoiceFactsArgs:
    number, issue_date, due_date = issued.number, issued.issue_date, issued.due_date
    payment_reference = issued.payment_reference
    if number is None or issue_date is None or due_date is None or payment_reference is None:
        raise ValueError("only an issued invoice or credit note is announced")
    return _InvoiceFactsArgs(
        invoice_id=issued.invoice_id,
        provider_id=issued.tenant_id,
        buyer_id=issued.buyer_tenant_id,
        number=number,
        issue_date=issue_date,
        due_date=due_date,
        net_cents=sign * issued.net_cents,
        vat_cents=sign * issued.vat_cents,
        gross_cents=sign * issued.gross_cents,
        payment_reference=payment_reference,
        agreement_id=issued.agreement_id,
        cost_centre_id=issued.cost_centre_id,
        order_ids=sorted(order_ids),
        billing_month=issued.billing_month.strftime("%Y-%m"),
    )


def invoice_issued(issued: Invoice, order_ids: list[uuid.UUID]) -> InvoiceIssued:
    return InvoiceIssued(**_facts(issued, order_ids, 1))


def credit_note_issued(
    note: Invoice, order_ids: list[uuid.UUID], *, credited_invoice_id: uuid.UUID, credited_number: str
) -> CreditNoteIssued:
    """A credit note's amounts are negative."""
    return CreditNoteIssued(
        **_facts(note, order_ids, -1),
        credited_invoice_id=credited_invoice_id,
        credited_invoice_number=credited_number,
    )
