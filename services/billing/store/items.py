"""Billable items and the set-based invoice run that gathers them into drafts."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg

from services.billing.domain.items import BillableItem
from services.billing.store.records import Invoice, invoice_of
from shared.ids import new_id

__all__ = [
    "assign_unbilled_items",
    "create_drafts",
    "insert_billable_item",
    "list_drafts",
    "lock_provider_run",
    "prefer_hash_joins",
    "rebill_items",
    "recompute_drafts",
]

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
) -> list[Invoice]:
    rows = await conn.fetch(
        """
        select * from invoices
        where tenant_id = $1 and status = 'draft' and ($2::date is null or billing_month = $2)
        order by billing_month, invoice_id
        """,
        provider_id,
        month,
    )
    return [invoice_of(row) for row in rows]


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
