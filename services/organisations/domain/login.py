"""Login through a tenant's own OpenID provider: the rules, without I/O.

The relying-party checks follow OIDC Core §3.1.3.7 and the OAuth security BCP (RFC 9700):
state, nonce and PKCE verifier are single-use and bound to one tenant and one issuer; the
ID token's issuer must equal the configured one exactly, its audience must be our client
id, it must be fresh and carry our nonce; a person is found by (issuer, subject).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal
from urllib.parse import urlsplit

import msgspec

from shared.addresses import TargetNotAllowed, check_url

__all__ = [
    "ATTEMPT_LIFETIME",
    "IdentityProviderConfig",
    "LoginAttempt",
    "LoginRefused",
    "browser_binding",
    "check_browser_binding",
    "check_callback",
    "check_email",
    "check_id_token_claims",
    "code_challenge",
    "issuer_allowed",
    "new_attempt",
    "roles_from_claims",
    "secret_reference",
]

ATTEMPT_LIFETIME = dt.timedelta(minutes=10)
"""How long a started login may take (ASVS 10.4.3 allows codes ten minutes at most)."""

Provisioning = Literal["pre_provisioned", "claims"]


class LoginRefused(Exception):
    """The login fails closed. ``reason`` is a short code, safe to show and to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class IdentityProviderConfig(msgspec.Struct, frozen=True, kw_only=True):
    tenant_id: uuid.UUID
    issuer: str
    client_id: str
    client_secret_ref: str
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    allowed_email_domains: tuple[str, ...] = ()
    provisioning: Provisioning = "pre_provisioned"
    """``pre_provisioned``: an admin created the person first (matched once by verified e-mail,
    then by issuer + subject); ``claims``: the person is created from the ID token's claims."""
    role_claim: str | None = None
    role_map: Mapping[str, str] = msgspec.field(default_factory=dict)
    """IdP group name -> Tila role, for ``claims`` provisioning."""


class LoginAttempt(msgspec.Struct, frozen=True, kw_only=True):
    tenant_id: uuid.UUID
    state: str
    issuer: str
    nonce: str
    code_verifier: str
    redirect_uri: str
    expires_at: dt.datetime
    used_at: dt.datetime | None = None
    invitation_id: uuid.UUID | None = None
    """An invitation given at the start: its callback links the login to the invited person."""


def issuer_allowed(issuer: str, *, allow_loopback_http: bool = False) -> bool:
    """An issuer is an https URL with a host (RFC 8414); plain http only to this machine, locally."""
    try:
        parts = urlsplit(issuer)
    except ValueError:
        return False
    if parts.query or parts.fragment or not parts.hostname or parts.username or parts.password:
        return False
    if not (
        parts.scheme == "https"
        or (allow_loopback_http and parts.scheme == "http" and parts.hostname in _LOOPBACK)
    ):
        return False
    try:  # no literal non-public address or internal name (the resolved addresses are checked at I/O)
        check_url(issuer, allow_loopback_http=allow_loopback_http)
    except TargetNotAllowed:
        return False
    return True


_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def browser_binding(attempt: LoginAttempt) -> str:
    """What the browser that started a login keeps in a cookie: the state's hash, not the state."""
    return hashlib.sha256(attempt.state.encode()).hexdigest()


def check_browser_binding(attempt: LoginAttempt, binding: str | None) -> None:
    """The callback comes from the browser that started the login (ASVS 10.1.2), not a victim's."""
    if binding is None or not secrets.compare_digest(binding.encode(), browser_binding(attempt).encode()):
        raise LoginRefused("browser_mismatch")


def secret_reference(tenant_id: uuid.UUID) -> str:
    """Where a tenant's client secret lives: a name Tila derives, never one the tenant picks —
    otherwise an admin could make Tila send any secret of the process to a server of theirs."""
    return f"env:TILA_IDP_SECRET_{tenant_id.hex.upper()}"


def new_attempt(
    config: IdentityProviderConfig,
    *,
    redirect_uri: str,
    now: dt.datetime,
    invitation_id: uuid.UUID | None = None,
) -> LoginAttempt:
    return LoginAttempt(
        invitation_id=invitation_id,
        tenant_id=config.tenant_id,
        state=secrets.token_urlsafe(32),
        issuer=config.issuer,
        nonce=secrets.token_urlsafe(32),
        code_verifier=secrets.token_urlsafe(48),
        redirect_uri=redirect_uri,
        expires_at=now + ATTEMPT_LIFETIME,
    )


def code_challenge(verifier: str) -> str:
    """PKCE S256 (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def check_callback(
    attempt: LoginAttempt | None, *, issuer_param: str | None, now: dt.datetime
) -> LoginAttempt:
    """The callback belongs to a live attempt of this tenant and, if it says so, this issuer."""
    if attempt is None:
        raise LoginRefused("unknown_state")  # never issued, or issued for another tenant
    if attempt.used_at is not None:
        raise LoginRefused("state_already_used")
    if attempt.expires_at <= now:
        raise LoginRefused("state_expired")
    if issuer_param is not None and issuer_param != attempt.issuer:
        raise LoginRefused("issuer_mismatch")  # RFC 9207: a mix-up between providers
    return attempt


def check_id_token_claims(
    claims: Mapping[str, Any],
    *,
    issuer: str,
    client_id: str,
    nonce: str,
    now: dt.datetime,
    leeway: dt.timedelta = dt.timedelta(seconds=60),
    max_age: dt.timedelta = dt.timedelta(minutes=10),
) -> None:
    """OIDC Core §3.1.3.7 steps 2-4 and 9-11; the signature is checked before this."""
    if claims.get("iss") != issuer:
        raise LoginRefused("id_token_issuer")
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else list(audience or [])
    if client_id not in audiences:
        raise LoginRefused("id_token_audience")
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise LoginRefused("id_token_audience")
    timestamp = now.timestamp()
    expires = claims.get("exp")
    if not isinstance(expires, int | float) or expires + leeway.total_seconds() <= timestamp:
        raise LoginRefused("id_token_expired")
    issued = claims.get("iat")
    if not isinstance(issued, int | float) or issued > timestamp + leeway.total_seconds():
        raise LoginRefused("id_token_issued_in_future")
    if timestamp - issued > (max_age + leeway).total_seconds():
        raise LoginRefused("id_token_stale")
    if not isinstance(claims.get("nonce"), str) or not secrets.compare_digest(
        claims["nonce"].encode(), nonce.encode()
    ):
        raise LoginRefused("id_token_nonce")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise LoginRefused("id_token_subject")


def check_email(claims: Mapping[str, Any], allowed_domains: Sequence[str]) -> str | None:
    """The verified e-mail address, if any; refused when the tenant limits domains and it is outside."""
    email = claims.get("email")
    verified = claims.get("email_verified", False) is True
    address = email.strip().lower() if isinstance(email, str) and verified else None
    if allowed_domains and isinstance(email, str) and not verified:
        raise LoginRefused("email_not_verified")
    if allowed_domains:
        domain = address.rpartition("@")[2] if address else None
        if domain not in {d.lower() for d in allowed_domains}:
            raise LoginRefused("email_domain_not_allowed")
    return address


def roles_from_claims(claims: Mapping[str, Any], config: IdentityProviderConfig) -> tuple[str, ...]:
    """Tila roles from the IdP's group claim, through the tenant's map; unknown groups grant nothing."""
    if config.role_claim is None:
        return ()
    value = claims.get(config.role_claim)
    groups = [value] if isinstance(value, str) else [g for g in (value or []) if isinstance(g, str)]
    return tuple(sorted({config.role_map[g] for g in groups if g in config.role_map}))
