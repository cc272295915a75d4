"""The integrations service's HTTP app."""

from __future__ import annotations

import datetime as dt

from litestar import Litestar
from litestar.di import Provide

from services.integrations.api.routes import ROUTES, provide_active_principal
from services.integrations.handlers import EndpointPolicy
from services.integrations.settings import integrations_settings
from shared.config import ServiceSettings
from shared.http.app import create_service_app

__all__ = ["create_app"]


def create_app(settings: ServiceSettings | None = None) -> Litestar:
    own = integrations_settings(settings)
    policy = EndpointPolicy(
        allow_loopback_http=own.allow_loopback_http_webhooks,
        rotation_grace=dt.timedelta(seconds=own.webhook_secret_rotation_grace_seconds),
        keyring=own.webhook_secret_keyring,
    )

    async def provide_policy() -> EndpointPolicy:
        return policy

    return create_service_app(
        own,
        route_handlers=ROUTES,
        public_paths=["/asyncapi\\.json", "/schemas/[^/]+"],
        dependencies={
            "endpoint_policy": Provide(provide_policy),
            "principal": Provide(provide_active_principal),
        },
        description="The public event catalogue (CloudEvents; AsyncAPI at /integrations/asyncapi.json), "
        "the event feed and the buyers' webhooks (Standard Webhooks).",
    )
