"""The organisations service's HTTP app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
from litestar import Litestar, get

from services.organisations import SERVICE
from services.organisations.api.tenants import TenantController
from services.organisations.keys import public_jwks
from services.organisations.settings import OrganisationsSettings
from shared.config import ServiceSettings, load_settings
from shared.http.app import create_service_app

__all__ = ["create_app"]


def create_app(settings: ServiceSettings | None = None) -> Litestar:
    if settings is None:
        settings = load_settings(SERVICE, cls=OrganisationsSettings)
    elif not isinstance(settings, OrganisationsSettings):
        settings = OrganisationsSettings(**msgspec.structs.asdict(settings))
    key_file = Path(settings.signing_keys_file) if settings.signing_keys_file else None

    @get(
        "/.well-known/jwks.json",
        operation_id="getJwks",
        tags=["tokens"],
        summary="Public keys that verify Tila's access tokens",
        cache=60,
    )
    async def jwks() -> dict[str, Any]:
        return public_jwks(key_file) if key_file else {"keys": []}

    return create_service_app(
        settings,
        route_handlers=[TenantController, jwks],
        public_paths=["/\\.well-known/jwks\\.json"],
        description="Tenants (buyers and providers), their people, identity providers and Tila's tokens.",
    )
