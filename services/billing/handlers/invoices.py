"""Invoices for a provider (the seller) inside its own tenant scope: who sees which invoice, the
invoice run, issuing, and the documents (docs/architecture.md §4: a run that crosses tenants runs per
tenant). Each write is one transaction and its event goes to the outbox in it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Literal, Protocol

import asyncpg
import msgspec

from services.billing import SERVICE, store
from services.billing.domain.documents import DocumentHeader, DocumentLine, UblWriter, header_problems
from services.billing.domain.finvoice import FinvoiceWriter, finvoice_problems
from services.billing.domain.issuing import Draft, breakdown_of, check_issuable, issue_header
from services.billing.handlers.common import invoice_issued, seller_of, today
from services.billing.store import Invoice, SpecificationRow
from shared import approvers
from shared.auth.principal import APPROVER, BUYER_ADMIN, PROVIDER_ADMIN, Principal
from shared.db.tenant import tenant_transaction
from shared.errors import Conflict, FieldError, Forbidden, InvariantViolated, NotFound, check_version
from shared.events import add_to_outbox, envelope_for
from shared.ids import new_id

__all__ = [
    "DocumentFormat",
    "document_chunks",
    "get_invoice",
    "get_specification",
    "issue_invoice",
    "list_invoices",
    "open_document",
    "run_invoices",
    "visible_invoice",
]

DocumentFormat = Literal["ubl", "finvoice"]
_CHUNK = 64 * 1024
_FORMAT_NAMES = {"ubl": "a Peppol BIS 3.0 UBL document", "finvoice": "Finvoice 3.0"}


# --- who sees which invoice ---


class _Viewer(msgspec.Struct, frozen=True):
    seller_id: uuid.UUID | None = None
    buyer_id: uuid.UUID | None = None
    cost_centres: list[uuid.UUID] | None = None


def _person(principal: Principal) -> uuid.UUID:
    try:
        return uuid.UUID(principal.subject)
    except ValueError:
        raise Forbidden("only a person may act on invoices") from None


async def _viewer(conn: asyncpg.Connection, principal: Principal) -> _Viewer:
    tenant = principal.tenant_id
    if principal.has_role(PROVIDER_ADMIN):
        return _Viewer(seller_id=tenant)
    if principal.has_role(BUYER_ADMIN):
        return _Viewer(buyer_id=tenant)
    if principal.has_role(APPROVER):
        return _Viewer(
            buyer_id=tenant,
            cost_centres=sorted(await approvers.assigned_cost_centres(conn, tenant, _person(principal))),
        )
    raise Forbidden("invoices are for provider admins, buyer admins and the cost centre's approvers")


def _sees(viewer: _Viewer, row: Invoice) -> bool:
    if viewer.seller_id is not None:
        return row.tenant_id == viewer.seller_id
    if row.buyer_tenant_id != viewer.buyer_id or row.status != "issued":
        return False
    return viewer.cost_centres is None or row.cost_centre_id in viewer.cost_centres


async def visible_invoice(conn: asyncpg.Connection, principal: Principal, invoice_id: uuid.UUID) -> Invoice:
    viewer = await _viewer(conn, principal)
    row = await store.fetch_invoice(conn, invoice_id)
    if row is None or not _sees(viewer, row):
        raise NotFound("no such invoice")
    return row


async def list_invoices(
    pool: asyncpg.Pool, principal: Principal, *, after: uuid.UUID | None, limit: int
) -> list[Invoice]:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        viewer = await _viewer(conn, principal)
        return await store.list_invoices(
            conn,
            seller_id=viewer.seller_id,
            buyer_id=viewer.buyer_id,
            cost_centres=viewer.cost_centres,
            after=after,
            limit=limit,
        )


async def get_invoice(pool: asyncpg.Pool, principal: Principal, invoice_id: uuid.UUID) -> Invoice:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        return await visible_invoice(conn, principal, invoice_id)


async def get_specification(
    pool: asyncpg.Pool, principal: Principal, invoice_id: uuid.UUID
) -> tuple[Invoice, list[SpecificationRow]]:
    """The sessions an invoice charges (a credit note: credits) with their attendance counts, never
    who attended.

    What the employer may infer from billing: which sessions it pays for and why — held, no-show,
    or a late cancellation at the agreement's percent — since a buyer must be able to check every
    invoiced row against its orders. Nothing about a session that is not charged: only billed items
    are listed, and billing keeps no trace of an uncharged session (no item, no row, nothing in
    its events). So a late cancellation the terms exempt (illness) reads, in everything billing
    answers or emits, exactly as an on-time cancellation or one by the supervisor: absent.
    (Billing never hears the reason category; ``charge_exempt`` decides the charge and is dropped.)
    What another service shows the buyer about a cancellation's category is that service's to keep
    from singling out an exempt one."""
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        row = await visible_invoice(conn, principal, invoice_id)
        return row, await store.specification(conn, invoice_id, credit_note=row.kind == "credit_note")


# --- the invoice run ---


async def run_invoices(pool: asyncpg.Pool, principal: Principal, month: dt.date | None) -> list[Invoice]:
    """Gather the provider's unbilled items into drafts, set-based; answer the drafts."""
    provider = seller_of(principal)
    if month is not None and month.day != 1:
        raise InvariantViolated(
            "a billing month starts on its first day", errors=[FieldError("body.month", "use YYYY-MM-01")]
        )
    async with tenant_transaction(pool, provider) as conn:
        await store.lock_provider_run(conn, provider)
        await store.prefer_hash_joins(conn)
        await store.create_drafts(conn, provider, month)
        await store.assign_unbilled_items(conn, provider, month)
        await store.recompute_drafts(conn, provider)
        return await store.list_drafts(conn, provider, month)


async def issue_invoice(
    pool: asyncpg.Pool, principal: Principal, invoice_id: uuid.UUID, *, expected_version: int | None
) -> Invoice:
    """Number, date and freeze a draft; the number is taken from the seller's locked counter row,
    so it is gapless whatever runs or issues happen at the same time."""
    provider = seller_of(principal)
    async with tenant_transaction(pool, provider) as conn:
        row = await store.fetch_invoice(conn, invoice_id, for_update=True)
        if row is None or row.tenant_id != provider:
            raise NotFound("no such invoice")
        check_version(row.version, expected_version, what="invoice")
        check_issuable(row.status, row.item_count)
        seller = await store.fetch_party(conn, provider)
        buyer = await store.fetch_party(conn, row.buyer_tenant_id)
        facts = await store.invoice_facts(conn, invoice_id)
        if facts.period_start is None or facts.period_end is None:
            raise Conflict("the draft has no items")
        draft = Draft(
            invoice_id=invoice_id,
            cost_centre_id=row.cost_centre_id,
            order_id=row.order_id,
            order_ids=facts.order_ids,
            breakdown=breakdown_of(row.breakdown),
            net_cents=row.net_cents,
            vat_cents=row.vat_cents,
            gross_cents=row.gross_cents,
            period_start=facts.period_start,
            period_end=facts.period_end,
            payment_terms_days=facts.payment_terms_days,
            agreement_number=facts.agreement_number,
            order_number=facts.order_number,
            cost_centre_code=facts.cost_centre_code,
        )
        sequence = await store.next_sequence(conn, provider)
        header = issue_header(draft, sequence=sequence, today=today(), seller=seller, buyer=buyer)
        issued = await store.issue(
            conn,
            invoice_id,
            sequence=sequence,
            number=header.number,
            issue_date=header.issue_date,
            due_date=header.due_date,
            payment_terms_days=header.payment_terms_days,
            payment_reference=header.payment_reference,
            rf_reference=header.rf_reference,
            header=msgspec.to_builtins(header),
        )
        await add_to_outbox(
            conn,
            SERVICE,
            envelope_for(
                invoice_issued(issued, facts.order_ids),
                source=SERVICE,
                subject=invoice_id,
                version=issued.version,
                tenant_ids=[provider, issued.buyer_tenant_id],
            ),
        )
        return issued


# --- documents ---


async def open_document(
    pool: asyncpg.Pool,
    principal: Principal,
    invoice_id: uuid.UUID,
    document_format: DocumentFormat = "ubl",
) -> tuple[DocumentHeader, uuid.UUID]:
    """The header of an issued document the caller may see, and its id (whose lines it streams).

    Everything that could stop the writer is checked here, before the response starts: a header
    text that XML 1.0 cannot carry, or (Finvoice) a fact the schema's lengths refuse, is a 422
    naming the field — never a 200 whose stream breaks off."""
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        row = await visible_invoice(conn, principal, invoice_id)
        if row.status != "issued":
            raise Conflict("a draft has no document yet; issue it first")
        header = msgspec.convert(row.header, DocumentHeader, strict=False)
    problems = header_problems(header)
    if document_format == "finvoice":
        problems += finvoice_problems(header)
    if problems:
        raise InvariantViolated(
            f"this document cannot be written as {_FORMAT_NAMES[document_format]}",
            errors=[FieldError(field, why) for field, why in problems],
        )
    return header, row.invoice_id


class _Writer(Protocol):
    def open(self) -> bytes: ...
    def add(self, line: DocumentLine) -> bytes: ...
    def close(self) -> bytes: ...


def _writer(header: DocumentHeader, document_format: DocumentFormat) -> _Writer:
    if document_format == "finvoice":
        return FinvoiceWriter(header, message_id=str(new_id()), timestamp=dt.datetime.now(dt.UTC))
    return UblWriter(header)


async def document_chunks(
    pool: asyncpg.Pool,
    tenant_id: uuid.UUID,
    header: DocumentHeader,
    lines_of: uuid.UUID,
    document_format: DocumentFormat = "ubl",
) -> AsyncIterator[bytes]:
    """The document (Peppol BIS 3.0 UBL or Finvoice 3.0), streamed: lines come from a cursor and
    leave in chunks of about 64 KiB."""
    writer = _writer(header, document_format)
    pending = [writer.open()]
    size = len(pending[0])
    async with tenant_transaction(pool, tenant_id) as conn:
        lines = store.document_lines(
            conn, lines_of, header.accounting_cost, credit_note=header.kind == "credit_note"
        )
        async for line in lines:
            chunk = writer.add(line)
            pending.append(chunk)
            size += len(chunk)
            if size >= _CHUNK:
                yield b"".join(pending)
                pending, size = [], 0
    pending.append(writer.close())
    yield b"".join(pending)
