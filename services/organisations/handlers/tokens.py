"""Use cases of Tila's own tokens: sessions, refresh rotation, revocation, machine clients."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import asyncpg
import msgspec

from services.organisations.adapters.keys import KeyringFile
from services.organisations.domain.tokens import (
    Grant,
    OAuthError,
    RefreshVerdict,
    access_claims,
    client_id_of,
    granted_scopes,
    judge_refresh,
    new_client_secret,
    new_refresh_token,
    parse_client_id,
    parse_refresh_token,
    secret_matches,
    validate_machine_scopes,
)
from services.organisations.store import tokens as store
from services.organisations.store.login import tenant_is_active
from shared.auth.principal import BUYER_ADMIN, Principal
from shared.auth.tokens import sign_token
from shared.db.tenant import tenant_transaction
from shared.errors import FieldError, Forbidden, InvariantViolated, NotFound
from shared.ids import new_id
from shared.logging import get_logger

__all__ = [
    "IssuedTokens",
    "RegisteredClient",
    "TokenPolicy",
    "client_credentials",
    "list_clients",
    "refresh",
    "register_client",
    "revoke",
    "revoke_client",
    "start_session",
]

log = get_logger(__name__)


@dataclass(frozen=True)
class TokenPolicy:
    """How tokens are made: by which keys, for whom, for how long."""

    keyring: KeyringFile
    issuer: str
    audience: str
    access_lifetime: dt.timedelta
    refresh_lifetime: dt.timedelta

    def sign(self, grant: Grant, now: dt.datetime) -> str:
        key = self.keyring.current().signing_key()
        claims = access_claims(
            grant, issuer=self.issuer, audience=self.audience, now=now, lifetime=self.access_lifetime
        )
        return sign_token(key, claims)


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    expires_in: int
    scope: str
    refresh_token: str | None = None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _issued(policy: TokenPolicy, grant: Grant, now: dt.datetime, refresh_token: str | None) -> IssuedTokens:
    return IssuedTokens(
        access_token=policy.sign(grant, now),
        expires_in=int(policy.access_lifetime.total_seconds()),
        scope=" ".join(grant.scopes),
        refresh_token=refresh_token,
    )


async def start_session(pool: asyncpg.Pool, policy: TokenPolicy, grant: Grant) -> IssuedTokens:
    """A new login: an access token and the first refresh token of a new family."""
    now = _now()
    token, token_hash = new_refresh_token(grant.tenant_id)
    async with tenant_transaction(pool, grant.tenant_id) as conn:
        await store.insert_refresh(
            conn,
            token_hash=token_hash,
            family_id=new_id(),
            grant=grant,
            expires_at=now + policy.refresh_lifetime,
        )
    return _issued(policy, grant, now, token)


async def refresh(pool: asyncpg.Pool, policy: TokenPolicy, refresh_token: str) -> IssuedTokens:
    """Spend a refresh token for new tokens; a spent one presented again revokes its family."""
    tenant_id, token_hash = parse_refresh_token(refresh_token)
    now = _now()
    async with tenant_transaction(pool, tenant_id) as conn:
        found = await store.fetch_refresh(conn, tenant_id, token_hash)
        verdict = judge_refresh(found[0] if found else None, now)
        if verdict is RefreshVerdict.REUSED and found is not None:
            revoked = await store.revoke_family(conn, tenant_id, found[0].family_id)
            # Committed with this transaction; the caller gets invalid_grant below.
            log.warning("refresh_token_reused", family_id=str(found[0].family_id), revoked=revoked)
        if verdict is RefreshVerdict.VALID and found is not None:
            state, grant = found
            standing = await _standing(conn, grant)
            if standing is None:
                # The person or their tenant was deactivated: the login ends here, for good.
                await store.revoke_family(conn, tenant_id, state.family_id)
                verdict = RefreshVerdict.REVOKED
        if verdict is RefreshVerdict.VALID and found is not None:
            state, grant = found
            assert standing is not None
            grant = msgspec.structs.replace(grant, roles=standing)
            await store.mark_refresh_used(conn, tenant_id, token_hash)
            token, next_hash = new_refresh_token(tenant_id)
            await store.insert_refresh(
                conn,
                token_hash=next_hash,
                family_id=state.family_id,
                grant=grant,
                expires_at=state.expires_at,
            )
            return _issued(policy, grant, now, token)
    raise OAuthError("invalid_grant", f"refresh token {verdict.value}")


async def _standing(conn: asyncpg.Connection, grant: Grant) -> tuple[str, ...] | None:
    """The person's roles today (a refresh picks up role changes), or None if they may not act."""
    try:
        person_id = uuid.UUID(grant.subject)
    except ValueError:
        return None
    standing = await store.fetch_standing(conn, grant.tenant_id, person_id)
    if standing is None or not standing[0]:
        return None
    return standing[1]


async def revoke(pool: asyncpg.Pool, refresh_token: str) -> None:
    """Logout (RFC 7009): the token's whole family ends. Unknown tokens are no error."""
    try:
        tenant_id, token_hash = parse_refresh_token(refresh_token)
    except OAuthError:
        return
    async with tenant_transaction(pool, tenant_id) as conn:
        found = await store.fetch_refresh(conn, tenant_id, token_hash)
        if found is not None:
            await store.revoke_family(conn, tenant_id, found[0].family_id)


async def client_credentials(
    pool: asyncpg.Pool, policy: TokenPolicy, *, client_id: str, client_secret: str, scope: str | None
) -> IssuedTokens:
    """OAuth2 client-credentials: tenant and scopes from the registration, never the request."""
    tenant_id, client = parse_client_id(client_id)
    async with tenant_transaction(pool, tenant_id) as conn:
        row = await store.fetch_client(conn, tenant_id, client)
        active = await tenant_is_active(conn, tenant_id)
    if (
        row is None
        or row["revoked_at"] is not None
        or not secret_matches(client_secret, bytes(row["secret_hash"]))
    ):
        raise OAuthError("invalid_client", "client authentication failed", status=401)
    if not active:  # checked after the secret: a stranger learns nothing of the tenant
        raise OAuthError("invalid_client", "client authentication failed", status=401)
    scopes = granted_scopes(scope, row["scopes"])
    grant = Grant(tenant_id=tenant_id, subject=f"client:{client}", scopes=scopes, client_id=client_id)
    return _issued(policy, grant, _now(), None)


@dataclass(frozen=True)
class RegisteredClient:
    client_id: str
    name: str
    scopes: tuple[str, ...]
    created_at: dt.datetime
    revoked: bool
    client_secret: str | None = None
    """Present only in the answer to the registration: it is never shown again."""


def _require_buyer_admin(principal: Principal) -> None:
    if not principal.has_role(BUYER_ADMIN):
        raise Forbidden("only the tenant's buyer admins manage machine clients")


async def register_client(
    pool: asyncpg.Pool, principal: Principal, *, name: str, scopes: list[str]
) -> RegisteredClient:
    _require_buyer_admin(principal)
    try:
        chosen = validate_machine_scopes(scopes)
    except ValueError as exc:
        raise InvariantViolated(str(exc), errors=[FieldError("body.scopes", str(exc))]) from None
    client, (secret, secret_hash) = new_id(), new_client_secret()
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        if not await tenant_is_active(conn, principal.tenant_id):
            raise Forbidden("the tenant is deactivated (or unknown)")
        await store.insert_client(
            conn,
            tenant_id=principal.tenant_id,
            client_id=client,
            name=name.strip(),
            secret_hash=secret_hash,
            scopes=chosen,
            created_by=principal.subject,
        )
    return RegisteredClient(
        client_id=client_id_of(principal.tenant_id, client),
        name=name.strip(),
        scopes=chosen,
        created_at=_now(),
        revoked=False,
        client_secret=secret,
    )


async def list_clients(
    pool: asyncpg.Pool, principal: Principal, *, after: uuid.UUID | None, limit: int
) -> list[RegisteredClient]:
    _require_buyer_admin(principal)
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        rows = await store.list_clients(conn, principal.tenant_id, after=after, limit=limit)
    return [
        RegisteredClient(
            client_id=client_id_of(principal.tenant_id, r["client_id"]),
            name=r["name"],
            scopes=tuple(r["scopes"]),
            created_at=r["created_at"],
            revoked=r["revoked_at"] is not None,
        )
        for r in rows
    ]


async def revoke_client(pool: asyncpg.Pool, principal: Principal, client_id: str) -> None:
    _require_buyer_admin(principal)
    try:
        tenant_id, client = parse_client_id(client_id)
    except OAuthError:
        raise NotFound("no such machine client") from None
    if tenant_id != principal.tenant_id:
        raise NotFound("no such machine client")  # another tenant's: indistinguishable from none
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        if not await store.revoke_client(conn, principal.tenant_id, client):
            raise NotFound("no such machine client")
