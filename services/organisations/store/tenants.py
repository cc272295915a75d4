"""SQL of the organisations service: rows <-> domain."""

from __future__ import annotations

import uuid

import asyncpg

from services.organisations.domain.tenants import Tenant, TenantKind

__all__ = ["fetch_tenant", "insert_tenant"]


async def insert_tenant(conn: asyncpg.Connection, tenant: Tenant) -> None:
    await conn.execute(
        """
        insert into tenants (tenant_id, name, kind, business_id, active, version)
        values ($1, $2, $3, $4, $5, $6)
        """,
        tenant.tenant_id,
        tenant.name,
        tenant.kind.value,
        tenant.business_id,
        tenant.active,
        tenant.version,
    )


async def fetch_tenant(conn: asyncpg.Connection, tenant_id: uuid.UUID) -> Tenant | None:
    row = await conn.fetchrow(
        "select tenant_id, name, kind, business_id, active, version from tenants where tenant_id = $1",
        tenant_id,
    )
    if row is None:
        return None
    return Tenant(
        tenant_id=row["tenant_id"],
        name=row["name"],
        kind=TenantKind(row["kind"]),
        business_id=row["business_id"],
        active=row["active"],
        version=row["version"],
    )
