"""Billing's read models of other services' facts: parties, cost centres, orders, the buyer's
invoicing requirements."""

from __future__ import annotations

import uuid

import asyncpg

from services.billing.domain.documents import Party
from shared.contracts.organisations import TenantFacts

__all__ = ["fetch_party", "upsert_buyer_invoicing", "upsert_cost_centre", "upsert_order", "upsert_party"]

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
