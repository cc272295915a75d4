"""SQL of tenants: rows <-> domain."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from services.organisations.domain.tenants import (
    EInvoiceAddress,
    PostalAddress,
    Tenant,
    TenantDetails,
    TenantKind,
    TenantSubtype,
)

__all__ = ["fetch_tenant", "fetch_tenant_for_update", "insert_tenant", "update_tenant"]

_COLUMNS = """
    tenant_id, name, kind, business_id, subtype, vat_id, street, postcode, city, country,
    e_invoice_address, e_invoice_operator, iban, bic, active, version
"""


def _detail_values(details: TenantDetails) -> tuple[Any, ...]:
    address, e_invoice = details.postal_address, details.e_invoice_address
    return (
        details.subtype.value if details.subtype else None,
        details.vat_id,
        address.street if address else None,
        address.postcode if address else None,
        address.city if address else None,
        address.country if address else None,
        e_invoice.address if e_invoice else None,
        e_invoice.operator_id if e_invoice else None,
        details.iban,
        details.bic,
    )


def _tenant(row: asyncpg.Record) -> Tenant:
    postal_address = (
        PostalAddress(
            street=row["street"], postcode=row["postcode"], city=row["city"], country=row["country"]
        )
        if row["street"] is not None
        else None
    )
    e_invoice_address = (
        EInvoiceAddress(address=row["e_invoice_address"], operator_id=row["e_invoice_operator"])
        if row["e_invoice_address"] is not None
        else None
    )
    return Tenant(
        tenant_id=row["tenant_id"],
        name=row["name"],
        kind=TenantKind(row["kind"]),
        business_id=row["business_id"],
        details=TenantDetails(
            subtype=TenantSubtype(row["subtype"]) if row["subtype"] else None,
            vat_id=row["vat_id"],
            postal_address=postal_address,
            e_invoice_address=e_invoice_address,
            iban=row["iban"],
            bic=row["bic"],
        ),
        active=row["active"],
        version=row["version"],
    )


async def insert_tenant(conn: asyncpg.Connection, tenant: Tenant) -> None:
    await conn.execute(
        f"""
        insert into tenants ({_COLUMNS})
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
        """,
        tenant.tenant_id,
        tenant.name,
        tenant.kind.value,
        tenant.business_id,
        *_detail_values(tenant.details),
        tenant.active,
        tenant.version,
    )


async def fetch_tenant(conn: asyncpg.Connection, tenant_id: uuid.UUID) -> Tenant | None:
    row = await conn.fetchrow(f"select {_COLUMNS} from tenants where tenant_id = $1", tenant_id)
    return _tenant(row) if row else None


async def fetch_tenant_for_update(conn: asyncpg.Connection, tenant_id: uuid.UUID) -> Tenant | None:
    """The tenant, locked until the transaction ends, so concurrent changes apply one after another."""
    row = await conn.fetchrow(f"select {_COLUMNS} from tenants where tenant_id = $1 for update", tenant_id)
    return _tenant(row) if row else None


async def update_tenant(conn: asyncpg.Connection, tenant: Tenant) -> None:
    """Write the tenant's name, details, active flag and version (kind and business id never change)."""
    await conn.execute(
        """
        update tenants
        set name = $2, subtype = $3, vat_id = $4, street = $5, postcode = $6, city = $7, country = $8,
            e_invoice_address = $9, e_invoice_operator = $10, iban = $11, bic = $12,
            active = $13, version = $14, updated_at = now()
        where tenant_id = $1
        """,
        tenant.tenant_id,
        tenant.name,
        *_detail_values(tenant.details),
        tenant.active,
        tenant.version,
    )
