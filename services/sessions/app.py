"""The sessions service's HTTP app."""

from __future__ import annotations

from litestar import Litestar

from services.sessions.api.content import CONTENT_KEYRING_STATE_KEY
from services.sessions.api.routes import ROUTES
from services.sessions.settings import sessions_settings
from shared.config import ServiceSettings
from shared.http.app import create_service_app

__all__ = ["create_app"]


def create_app(settings: ServiceSettings | None = None) -> Litestar:
    own = sessions_settings(settings)
    app = create_service_app(
        own,
        route_handlers=list(ROUTES),
        description="Sessions: supervision processes, sessions, attendance and the encrypted content wall.",
    )
    app.state[CONTENT_KEYRING_STATE_KEY] = own.content_keyring
    return app
