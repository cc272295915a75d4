"""Login routes: start at a tenant's provider, come back with Tila's tokens; configure the provider."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, get, put
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import Redirect

from services.organisations.api.oauth import TokenResponse, token_response
from services.organisations.domain.login import ATTEMPT_LIFETIME, IdentityProviderConfig, browser_binding
from services.organisations.handlers import login as handlers
from services.organisations.handlers.login import LoginContext
from shared.http.app import NO_AUTH
from shared.http.dependencies import Caller, Pool

__all__ = [
    "IdentityProviderController",
    "IdentityProviderIn",
    "IdentityProviderOut",
    "LoginController",
    "provider_out",
]


def _binding_cookie(tenant_id: uuid.UUID) -> str:
    return f"tila_login_{tenant_id.hex}"


class LoginController(Controller):
    path = "/login/{tenant_id:uuid}"
    tags = ["login"]
    security = NO_AUTH

    @get("/start", operation_id="startLogin", summary="Go to the tenant's own identity provider (302)")
    async def start(
        self,
        tenant_id: FromPath[uuid.UUID],
        pool: Pool,
        login: NamedDependency[LoginContext],
        invitation: Annotated[
            str | None,
            QueryParameter(
                max_length=200,
                description="An invitation's code: this login becomes the invited person, and spends it",
            ),
        ] = None,
    ) -> Redirect:
        where, attempt = await handlers.start_login(pool, login, tenant_id, invitation=invitation)
        # The callback must come back to the browser that started the login (ASVS 10.1.2).
        cookie = Cookie(
            key=_binding_cookie(tenant_id),
            value=browser_binding(attempt),
            path=f"/organisations/login/{tenant_id}/",
            max_age=int(ATTEMPT_LIFETIME.total_seconds()),
            httponly=True,
            secure=login.public_base_url.startswith("https://"),
            samesite="lax",
        )
        return Redirect(where, status_code=302, cookies=[cookie])

    @get(
        "/callback",
        operation_id="finishLogin",
        summary="Where the identity provider sends the browser back; answers with Tila's tokens",
    )
    async def callback(
        self,
        request: Request[Any, Any, Any],
        tenant_id: FromPath[uuid.UUID],
        pool: Pool,
        login: NamedDependency[LoginContext],
        # "state" is a reserved name in Litestar handlers; the query parameter keeps the OAuth name.
        oauth_state: Annotated[str | None, QueryParameter(name="state", max_length=200)] = None,
        code: FromQuery[str | None] = None,
        iss: FromQuery[str | None] = None,
        error: FromQuery[str | None] = None,
    ) -> Response[TokenResponse]:
        issued = await handlers.finish_login(
            pool,
            login,
            tenant_id,
            state=oauth_state,
            code=code,
            issuer_param=iss,
            error=error,
            browser_binding=request.cookies.get(_binding_cookie(tenant_id)),
        )
        response = token_response(issued)
        response.delete_cookie(_binding_cookie(tenant_id), path=f"/organisations/login/{tenant_id}/")
        return response


class IdentityProviderIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    issuer: Annotated[
        str,
        msgspec.Meta(
            min_length=8,
            max_length=500,
            pattern=r"^https?://[!-~]+$",
            description="exactly as the provider names itself",
        ),
    ]
    client_id: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=500,
            pattern=r"^[!-~]+$",
            description="The client id Tila is registered under at the provider",
        ),
    ]
    scopes: Annotated[
        tuple[str, ...], msgspec.Meta(description="The scopes Tila asks for; must include openid")
    ] = ("openid", "email", "profile")
    allowed_email_domains: Annotated[
        tuple[str, ...],
        msgspec.Meta(description="If any: only verified e-mails in these domains may log in"),
    ] = ()
    provisioning: Annotated[
        Literal["pre_provisioned", "claims"],
        msgspec.Meta(
            description="pre_provisioned: admins create people; claims: the provider's groups create them"
        ),
    ] = "pre_provisioned"
    role_claim: Annotated[
        str | None, msgspec.Meta(description="The ID token claim holding the person's groups (claims)")
    ] = None
    role_map: Annotated[
        dict[str, Literal["buyer_admin", "approver", "employee", "provider_admin", "supervisor"]],
        msgspec.Meta(description="The provider's group names to Tila's roles (claims)"),
    ] = {}


class IdentityProviderOut(msgspec.Struct, frozen=True, rename="camel"):
    issuer: Annotated[str, msgspec.Meta(description="The provider's issuer, exactly as it names itself")]
    client_id: Annotated[str, msgspec.Meta(description="The client id Tila is registered under there")]
    client_secret_ref: Annotated[
        str,
        msgspec.Meta(description="Where operators put the client secret (env:NAME, the process environment)"),
    ]
    scopes: Annotated[tuple[str, ...], msgspec.Meta(description="The scopes Tila asks for")]
    allowed_email_domains: Annotated[
        tuple[str, ...], msgspec.Meta(description="The e-mail domains allowed to log in (none: any)")
    ]
    provisioning: Annotated[str, msgspec.Meta(description="pre_provisioned or claims")]
    role_claim: Annotated[str | None, msgspec.Meta(description="The claim holding groups (claims)")]
    role_map: Annotated[dict[str, str], msgspec.Meta(description="Groups to Tila's roles (claims)")]
    login_url: Annotated[str, msgspec.Meta(description="Where the tenant's people start their login")]


def provider_request(data: IdentityProviderIn) -> handlers.ProviderRequest:
    """The body as the handlers take it (the tenant's own route and the platform's onboarding one)."""
    return handlers.ProviderRequest(
        issuer=data.issuer,
        client_id=data.client_id,
        scopes=data.scopes,
        allowed_email_domains=data.allowed_email_domains,
        provisioning=data.provisioning,
        role_claim=data.role_claim,
        role_map=data.role_map,
    )


def provider_out(config: IdentityProviderConfig, login: LoginContext) -> IdentityProviderOut:
    return IdentityProviderOut(
        issuer=config.issuer,
        client_id=config.client_id,
        client_secret_ref=config.client_secret_ref,
        scopes=config.scopes,
        allowed_email_domains=config.allowed_email_domains,
        provisioning=config.provisioning,
        role_claim=config.role_claim,
        role_map=dict(config.role_map),
        login_url=f"{login.public_base_url.rstrip('/')}/organisations/login/{config.tenant_id}/start",
    )


class IdentityProviderController(Controller):
    path = "/identity-provider"
    tags = ["login"]

    @put("/", operation_id="configureIdentityProvider", summary="Set the tenant's own OpenID provider")
    async def configure(
        self,
        data: JSONBody[IdentityProviderIn],
        pool: Pool,
        principal: Caller,
        login: NamedDependency[LoginContext],
    ) -> IdentityProviderOut:
        config = await handlers.configure_provider(
            pool, principal, provider_request(data), allow_loopback_http=login.allow_loopback_http
        )
        return provider_out(config, login)

    @get("/", operation_id="getIdentityProvider", summary="The tenant's OpenID provider and its login URL")
    async def read(
        self,
        pool: Pool,
        principal: Caller,
        login: NamedDependency[LoginContext],
    ) -> IdentityProviderOut:
        return provider_out(await handlers.get_provider(pool, principal), login)
