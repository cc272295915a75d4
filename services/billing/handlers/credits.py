"""Crediting an issued invoice (``domain.credits`` decides what may be credited and by how much).
One transaction; the credit note's event goes to the outbox in it."""

from __future__ import annotations

import uuid

import asyncpg
import msgspec

from services.billing import SERVICE, store
from services.billing.domain.credits import CreditRequestLine, credit_lines, credit_note_header
from services.billing.domain.documents import DocumentHeader
from services.billing.handlers.common import credit_note_issued, seller_of, today
from services.billing.store import Invoice
from shared.auth.principal import Principal
from shared.db.tenant import tenant_transaction
from shared.errors import Conflict, NotFound
from shared.events import add_to_outbox, envelope_for
from shared.http.idempotency import idempotent_request, remember, replay
from shared.ids import new_id

__all__ = ["credit_invoice"]


async def credit_invoice(
    pool: asyncpg.Pool,
    principal: Principal,
    invoice_id: uuid.UUID,
    lines: list[CreditRequestLine] | None = None,
    *,
    rebill: bool = True,
    idempotency_key: str | None = None,
    body_hash: str = "",
) -> Invoice:
    """A credit note for lines of an issued invoice (all its uncredited lines when ``lines`` is
    None), numbered from the same counter; see ``domain.credits`` for what may be credited. Lines
    credited in whole return to billable (unless ``rebill`` is false), so the next run bills them on
    a new invoice. A retry with the same Idempotency-Key and body answers the same credit note."""
    provider = seller_of(principal)
    request = idempotent_request(principal, idempotency_key, body_hash)
    async with tenant_transaction(pool, provider) as conn:
        # The row lock serialises credits of one invoice: a line is checked and credited at once.
        original = await store.fetch_invoice(conn, invoice_id, for_update=True)
        if original is None or original.tenant_id != provider:
            raise NotFound("no such invoice")
        # After the lock: a concurrent retry waits here, then finds the first one's credit note.
        if (made_id := await replay(conn, request, uuid.UUID)) is not None:
            made = await store.fetch_invoice(conn, made_id)
            assert made is not None
            return made
        if original.kind != "invoice" or original.status != "issued":
            raise Conflict("only an issued invoice can be credited")
        credits = credit_lines(await store.invoiced_lines(conn, invoice_id), lines)
        if original.header is None:
            raise Conflict("only an issued invoice can be credited")
        was = msgspec.convert(original.header, DocumentHeader, strict=False)
        sequence = await store.next_sequence(conn, provider)
        credit_id = new_id()
        header = credit_note_header(was, credits, credit_id=credit_id, sequence=sequence, today=today())
        note = await store.insert_credit_note(
            conn,
            original,
            credit_id,
            sequence=sequence,
            number=header.number,
            issue_date=header.issue_date,
            payment_reference=header.payment_reference,
            rf_reference=header.rf_reference,
            net_cents=header.net_cents,
            vat_cents=header.vat_cents,
            breakdown=[
                {"rate": str(b.rate), "taxable_cents": b.taxable_cents, "tax_cents": b.tax_cents}
                for b in header.breakdown
            ],
            item_count=len(credits),
            header=msgspec.to_builtins(header),
        )
        try:
            await store.insert_credit_lines(conn, original, credit_id, credits)
        except asyncpg.UniqueViolationError:
            raise Conflict("a line is credited at most once") from None
        if rebill:
            await store.rebill_items(conn, [c.item_id for c in credits if c.correction == "full"])
        await remember(conn, request, credit_id)
        order_ids = (await store.invoice_facts(conn, invoice_id)).order_ids
        event = credit_note_issued(
            note, order_ids, credited_invoice_id=invoice_id, credited_number=was.number
        )
        await add_to_outbox(
            conn,
            SERVICE,
            envelope_for(
                event,
                source=SERVICE,
                subject=credit_id,
                version=note.version,
                tenant_ids=[provider, note.buyer_tenant_id],
            ),
        )
        return note
