"""The billing service's HTTP app."""

from __future__ import annotations

from litestar import Litestar

from services.billing import SERVICE
from services.billing.api.invoices import InvoiceController
from shared.config import ServiceSettings, load_settings
from shared.http.app import create_service_app
from shared.tenancy import known_tenant_route

__all__ = ["create_app"]


def create_app(settings: ServiceSettings | None = None) -> Litestar:
    return create_service_app(
        settings or load_settings(SERVICE),
        route_handlers=[known_tenant_route(SERVICE), InvoiceController],
        description="Billing: billable items, invoice runs and Finnish e-invoices.",
    )
