"""Routes of the organisations API; they turn requests into use cases and results into bodies."""

from __future__ import annotations

import asyncpg
from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody

from services.organisations.api.schemas import TenantCreate, TenantOut
from services.organisations.domain.tenants import Tenant
from services.organisations.handlers import tenants as handlers
from shared.auth.guards import provide_principal, requires_role
from shared.auth.principal import PLATFORM_ADMIN, Principal

__all__ = ["TenantController"]


def _out(tenant: Tenant) -> TenantOut:
    return TenantOut(
        id=tenant.tenant_id,
        name=tenant.name,
        kind=tenant.kind,
        business_id=tenant.business_id,
        active=tenant.active,
    )


class TenantController(Controller):
    path = "/tenants"
    tags = ["tenants"]
    dependencies = {"principal": Provide(provide_principal)}

    @post(
        "/",
        operation_id="createTenant",
        summary="Create a buyer or provider tenant",
        guards=[requires_role(PLATFORM_ADMIN)],
    )
    async def create_tenant(
        self,
        data: JSONBody[TenantCreate],
        pool: NamedDependency[asyncpg.Pool],
        principal: NamedDependency[Principal],
    ) -> TenantOut:
        tenant = await handlers.create_tenant(
            pool, principal, name=data.name, kind=data.kind, business_id=data.business_id
        )
        return _out(tenant)

    @get("/me", operation_id="getOwnTenant", summary="The caller's own tenant")
    async def own_tenant(
        self, pool: NamedDependency[asyncpg.Pool], principal: NamedDependency[Principal]
    ) -> TenantOut:
        return _out(await handlers.get_own_tenant(pool, principal))
