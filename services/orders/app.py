"""The orders service's HTTP app."""

from __future__ import annotations

from litestar import Litestar

from services.orders import SERVICE
from services.orders.api.agreements import AgreementController
from services.orders.api.orders import OrderController
from services.orders.api.routes import list_cost_centres
from shared.config import ServiceSettings, load_settings
from shared.http.app import create_service_app
from shared.tenancy import known_tenant_route

__all__ = ["create_app"]


def create_app(settings: ServiceSettings | None = None) -> Litestar:
    return create_service_app(
        settings or load_settings(SERVICE),
        route_handlers=[known_tenant_route(SERVICE), list_cost_centres, AgreementController, OrderController],
        description="Orders: framework agreements and the supervision order lifecycle.",
    )
