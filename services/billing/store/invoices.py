"""Invoices and credit notes: issuing, crediting, the specification and the document lines."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import asyncpg

from services.billing.domain.credits import CreditLine, InvoicedLine
from services.billing.domain.documents import DocumentLine
from services.billing.store.records import (
    Invoice,
    IssueFacts,
    SpecificationRow,
    invoice_of,
    issue_facts_of,
    specification_row_of,
)

__all__ = [
    "document_lines",
    "fetch_invoice",
    "insert_credit_lines",
    "insert_credit_note",
    "invoice_facts",
    "invoiced_lines",
    "issue",
    "list_invoices",
    "next_sequence",
    "specification",
]

# --- invoices ---


async def fetch_invoice(
    conn: asyncpg.Connection, invoice_id: uuid.UUID, *, for_update: bool = False
) -> Invoice | None:
    row = await conn.fetchrow(
        "select * from invoices where invoice_id = $1" + (" for update" if for_update else ""), invoice_id
    )
    return None if row is None else invoice_of(row)


async def next_sequence(conn: asyncpg.Connection, provider_id: uuid.UUID) -> int:
    """The seller's next invoice number. The counter row stays locked until the issuing
    transaction ends, so numbers are handed out in commit order and a rollback returns its number."""
    sequence: int = await conn.fetchval(
        """
        insert into invoice_counters (tenant_id, last_sequence) values ($1, 1)
        on conflict (tenant_id) do update set last_sequence = invoice_counters.last_sequence + 1
        returning last_sequence
        """,
        provider_id,
    )
    return sequence


async def invoice_facts(conn: asyncpg.Connection, invoice_id: uuid.UUID) -> IssueFacts:
    """What the header needs of an invoice's items and orders: period, orders, terms, references."""
    row = await conn.fetchrow(
        """
        select min(i.service_date) as period_start, max(i.service_date) as period_end,
               array_agg(distinct i.order_id) as order_ids,
               min(o.payment_terms_days) as payment_terms_days,
               min(o.agreement_number) as agreement_number,
               min(o.order_number) as order_number,
               min(c.code) as cost_centre_code
        from billable_items i
        left join billing_orders o on o.order_id = i.order_id
        left join billing_cost_centres c
          on c.tenant_id = i.buyer_tenant_id and c.cost_centre_id = i.cost_centre_id
        where i.invoice_id = $1
        """,
        invoice_id,
    )
    return issue_facts_of(row)


async def issue(
    conn: asyncpg.Connection,
    invoice_id: uuid.UUID,
    *,
    sequence: int,
    number: str,
    issue_date: dt.date,
    due_date: dt.date,
    payment_terms_days: int,
    payment_reference: str,
    rf_reference: str,
    header: object,
) -> Invoice:
    row = await conn.fetchrow(
        """
        update invoices set status = 'issued', sequence = $2, number = $3, issue_date = $4, due_date = $5,
          payment_terms_days = $6, payment_reference = $7, rf_reference = $8, header = $9::jsonb,
          issued_at = now(), version = version + 1
        where invoice_id = $1
        returning *
        """,
        invoice_id,
        sequence,
        number,
        issue_date,
        due_date,
        payment_terms_days,
        payment_reference,
        rf_reference,
        header,
    )
    return invoice_of(row)


async def insert_credit_note(
    conn: asyncpg.Connection,
    original: Invoice,
    credit_note_id: uuid.UUID,
    *,
    sequence: int,
    number: str,
    issue_date: dt.date,
    payment_reference: str,
    rf_reference: str,
    net_cents: int,
    vat_cents: int,
    breakdown: object,
    item_count: int,
    header: object,
) -> Invoice:
    row = await conn.fetchrow(
        """
        insert into invoices (tenant_id, buyer_tenant_id, invoice_id, kind, status, agreement_id,
          cost_centre_id, order_id, billing_month, sequence, number, issue_date, due_date, payment_terms_days,
          payment_reference, rf_reference, net_cents, vat_cents, gross_cents, breakdown, item_count, header,
          credited_invoice_id, issued_at)
        select tenant_id, buyer_tenant_id, $2, 'credit_note', 'issued', agreement_id, cost_centre_id,
          order_id, billing_month, $3, $4, $5, $5, 0, $6, $7, $8::bigint, $9::bigint, $8::bigint + $9::bigint,
          $10::jsonb, $11,
          $12::jsonb, invoice_id, now()
        from invoices where invoice_id = $1
        returning *
        """,
        original.invoice_id,
        credit_note_id,
        sequence,
        number,
        issue_date,
        payment_reference,
        rf_reference,
        net_cents,
        vat_cents,
        breakdown,
        item_count,
        header,
    )
    return invoice_of(row)


async def invoiced_lines(conn: asyncpg.Connection, invoice_id: uuid.UUID) -> list[InvoicedLine]:
    """The lines of an issued invoice, each with whether a credit note already credits it."""
    rows = await conn.fetch(
        """
        select i.item_id, i.session_id, i.quantity, i.unit_code, i.base_quantity, i.unit_price,
               i.net_cents, i.vat_rate, (c.item_id is not null) as credited
        from billable_items i
        left join credit_note_lines c on c.item_id = i.item_id
        where i.invoice_id = $1
        order by i.service_date, i.item_id
        """,
        invoice_id,
    )
    return [
        InvoicedLine(
            item_id=r["item_id"],
            session_id=r["session_id"],
            quantity=Decimal(r["quantity"]),
            unit_code=r["unit_code"],
            base_quantity=Decimal(r["base_quantity"]),
            unit_price=Decimal(r["unit_price"]),
            net_cents=r["net_cents"],
            vat_rate=Decimal(r["vat_rate"]),
            credited=r["credited"],
        )
        for r in rows
    ]


async def insert_credit_lines(
    conn: asyncpg.Connection, original: Invoice, credit_note_id: uuid.UUID, lines: list[CreditLine]
) -> None:
    """The credit note's lines; a line another credit note took meanwhile fails on unique(item_id)."""
    await conn.execute(
        """
        insert into credit_note_lines (tenant_id, buyer_tenant_id, credit_note_id, credited_invoice_id,
          item_id, correction, quantity, unit_price, net_cents)
        select $1, $2, $3, $4, l.item_id, l.correction, l.quantity, l.unit_price, l.net_cents
        from unnest($5::uuid[], $6::text[], $7::numeric[], $8::numeric[], $9::bigint[])
          as l(item_id, correction, quantity, unit_price, net_cents)
        """,
        original.tenant_id,
        original.buyer_tenant_id,
        credit_note_id,
        original.invoice_id,
        [line.item_id for line in lines],
        [line.correction for line in lines],
        [line.quantity for line in lines],
        [line.unit_price for line in lines],
        [line.net_cents for line in lines],
    )


async def list_invoices(
    conn: asyncpg.Connection,
    *,
    seller_id: uuid.UUID | None,
    buyer_id: uuid.UUID | None,
    cost_centres: list[uuid.UUID] | None,
    after: uuid.UUID | None,
    limit: int,
) -> list[Invoice]:
    rows = await conn.fetch(
        """
        select * from invoices
        where ($1::uuid is null or tenant_id = $1)
          and ($2::uuid is null or (buyer_tenant_id = $2 and status = 'issued'))
          and ($3::uuid[] is null or cost_centre_id = any($3))
          and ($4::uuid is null or invoice_id > $4)
        order by invoice_id
        limit $5
        """,
        seller_id,
        buyer_id,
        cost_centres,
        after,
        limit,
    )
    return [invoice_of(row) for row in rows]


async def specification(
    conn: asyncpg.Connection, invoice_id: uuid.UUID, *, credit_note: bool = False
) -> list[SpecificationRow]:
    """The billed sessions of an invoice, or the credited ones of a credit note (with the credited
    amount). Only items that are billed appear: a session that is not charged has no row."""
    if credit_note:
        rows = await conn.fetch(
            """
            select i.session_id, i.order_id, i.service_date, i.starts_at, i.form, i.mode,
                   i.duration_minutes, i.kind, i.charge_percent, i.participant_count, i.attended_count,
                   c.net_cents, i.vat_rate
            from credit_note_lines c join billable_items i on i.item_id = c.item_id
            where c.credit_note_id = $1
            order by i.service_date, i.item_id
            """,
            invoice_id,
        )
        return [specification_row_of(row) for row in rows]
    rows = await conn.fetch(
        """
        select session_id, order_id, service_date, starts_at, form, mode, duration_minutes, kind,
               charge_percent, participant_count, attended_count, net_cents, vat_rate
        from billable_items where invoice_id = $1
        order by service_date, item_id
        """,
        invoice_id,
    )
    return [specification_row_of(row) for row in rows]


def _line(number: int, row: asyncpg.Record, accounting_cost: str) -> DocumentLine:
    return DocumentLine(
        line_id=str(number),
        session_id=row["session_id"],
        order_id=row["order_id"],
        kind=row["kind"],
        form=row["form"],
        mode=row["mode"],
        duration_minutes=row["duration_minutes"],
        service_date=row["service_date"],
        quantity=Decimal(row["quantity"]),
        unit_code=row["unit_code"],
        base_quantity=Decimal(row["base_quantity"]),
        unit_price=Decimal(row["unit_price"]),
        net_cents=row["net_cents"],
        vat_rate=Decimal(row["vat_rate"]),
        charge_percent=row["charge_percent"],
        accounting_cost=accounting_cost,
    )


async def document_lines(
    conn: asyncpg.Connection,
    invoice_id: uuid.UUID,
    accounting_cost: str,
    *,
    credit_note: bool = False,
    prefetch: int = 500,
) -> AsyncIterator[DocumentLine]:
    """The lines of an invoice — or of a credit note: its credit lines over the credited items —
    from a server-side cursor (the caller holds the transaction)."""
    number = 0
    query = (
        """
        select i.session_id, i.order_id, i.kind, i.form, i.mode, i.duration_minutes, i.service_date,
               c.quantity, i.unit_code, i.base_quantity, c.unit_price, c.net_cents, i.vat_rate,
               i.charge_percent
        from credit_note_lines c join billable_items i on i.item_id = c.item_id
        where c.credit_note_id = $1 order by i.service_date, i.item_id
        """
        if credit_note
        else """
        select session_id, order_id, kind, form, mode, duration_minutes, service_date, quantity, unit_code,
               base_quantity, unit_price, net_cents, vat_rate, charge_percent
        from billable_items where invoice_id = $1 order by service_date, item_id
        """
    )
    async for row in conn.cursor(query, invoice_id, prefetch=prefetch):
        number += 1
        yield _line(number, row, accounting_cost)
