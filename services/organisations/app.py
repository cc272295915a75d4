"""The organisations service's HTTP app."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import msgspec
from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide

from services.organisations import SERVICE
from services.organisations.adapters.keys import KeyringFile
from services.organisations.adapters.oidc import OidcClient
from services.organisations.api.directory import DIRECTORY_ROUTES
from services.organisations.api.login import IdentityProviderController, LoginController
from services.organisations.api.oauth import MachineClientController, OAuthController, jwks_route
from services.organisations.api.onboarding import OnboardingController
from services.organisations.api.tenants import TenantController
from services.organisations.handlers.login import LoginContext
from services.organisations.handlers.tokens import TokenPolicy
from services.organisations.settings import OrganisationsSettings
from shared.config import ServiceSettings, load_settings
from shared.errors import Unavailable
from shared.http.app import create_service_app

__all__ = ["create_app"]


def _token_policy(settings: OrganisationsSettings) -> TokenPolicy | None:
    if not settings.signing_keys_file:
        return None
    return TokenPolicy(
        keyring=KeyringFile(Path(settings.signing_keys_file)),
        issuer=settings.token_issuer,
        audience=settings.token_audience,
        access_lifetime=dt.timedelta(seconds=settings.access_token_ttl_seconds),
        refresh_lifetime=dt.timedelta(seconds=settings.refresh_token_ttl_seconds),
    )


def create_app(settings: ServiceSettings | None = None) -> Litestar:
    if settings is None:
        settings = load_settings(SERVICE, cls=OrganisationsSettings)
    elif not isinstance(settings, OrganisationsSettings):
        settings = OrganisationsSettings(**msgspec.structs.asdict(settings))
    policy = _token_policy(settings)
    public_base_url = settings.public_base_url
    loopback = settings.allow_loopback_http_issuers

    async def open_oidc(app: Litestar) -> None:
        app.state.oidc = OidcClient(
            allow_loopback_http=loopback
        )  # on the serving loop, where its connections live

    async def close_oidc(app: Litestar) -> None:
        await app.state.oidc.aclose()

    async def provide_token_policy() -> TokenPolicy:
        if policy is None:
            raise Unavailable("no signing keys are configured (TILA_ORGANISATIONS_SIGNING_KEYS_FILE)")
        return policy

    async def provide_login(state: State) -> LoginContext:
        return LoginContext(
            oidc=state.oidc,
            policy=await provide_token_policy(),
            public_base_url=public_base_url,
            allow_loopback_http=loopback,
        )

    return create_service_app(
        settings,
        route_handlers=[
            TenantController,
            OnboardingController,
            *DIRECTORY_ROUTES,
            OAuthController,
            MachineClientController,
            LoginController,
            IdentityProviderController,
            jwks_route(policy),
        ],
        public_paths=["/\\.well-known/jwks\\.json", "/oauth/(token|revoke)", "/login/[^/]+/(start|callback)"],
        # Every service fetches its verification keys here: anonymous junk must never starve that.
        unlimited_paths=["/\\.well-known/jwks\\.json"],
        dependencies={"token_policy": Provide(provide_token_policy), "login": Provide(provide_login)},
        on_startup=[open_oidc],
        on_shutdown=[close_oidc],
        description="Tenants (buyers and providers), their people, identity providers and Tila's tokens.",
    )
