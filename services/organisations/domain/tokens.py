"""Tila's own tokens: what an access token says, and the rules of refresh tokens and machine clients.

Access tokens are short-lived JWTs every service verifies on its own. Refresh tokens are
opaque, stored only as hashes, and rotate on every use; presenting one that was already
spent means it leaked, so its whole family is revoked (OWASP ASVS 10.4.5). Machine clients
authenticate with a secret shown once; their tenant and scopes come from the registration.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Collection, Iterable
from typing import Any

import msgspec

__all__ = [
    "MACHINE_SCOPES",
    "Grant",
    "OAuthError",
    "RefreshState",
    "RefreshVerdict",
    "access_claims",
    "client_id_of",
    "granted_scopes",
    "hash_secret",
    "judge_refresh",
    "new_client_secret",
    "new_refresh_token",
    "parse_client_id",
    "parse_refresh_token",
    "secret_matches",
    "validate_machine_scopes",
]

MACHINE_SCOPES = frozenset({"events:read", "webhooks:manage"})
"""What an HR or finance system may be granted."""


class OAuthError(Exception):
    """An RFC 6749 §5.2 error: the token endpoint answers with ``error`` and a status."""

    def __init__(self, error: str, description: str, *, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


class Grant(msgspec.Struct, frozen=True, kw_only=True):
    """Who a token speaks for, decided by us: tenant and roles never come from the request."""

    tenant_id: uuid.UUID
    subject: str
    roles: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    client_id: str | None = None


def access_claims(
    grant: Grant, *, issuer: str, audience: str, now: dt.datetime, lifetime: dt.timedelta
) -> dict[str, Any]:
    issued = int(now.timestamp())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": grant.subject,
        "tid": str(grant.tenant_id),
        "roles": list(grant.roles),
        "scope": " ".join(grant.scopes),
        "iat": issued,
        "exp": issued + int(lifetime.total_seconds()),
        "jti": str(uuid.uuid4()),
    }
    if grant.client_id is not None:
        claims["client_id"] = grant.client_id
    return claims


def hash_secret(secret: str) -> bytes:
    # Our secrets carry 256 random bits: a fast hash is enough; a slow one would only cost CPU.
    return hashlib.sha256(secret.encode()).digest()


def secret_matches(secret: str, stored_hash: bytes) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def new_refresh_token(tenant_id: uuid.UUID) -> tuple[str, bytes]:
    """A refresh token and its hash. The tenant prefix lets us find it under row-level security."""
    token = f"{tenant_id}.{secrets.token_urlsafe(32)}"
    return token, hash_secret(token)


def parse_refresh_token(token: str) -> tuple[uuid.UUID, bytes]:
    prefix, _, rest = token.partition(".")
    try:
        tenant_id = uuid.UUID(prefix)
    except ValueError:
        raise OAuthError("invalid_grant", "unknown refresh token") from None
    if len(rest) < 32:
        raise OAuthError("invalid_grant", "unknown refresh token")
    return tenant_id, hash_secret(token)


class RefreshState(msgspec.Struct, frozen=True, kw_only=True):
    family_id: uuid.UUID
    expires_at: dt.datetime
    used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class RefreshVerdict(enum.Enum):
    VALID = "valid"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    REVOKED = "revoked"
    REUSED = "reused"
    """Already spent: someone else holds a copy. The family must be revoked."""


def judge_refresh(state: RefreshState | None, now: dt.datetime) -> RefreshVerdict:
    if state is None:
        return RefreshVerdict.UNKNOWN
    if state.revoked_at is not None:
        return RefreshVerdict.REVOKED
    if state.used_at is not None:
        return RefreshVerdict.REUSED
    if state.expires_at <= now:
        return RefreshVerdict.EXPIRED
    return RefreshVerdict.VALID


def new_client_secret() -> tuple[str, bytes]:
    secret = secrets.token_urlsafe(32)
    return secret, hash_secret(secret)


def client_id_of(tenant_id: uuid.UUID, client: uuid.UUID) -> str:
    """Public client id: the tenant first, so the registration is found under RLS."""
    return f"{tenant_id}.{client}"


def parse_client_id(client_id: str) -> tuple[uuid.UUID, uuid.UUID]:
    tenant, _, client = client_id.partition(".")
    try:
        return uuid.UUID(tenant), uuid.UUID(client)
    except ValueError:
        raise OAuthError("invalid_client", "client authentication failed", status=401) from None


def granted_scopes(requested: str | None, registered: Collection[str]) -> tuple[str, ...]:
    """The scopes a client-credentials token gets: all registered ones, or the asked-for subset.

    Asking for anything beyond the registration is ``invalid_scope``: never quietly granted.
    """
    if not requested:
        return tuple(sorted(registered))
    asked = set(requested.split())
    if not asked <= set(registered):
        raise OAuthError("invalid_scope", "the client is not registered for the requested scope")
    return tuple(sorted(asked))


def validate_machine_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(sorted(set(scopes)))
    unknown = [scope for scope in chosen if scope not in MACHINE_SCOPES]
    if not chosen or unknown:
        raise ValueError(f"scopes must be a non-empty subset of {sorted(MACHINE_SCOPES)}")
    return chosen
