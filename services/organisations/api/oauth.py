"""The token endpoints (RFC 6749, RFC 7009), the JWKS, and machine-client registration."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from typing import Annotated, Any
from urllib.parse import unquote

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import MediaType, RequestEncodingType
from litestar.params import Body, FromPath, FromQuery, JSONBody

from services.organisations.domain.tokens import OAuthError
from services.organisations.handlers import tokens as handlers
from services.organisations.handlers.tokens import IssuedTokens, RegisteredClient, TokenPolicy
from shared.auth.guards import requires_role
from shared.auth.principal import BUYER_ADMIN
from shared.http.app import NO_AUTH
from shared.http.dependencies import Caller, Pool
from shared.http.pagination import Page, PageSize, decode_cursor, encode_cursor

__all__ = ["MachineClientController", "OAuthController", "TokenResponse", "jwks_route", "token_response"]

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

FormBody = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]


class TokenResponse(msgspec.Struct, frozen=True, omit_defaults=True):
    """RFC 6749 §5.1 (snake_case by the standard)."""

    access_token: Annotated[
        str, msgspec.Meta(description="The access token (a JWT) to send as a bearer token")
    ]
    expires_in: Annotated[int, msgspec.Meta(description="Seconds until the access token expires")]
    token_type: Annotated[str, msgspec.Meta(description="Bearer")]
    scope: Annotated[str, msgspec.Meta(description="The scopes granted, space-separated")] = ""
    refresh_token: Annotated[
        str | None,
        msgspec.Meta(description="A new refresh token (the old one is spent); absent for client_credentials"),
    ] = None


def token_response(issued: IssuedTokens) -> Response[TokenResponse]:
    body = TokenResponse(
        access_token=issued.access_token,
        token_type="Bearer",  # noqa: S106 (the token type's name)
        expires_in=issued.expires_in,
        scope=issued.scope,
        refresh_token=issued.refresh_token,
    )
    return Response(body, headers=_NO_STORE)


def _oauth_error(_: Request[Any, Any, Any], exc: OAuthError) -> Response[dict[str, str]]:
    headers = dict(_NO_STORE)
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="tila"'
    return Response(
        {"error": exc.error, "error_description": exc.description}, status_code=exc.status, headers=headers
    )


def _basic_credentials(request: Request[Any, Any, Any]) -> tuple[str, str]:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        raise OAuthError("invalid_client", "client authentication (HTTP Basic) required", status=401)
    try:
        client_id, _, secret = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError("invalid_client", "malformed client credentials", status=401) from None
    # RFC 6749 §2.3.1: both parts are form-urlencoded before they are joined.
    return unquote(client_id.replace("+", " ")), unquote(secret.replace("+", " "))


def _form_encoded(request: Request[Any, Any, Any]) -> None:
    """RFC 6749 §3.2 / RFC 7009 §2.1: the parameters come form-encoded, never as JSON."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        raise OAuthError(
            "invalid_request", "send the parameters as application/x-www-form-urlencoded (RFC 6749)"
        )


class OAuthController(Controller):
    path = "/oauth"
    tags = ["tokens"]
    security = NO_AUTH  # clients authenticate inside the grant, not with a bearer token
    exception_handlers = {OAuthError: _oauth_error}

    @post(
        "/token",
        operation_id="issueToken",
        summary="Refresh a login (refresh_token) or authenticate a machine client (client_credentials)",
        status_code=200,
    )
    async def token(
        self,
        request: Request[Any, Any, Any],
        data: FormBody,
        pool: Pool,
        token_policy: NamedDependency[TokenPolicy],
    ) -> Response[TokenResponse]:
        _form_encoded(request)
        grant_type = data.get("grant_type")
        if grant_type == "refresh_token":
            if "refresh_token" not in data:
                raise OAuthError("invalid_request", "refresh_token is required")
            return token_response(await handlers.refresh(pool, token_policy, data["refresh_token"]))
        if grant_type == "client_credentials":
            if "client_secret" in data or "client_id" in data:
                raise OAuthError("invalid_request", "send client credentials with HTTP Basic only")
            client_id, secret = _basic_credentials(request)
            issued = await handlers.client_credentials(
                pool, token_policy, client_id=client_id, client_secret=secret, scope=data.get("scope")
            )
            return token_response(issued)
        raise OAuthError("unsupported_grant_type", "grant_type must be refresh_token or client_credentials")

    @post(
        "/revoke",
        operation_id="revokeToken",
        summary="Log out: revoke a refresh token's family",
        description="RFC 7009: 200 with an empty body, whether or not the token was valid.",
        status_code=200,
        media_type=MediaType.TEXT,
    )
    async def revoke(self, request: Request[Any, Any, Any], data: FormBody, pool: Pool) -> Response[None]:
        _form_encoded(request)
        if "token" not in data:
            raise OAuthError("invalid_request", "token is required")
        await handlers.revoke(pool, data["token"])
        return Response(None, headers=_NO_STORE, media_type=MediaType.TEXT)


def jwks_route(token_policy: TokenPolicy | None) -> Any:
    @get(
        "/.well-known/jwks.json",
        operation_id="getJwks",
        tags=["tokens"],
        summary="Public keys that verify Tila's access tokens: the next, the current and recently retired",
        security=NO_AUTH,
    )
    async def jwks() -> dict[str, Any]:
        if token_policy is None:
            return {"keys": []}
        keys = token_policy.keyring.current().published(dt.datetime.now(dt.UTC), token_policy.access_lifetime)
        return {"keys": [key.as_dict(private=False) for key in keys]}

    return jwks


class MachineClientCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200, description="e.g. the HR system's name")]
    scopes: Annotated[list[str], msgspec.Meta(min_length=1, description="events:read, webhooks:manage")]


class MachineClientOut(msgspec.Struct, frozen=True, rename="camel", omit_defaults=True):
    client_id: Annotated[
        str, msgspec.Meta(description="The machine client's id, for HTTP Basic at /oauth/token")
    ]
    name: Annotated[str, msgspec.Meta(description="The client's name, for people")]
    scopes: Annotated[list[str], msgspec.Meta(description="The scopes the client may get")]
    created_at: Annotated[dt.datetime, msgspec.Meta(description="When the client was registered")]
    revoked: Annotated[bool, msgspec.Meta(description="Whether the client is revoked (gets no more tokens)")]
    client_secret: Annotated[
        str | None,
        msgspec.Meta(
            description="Only in the answer to the registration; store it now, it is never shown again."
        ),
    ] = None


def _client_out(client: RegisteredClient) -> MachineClientOut:
    return MachineClientOut(
        client_id=client.client_id,
        name=client.name,
        scopes=list(client.scopes),
        created_at=client.created_at,
        revoked=client.revoked,
        client_secret=client.client_secret,
    )


class MachineClientController(Controller):
    path = "/machine-clients"
    tags = ["machine clients"]
    guards = [requires_role(BUYER_ADMIN)]

    @post(
        "/",
        operation_id="registerMachineClient",
        summary="Register an HR or finance system; the secret is shown once",
    )
    async def register(
        self,
        data: JSONBody[MachineClientCreate],
        pool: Pool,
        principal: Caller,
    ) -> Response[MachineClientOut]:
        client = await handlers.register_client(pool, principal, name=data.name, scopes=data.scopes)
        return Response(_client_out(client), status_code=201, headers=_NO_STORE)

    @get("/", operation_id="listMachineClients", summary="The tenant's machine clients (never their secrets)")
    async def list_clients(
        self,
        pool: Pool,
        principal: Caller,
        cursor: FromQuery[str | None] = None,
        limit: PageSize = 50,
    ) -> Page[MachineClientOut]:
        after = decode_cursor(cursor, uuid.UUID)[0] if cursor else None
        clients = await handlers.list_clients(pool, principal, after=after, limit=limit + 1)
        more = len(clients) > limit
        clients = clients[:limit]
        next_cursor = encode_cursor(clients[-1].client_id.partition(".")[2]) if more else None
        return Page(items=[_client_out(c) for c in clients], next_cursor=next_cursor)

    @post(
        "/{client_id:str}/revoke",
        operation_id="revokeMachineClient",
        summary="Stop a client's access",
        status_code=204,
    )
    async def revoke(
        self,
        client_id: FromPath[str],
        pool: Pool,
        principal: Caller,
    ) -> None:
        await handlers.revoke_client(pool, principal, client_id)
