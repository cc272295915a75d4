"""Tenant routes: platform admins create and deactivate tenants; a tenant's admins keep its details."""

from __future__ import annotations

import uuid

from litestar import Controller, Response, get, patch, post
from litestar.params import FromPath, JSONBody
from msgspec import UNSET

from services.organisations.api.schemas import (
    EInvoiceAddressBody,
    EInvoiceAddressOut,
    PostalAddressBody,
    TenantCreate,
    TenantOut,
    TenantUpdate,
)
from services.organisations.domain.tenants import (
    EInvoiceAddress,
    PostalAddress,
    Tenant,
    TenantChanges,
    TenantDetails,
)
from services.organisations.handlers import tenants as handlers
from shared.auth.guards import requires_role
from shared.auth.principal import BUYER_ADMIN, PLATFORM_ADMIN, PROVIDER_ADMIN
from shared.http.dependencies import Caller, Pool
from shared.http.versions import IfMatch, expected_version, versioned

__all__ = ["TenantController"]


def _postal_address(body: PostalAddressBody | None) -> PostalAddress | None:
    if body is None:
        return None
    return PostalAddress(street=body.street, postcode=body.postcode, city=body.city, country=body.country)


def _e_invoice_address(body: EInvoiceAddressBody | None) -> EInvoiceAddress | None:
    return EInvoiceAddress(address=body.address, operator_id=body.operator_id) if body else None


def _out(tenant: Tenant) -> TenantOut:
    details = tenant.details
    address, e_invoice = details.postal_address, details.e_invoice_address
    return TenantOut(
        id=tenant.tenant_id,
        name=tenant.name,
        kind=tenant.kind,
        subtype=details.subtype,
        business_id=tenant.business_id,
        vat_id=details.vat_id,
        postal_address=(
            PostalAddressBody(
                street=address.street, postcode=address.postcode, city=address.city, country=address.country
            )
            if address
            else None
        ),
        e_invoice_address=(
            EInvoiceAddressOut(
                scheme=e_invoice.scheme, address=e_invoice.address, operator_id=e_invoice.operator_id
            )
            if e_invoice
            else None
        ),
        iban=details.iban,
        bic=details.bic,
        active=tenant.active,
        version=tenant.version,
    )


def _changes(data: TenantUpdate) -> TenantChanges:
    return TenantChanges(
        name=data.name,
        subtype=data.subtype,
        vat_id=data.vat_id,
        postal_address=UNSET if data.postal_address is UNSET else _postal_address(data.postal_address),
        e_invoice_address=(
            UNSET if data.e_invoice_address is UNSET else _e_invoice_address(data.e_invoice_address)
        ),
        iban=data.iban,
        bic=data.bic,
    )


class TenantController(Controller):
    path = "/tenants"
    tags = ["tenants"]

    @post(
        "/",
        operation_id="createTenant",
        summary="Create a buyer or provider tenant",
        guards=[requires_role(PLATFORM_ADMIN)],
    )
    async def create_tenant(
        self,
        data: JSONBody[TenantCreate],
        pool: Pool,
        principal: Caller,
    ) -> Response[TenantOut]:
        details = TenantDetails(
            subtype=data.subtype,
            vat_id=data.vat_id,
            postal_address=_postal_address(data.postal_address),
            e_invoice_address=_e_invoice_address(data.e_invoice_address),
            iban=data.iban,
            bic=data.bic,
        )
        tenant = await handlers.create_tenant(
            pool, principal, name=data.name, kind=data.kind, business_id=data.business_id, details=details
        )
        return versioned(_out(tenant), tenant.version, 201)

    @get("/me", operation_id="getOwnTenant", summary="The caller's own tenant")
    async def own_tenant(self, pool: Pool, principal: Caller) -> Response[TenantOut]:
        tenant = await handlers.get_own_tenant(pool, principal)
        return versioned(_out(tenant), tenant.version)

    @patch(
        "/me",
        operation_id="updateOwnTenant",
        summary="Change the caller's tenant's name, VAT id, addresses or bank account (its admins)",
        guards=[requires_role(BUYER_ADMIN, PROVIDER_ADMIN)],
    )
    async def update_own_tenant(
        self,
        data: JSONBody[TenantUpdate],
        pool: Pool,
        principal: Caller,
        if_match: IfMatch = None,
    ) -> Response[TenantOut]:
        tenant = await handlers.update_own_tenant(
            pool, principal, _changes(data), expected_version=expected_version(if_match)
        )
        return versioned(_out(tenant), tenant.version)

    @post(
        "/{tenant_id:uuid}/deactivate",
        operation_id="deactivateTenant",
        summary="Deactivate a tenant: its data stays, its people can no longer act",
        guards=[requires_role(PLATFORM_ADMIN)],
        status_code=200,
    )
    async def deactivate_tenant(
        self,
        tenant_id: FromPath[uuid.UUID],
        pool: Pool,
        principal: Caller,
    ) -> TenantOut:
        return _out(await handlers.deactivate_tenant_by_id(pool, principal, tenant_id))
