"""Tenant use cases: create (platform admins), read and update one's own, deactivate (platform admins)."""

from __future__ import annotations

import uuid
from typing import TypeVar

import asyncpg

from services.organisations import SERVICE
from services.organisations.domain.directory import ADMIN_ROLE
from services.organisations.domain.tenants import (
    Tenant,
    TenantChanges,
    TenantDetails,
    TenantKind,
    deactivate_tenant,
    new_tenant,
    update_tenant,
)
from services.organisations.store import tenants as store
from shared.auth.principal import PLATFORM_ADMIN, Principal
from shared.contracts import Event
from shared.contracts import organisations as contracts
from shared.db.tenant import tenant_transaction
from shared.errors import (
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    check_version,
    fields_at,
)
from shared.events import add_to_outbox, envelope_for
from shared.ids import new_id

__all__ = [
    "announce",
    "create_tenant",
    "deactivate_tenant_by_id",
    "get_own_tenant",
    "update_own_tenant",
]


async def announce(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, event: Event, *, subject: uuid.UUID, version: int
) -> None:
    """Add ``event`` about aggregate ``subject`` (now at ``version``) to the outbox of this transaction."""
    envelope = envelope_for(event, source=SERVICE, subject=subject, version=version, tenant_ids=[tenant_id])
    await add_to_outbox(conn, SERVICE, envelope)


TF = TypeVar("TF", bound=contracts.TenantFacts)


def _event(cls: type[TF], tenant: Tenant) -> TF:
    details = tenant.details
    address, e_invoice = details.postal_address, details.e_invoice_address
    return cls(
        tenant_id=tenant.tenant_id,
        name=tenant.name,
        kind=tenant.kind.value,
        business_id=tenant.business_id,
        subtype=details.subtype.value if details.subtype else None,
        vat_id=details.vat_id,
        postal_address=(
            contracts.PostalAddress(
                street=address.street, postcode=address.postcode, city=address.city, country=address.country
            )
            if address
            else None
        ),
        e_invoice_address=(
            contracts.EInvoiceAddress(
                scheme=e_invoice.scheme.value, address=e_invoice.address, operator_id=e_invoice.operator_id
            )
            if e_invoice
            else None
        ),
        iban=details.iban,
        bic=details.bic,
    )


async def create_tenant(
    pool: asyncpg.Pool,
    principal: Principal,
    *,
    name: str,
    kind: TenantKind,
    business_id: str,
    details: TenantDetails | None = None,
) -> Tenant:
    if not principal.has_role(PLATFORM_ADMIN):
        raise Forbidden("only platform admins create tenants")
    with fields_at("body"):
        tenant = new_tenant(new_id(), name=name, kind=kind, business_id=business_id, details=details)
    # The new tenant's rows are written in its own scope: its id is ours, never the caller's.
    async with tenant_transaction(pool, tenant.tenant_id) as conn:
        try:
            await store.insert_tenant(conn, tenant)
        except asyncpg.UniqueViolationError:
            raise Conflict(
                "a tenant with this business id exists",
                errors=[FieldError("body.businessId", "already registered")],
            ) from None
        event = _event(contracts.TenantCreated, tenant)
        await announce(conn, tenant.tenant_id, event, subject=tenant.tenant_id, version=tenant.version)
    return tenant


async def get_own_tenant(pool: asyncpg.Pool, principal: Principal) -> Tenant:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await store.fetch_tenant(conn, principal.tenant_id)
    if tenant is None:
        raise NotFound("tenant not found")
    return tenant


async def update_own_tenant(
    pool: asyncpg.Pool, principal: Principal, changes: TenantChanges, *, expected_version: int | None = None
) -> Tenant:
    """A tenant's admin changes its name and details; kind and business id stay as created."""
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await store.fetch_tenant_for_update(conn, principal.tenant_id)
        if tenant is None:
            raise NotFound("tenant not found")
        if not principal.has_role(ADMIN_ROLE[tenant.kind]):
            raise Forbidden(f"only a {ADMIN_ROLE[tenant.kind]} changes the tenant's details")
        if not tenant.active:
            raise Forbidden("the tenant is deactivated")
        check_version(tenant.version, expected_version)
        with fields_at("body"):
            updated = update_tenant(tenant, changes)
        if updated is tenant:
            return tenant
        await store.update_tenant(conn, updated)
        event = _event(contracts.TenantUpdated, updated)
        await announce(conn, updated.tenant_id, event, subject=updated.tenant_id, version=updated.version)
    return updated


async def deactivate_tenant_by_id(pool: asyncpg.Pool, principal: Principal, tenant_id: uuid.UUID) -> Tenant:
    """A platform admin switches a tenant off: its data stays, its people can no longer act."""
    if not principal.has_role(PLATFORM_ADMIN):
        raise Forbidden("only platform admins deactivate tenants")
    # Like creation, a platform admin acts in the scope of the tenant named, not their own.
    async with tenant_transaction(pool, tenant_id) as conn:
        tenant = await store.fetch_tenant_for_update(conn, tenant_id)
        if tenant is None:
            raise NotFound("tenant not found")
        deactivated = deactivate_tenant(tenant)
        if deactivated is tenant:
            return tenant
        await store.update_tenant(conn, deactivated)
        event = contracts.TenantDeactivated(tenant_id=tenant_id)
        await announce(conn, tenant_id, event, subject=tenant_id, version=deactivated.version)
    return deactivated
