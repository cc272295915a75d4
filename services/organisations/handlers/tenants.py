"""Use cases of the organisations service: one transaction each, the only place that writes."""

from __future__ import annotations

import asyncpg

from services.organisations import SERVICE
from services.organisations.domain.tenants import InvalidTenant, Tenant, TenantKind, new_tenant
from services.organisations.store import tenants as store
from shared.auth.principal import PLATFORM_ADMIN, Principal
from shared.contracts.organisations import TenantCreated
from shared.db.tenant import tenant_transaction
from shared.errors import Conflict, FieldError, Forbidden, InvariantViolated, NotFound
from shared.events import add_to_outbox, envelope_for
from shared.ids import new_id

__all__ = ["create_tenant", "get_own_tenant"]


async def create_tenant(
    pool: asyncpg.Pool, principal: Principal, *, name: str, kind: TenantKind, business_id: str
) -> Tenant:
    if not principal.has_role(PLATFORM_ADMIN):
        raise Forbidden("only platform admins create tenants")
    try:
        tenant = new_tenant(new_id(), name=name, kind=kind, business_id=business_id)
    except InvalidTenant as exc:
        raise InvariantViolated(exc.message, errors=[FieldError(f"body.{exc.field}", exc.message)]) from None
    # The new tenant's rows are written in its own scope: its id is ours, never the caller's.
    async with tenant_transaction(pool, tenant.tenant_id) as conn:
        try:
            await store.insert_tenant(conn, tenant)
        except asyncpg.UniqueViolationError:
            raise Conflict(
                "a tenant with this business id exists",
                errors=[FieldError("body.businessId", "already registered")],
            ) from None
        event = TenantCreated(
            tenant_id=tenant.tenant_id,
            name=tenant.name,
            kind=tenant.kind.value,
            business_id=tenant.business_id,
        )
        await add_to_outbox(
            conn,
            SERVICE,
            envelope_for(
                event,
                source=SERVICE,
                subject=tenant.tenant_id,
                version=tenant.version,
                tenant_ids=[tenant.tenant_id],
            ),
        )
    return tenant


async def get_own_tenant(pool: asyncpg.Pool, principal: Principal) -> Tenant:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await store.fetch_tenant(conn, principal.tenant_id)
    if tenant is None:
        raise NotFound("tenant not found")
    return tenant
