"""The sessions service's HTTP app."""

from __future__ import annotations

from litestar import Litestar

from services.sessions import SERVICE
from services.sessions.api.routes import ROUTES
from shared.config import ServiceSettings, load_settings
from shared.http.app import create_service_app

__all__ = ["create_app"]


def create_app(settings: ServiceSettings | None = None) -> Litestar:
    return create_service_app(
        settings or load_settings(SERVICE),
        route_handlers=list(ROUTES),
        description="Sessions: supervision processes, sessions, attendance and the encrypted content wall.",
    )
