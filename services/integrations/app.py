"""The integrations service's HTTP app."""

from __future__ import annotations

from litestar import Litestar

from services.integrations import SERVICE
from services.integrations.api.routes import list_events
from shared.config import ServiceSettings, load_settings
from shared.http.app import create_service_app

__all__ = ["create_app"]


def create_app(settings: ServiceSettings | None = None) -> Litestar:
    return create_service_app(
        settings or load_settings(SERVICE),
        route_handlers=[list_events],
        description="The event feed and webhooks through which HR and finance systems hear of Tila's events.",
    )
