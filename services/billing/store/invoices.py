"""The billing service's SQL: one function per query, parameterised, rows in and out."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import asyncpg

from services.billing.domain.credits import CreditLine, InvoicedLine
from services.billing.domain.documents import DocumentLine, Party
from services.billing.domain.items import BillableItem
from shared.contracts.organisations import TenantFacts
from shared.ids import new_id

__all__ = [
    "assign_unbilled_items",
    "create_drafts",
    "document_lines",
    "fetch_invoice",
    "fetch_party",
    "insert_billable_item",
    "insert_credit_lines",
    "insert_credit_note",
    "invoice_facts",
    "invoiced_lines",
    "issue",
    "lock_provider_run",
    "next_sequence",
    "prefer_hash_joins",
    "rebill_items",
    "recompute_drafts",
    "upsert_buyer_invoicing",
    "upsert_cost_centre",
    "upsert_order",
    "upsert_party",
]


# --- read models ---


async def upsert_party(conn: asyncpg.Connection, facts: TenantFacts, version: int) -> None:
    address, e_invoice = facts.postal_address, facts.e_invoice_address
    await conn.execute(
        """
        insert into billing_parties (tenant_id, name, kind, business_id, vat_id, street, postcode, city,
          country, e_invoice_scheme, e_invoice_address, e_invoice_operator, iban, bic, version)
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
        on conflict (tenant_id) do update set
          name = excluded.name, kind = excluded.kind, business_id = excluded.business_id,
          vat_id = excluded.vat_id, street = excluded.street, postcode = excluded.postcode,
          city = excluded.city, country = excluded.country, e_invoice_scheme = excluded.e_invoice_scheme,
          e_invoice_address = excluded.e_invoice_address, e_invoice_operator = excluded.e_invoice_operator,
          iban = excluded.iban, bic = excluded.bic, version = excluded.version, updated_at = now()
        where billing_parties.version < excluded.version
        """,
        facts.tenant_id,
        facts.name,
        facts.kind,
        facts.business_id,
        facts.vat_id,
        address.street if address else None,
        address.postcode if address else None,
        address.city if address else None,
        address.country if address else None,
        e_invoice.scheme if e_invoice else None,
        e_invoice.address if e_invoice else None,
        e_invoice.operator_id if e_invoice else None,
        facts.iban,
        facts.bic,
        version,
    )


async def upsert_cost_centre(
    conn: asyncpg.Connection,
    tenant_id: uuid.UUID,
    cost_centre_id: uuid.UUID,
    code: str,
    name: str,
    version: int,
) -> None:
    await conn.execute(
        """
        insert into billing_cost_centres (tenant_id, cost_centre_id, code, name, version)
        values ($1, $2, $3, $4, $5)
        on conflict (tenant_id, cost_centre_id) do update
          set code = excluded.code, name = excluded.name, version = excluded.version
          where billing_cost_centres.version < excluded.version
        """,
        tenant_id,
        cost_centre_id,
        code,
        name,
        version,
    )


async def upsert_order(
    conn: asyncpg.Connection,
    *,
    order_id: uuid.UUID,
    provider_id: uuid.UUID,
    buyer_id: uuid.UUID,
    agreement_id: uuid.UUID,
    agreement_number: str | None,
    cost_centre_id: uuid.UUID,
    payment_terms_days: int | None,
    status: str,
    version: int,
    order_number: str | None = None,
) -> None:
    await conn.execute(
        """
        insert into billing_orders (tenant_id, buyer_tenant_id, order_id, agreement_id, agreement_number,
          cost_centre_id, payment_terms_days, status, version, order_number)
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        on conflict (order_id) do update set
          tenant_id = excluded.tenant_id, agreement_number = excluded.agreement_number,
          payment_terms_days = excluded.payment_terms_days, status = excluded.status,
          order_number = coalesce(excluded.order_number, billing_orders.order_number),
          version = excluded.version, updated_at = now()
        where billing_orders.version < excluded.version
          and billing_orders.buyer_tenant_id = excluded.buyer_tenant_id
        """,
        provider_id,
        buyer_id,
        order_id,
        agreement_id,
        agreement_number,
        cost_centre_id,
        payment_terms_days,
        status,
        version,
        order_number,
    )


async def upsert_buyer_invoicing(conn: asyncpg.Connection, buyer_id: uuid.UUID, *, per_order: bool) -> int:
    version: int = await conn.fetchval(
        """
        insert into buyer_invoicing (tenant_id, per_order) values ($1, $2)
        on conflict (tenant_id) do update
          set per_order = excluded.per_order, version = buyer_invoicing.version + 1, updated_at = now()
        returning version
        """,
        buyer_id,
        per_order,
    )
    return version


async def fetch_party(conn: asyncpg.Connection, tenant_id: uuid.UUID) -> Party | None:
    row = await conn.fetchrow("select * from billing_parties where tenant_id = $1", tenant_id)
    if row is None:
        return None
    return Party(
        name=row["name"],
        business_id=row["business_id"],
        vat_id=row["vat_id"],
        street=row["street"],
        postcode=row["postcode"],
        city=row["city"],
        country=row["country"] or "FI",
        e_invoice_scheme=row["e_invoice_scheme"],
        e_invoice_address=row["e_invoice_address"],
        e_invoice_operator=row["e_invoice_operator"],
        iban=row["iban"],
        bic=row["bic"],
    )


# --- billable items ---


async def insert_billable_item(conn: asyncpg.Connection, item_id: uuid.UUID, item: BillableItem) -> bool:
    """Insert the item of a session; False when the session already has one (a redelivery)."""
    inserted = await conn.fetchval(
        """
        insert into billable_items (tenant_id, buyer_tenant_id, item_id, session_id, order_id, agreement_id,
          cost_centre_id, kind, form, mode, starts_at, service_date, billing_month, duration_minutes, unit,
          quantity, unit_code, base_quantity, list_price_cents, charge_percent, unit_price, net_cents,
          vat_rate, participant_count, attended_count)
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
          $21, $22, $23, $24, $25)
        on conflict (session_id, generation) do nothing
        returning true
        """,
        item.provider_id,
        item.buyer_id,
        item_id,
        item.session_id,
        item.order_id,
        item.agreement_id,
        item.cost_centre_id,
        item.kind,
        item.form,
        item.mode,
        item.starts_at,
        item.service_date,
        item.billing_month,
        item.duration_minutes,
        item.unit,
        item.quantity.value,
        item.quantity.unit_code,
        item.quantity.base,
        item.list_price_cents,
        item.charge_percent,
        item.unit_price,
        item.net_cents,
        item.vat_rate,
        item.participant_count,
        item.attended_count,
    )
    return bool(inserted)


# --- the invoice run (set-based) ---


async def lock_provider_run(conn: asyncpg.Connection, provider_id: uuid.UUID) -> None:
    """One run at a time per provider (transaction-scoped advisory lock)."""
    await conn.execute(
        "select pg_advisory_xact_lock(hashtextextended('billing-run:' || $1::text, 0))", str(provider_id)
    )


async def prefer_hash_joins(conn: asyncpg.Connection) -> None:
    """For this transaction only: no nested loops. Items inserted since the last autovacuum have
    no statistics (and the app role may not ANALYZE), so the planner takes a million fresh items
    for one row and would probe drafts once per item; hash joins keep the run linear."""
    await conn.execute("set local enable_nestloop = off")


async def create_drafts(conn: asyncpg.Connection, provider_id: uuid.UUID, month: dt.date | None) -> int:
    """A draft for every grouping key of unbilled items that has none yet.

    The groups are few (buyers × agreements × cost centres, or orders, in a month) however many
    items there are: they are read first, so each draft gets a UUIDv7 from ``shared.ids``."""
    groups = await conn.fetch(
        """
        select distinct i.buyer_tenant_id, i.agreement_id, i.cost_centre_id, i.billing_month,
               case when coalesce(b.per_order, false) then i.order_id end as group_order
        from billable_items i
        left join buyer_invoicing b on b.tenant_id = i.buyer_tenant_id
        where i.tenant_id = $1 and i.invoice_id is null and ($2::date is null or i.billing_month = $2)
        """,
        provider_id,
        month,
    )
    if not groups:
        return 0
    status: str = await conn.execute(
        """
        insert into invoices (tenant_id, buyer_tenant_id, invoice_id, kind, status, agreement_id,
          cost_centre_id, order_id, billing_month)
        select $1, g.buyer_tenant_id, g.invoice_id, 'invoice', 'draft', g.agreement_id,
               g.cost_centre_id, g.group_order, g.billing_month
        from unnest($2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::date[], $7::uuid[])
          as g(invoice_id, buyer_tenant_id, agreement_id, cost_centre_id, billing_month, group_order)
        on conflict (tenant_id, buyer_tenant_id, agreement_id, cost_centre_id, billing_month,
                     coalesce(order_id, '00000000-0000-0000-0000-000000000000'::uuid))
          where status = 'draft' and kind = 'invoice'
        do nothing
        """,
        provider_id,
        [new_id() for _ in groups],
        [g["buyer_tenant_id"] for g in groups],
        [g["agreement_id"] for g in groups],
        [g["cost_centre_id"] for g in groups],
        [g["billing_month"] for g in groups],
        [g["group_order"] for g in groups],
    )
    return int(status.split()[-1])


async def assign_unbilled_items(
    conn: asyncpg.Connection, provider_id: uuid.UUID, month: dt.date | None
) -> int:
    """Each unbilled item onto its group's draft. The join names the drafts' unique index
    expression, so every item is one index probe whatever the planner thinks of fresh rows."""
    status: str = await conn.execute(
        """
        with keyed as (
          select i.item_id, i.buyer_tenant_id, i.agreement_id, i.cost_centre_id, i.billing_month,
                 coalesce(case when coalesce(b.per_order, false) then i.order_id end,
                          '00000000-0000-0000-0000-000000000000'::uuid) as group_order
          from billable_items i
          left join buyer_invoicing b on b.tenant_id = i.buyer_tenant_id
          where i.tenant_id = $1 and i.invoice_id is null and ($2::date is null or i.billing_month = $2)
        ), target as (
          select k.item_id, d.invoice_id
          from keyed k
          join invoices d
            on d.tenant_id = $1 and d.status = 'draft' and d.kind = 'invoice'
           and d.buyer_tenant_id = k.buyer_tenant_id and d.agreement_id = k.agreement_id
           and d.cost_centre_id = k.cost_centre_id and d.billing_month = k.billing_month
           and coalesce(d.order_id, '00000000-0000-0000-0000-000000000000'::uuid) = k.group_order
        )
        update billable_items i set invoice_id = t.invoice_id
        from target t
        where i.item_id = t.item_id and i.invoice_id is null
        """,
        provider_id,
        month,
    )
    return int(status.split()[-1])


async def recompute_drafts(conn: asyncpg.Connection, provider_id: uuid.UUID) -> None:
    """Totals of every draft of the provider: VAT per rate, rounded once per rate (BR-CO-17)."""
    await conn.execute(
        """
        with per_rate as (
          select i.invoice_id, i.vat_rate, sum(i.net_cents) as taxable, count(*) as n
          from billable_items i
          join invoices d on d.invoice_id = i.invoice_id
          where d.tenant_id = $1 and d.status = 'draft'
          group by i.invoice_id, i.vat_rate
        ), per_invoice as (
          select invoice_id, sum(taxable)::bigint as net, sum(round(taxable * vat_rate / 100))::bigint as vat,
                 sum(n)::int as n,
                 jsonb_agg(jsonb_build_object('rate', vat_rate::text, 'taxable_cents', taxable,
                                              'tax_cents', round(taxable * vat_rate / 100))
                           order by vat_rate) as breakdown
          from per_rate group by invoice_id
        )
        update invoices d
        set net_cents = p.net, vat_cents = p.vat, gross_cents = p.net + p.vat, breakdown = p.breakdown,
            item_count = p.n, version = d.version + 1
        from per_invoice p
        where d.invoice_id = p.invoice_id and d.item_count <> p.n
        """,
        provider_id,
    )


async def list_drafts(
    conn: asyncpg.Connection, provider_id: uuid.UUID, month: dt.date | None
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        select * from invoices
        where tenant_id = $1 and status = 'draft' and ($2::date is null or billing_month = $2)
        order by billing_month, invoice_id
        """,
        provider_id,
        month,
    )
    return rows


# --- invoices ---


async def fetch_invoice(
    conn: asyncpg.Connection, invoice_id: uuid.UUID, *, for_update: bool = False
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "select * from invoices where invoice_id = $1" + (" for update" if for_update else ""), invoice_id
    )
    return row


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


async def invoice_facts(conn: asyncpg.Connection, invoice_id: uuid.UUID) -> asyncpg.Record:
    """What the header needs of an invoice's items and orders: period, orders, terms, references."""
    row: asyncpg.Record = await conn.fetchrow(
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
    return row


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
) -> asyncpg.Record:
    row: asyncpg.Record = await conn.fetchrow(
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
    return row


async def insert_credit_note(
    conn: asyncpg.Connection,
    original: asyncpg.Record,
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
) -> asyncpg.Record:
    row: asyncpg.Record = await conn.fetchrow(
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
        original["invoice_id"],
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
    return row


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
    conn: asyncpg.Connection, original: asyncpg.Record, credit_note_id: uuid.UUID, lines: list[CreditLine]
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
        original["tenant_id"],
        original["buyer_tenant_id"],
        credit_note_id,
        original["invoice_id"],
        [line.item_id for line in lines],
        [line.correction for line in lines],
        [line.quantity for line in lines],
        [line.unit_price for line in lines],
        [line.net_cents for line in lines],
    )


async def rebill_items(conn: asyncpg.Connection, item_ids: list[uuid.UUID]) -> int:
    """Credited items back to billable: each copied, snapshot unchanged, as its session's next
    generation with no invoice (the originals keep theirs: issued documents never change)."""
    status: str = await conn.execute(
        """
        insert into billable_items (tenant_id, buyer_tenant_id, item_id, session_id, order_id, agreement_id,
          cost_centre_id, kind, form, mode, starts_at, service_date, billing_month, duration_minutes, unit,
          quantity, unit_code, base_quantity, list_price_cents, charge_percent, unit_price, net_cents,
          vat_rate, participant_count, attended_count, generation, replaces_item_id)
        select tenant_id, buyer_tenant_id, n.new_id, session_id, order_id, agreement_id, cost_centre_id,
          kind, form, mode, starts_at, service_date, billing_month, duration_minutes, unit, quantity,
          unit_code, base_quantity, list_price_cents, charge_percent, unit_price, net_cents, vat_rate,
          participant_count, attended_count, generation + 1, item_id
        from billable_items
        join unnest($1::uuid[], $2::uuid[]) as n(old_id, new_id) on n.old_id = billable_items.item_id
        """,
        item_ids,
        [new_id() for _ in item_ids],
    )
    return int(status.split()[-1])


async def list_invoices(
    conn: asyncpg.Connection,
    *,
    seller_id: uuid.UUID | None,
    buyer_id: uuid.UUID | None,
    cost_centres: list[uuid.UUID] | None,
    after: uuid.UUID | None,
    limit: int,
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
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
    return rows


async def specification(
    conn: asyncpg.Connection, invoice_id: uuid.UUID, *, credit_note: bool = False
) -> list[asyncpg.Record]:
    """The billed sessions of an invoice, or the credited ones of a credit note (with the credited
    amount). Only items that are billed appear: a session that is not charged has no row."""
    if credit_note:
        rows: list[asyncpg.Record] = await conn.fetch(
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
        return rows
    rows = await conn.fetch(
        """
        select session_id, order_id, service_date, starts_at, form, mode, duration_minutes, kind,
               charge_percent, participant_count, attended_count, net_cents, vat_rate
        from billable_items where invoice_id = $1
        order by service_date, item_id
        """,
        invoice_id,
    )
    return rows


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
