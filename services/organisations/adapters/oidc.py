"""Talking to tenants' OpenID providers: discovery, their keys, the code exchange, ID token signatures.

Everything here is I/O or cryptography; what the answers must say is decided in
``domain/login.py``.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

from joserfc import jws, jwt
from joserfc.errors import BadSignatureError, InvalidKeyIdError, JoseError

from services.organisations.domain.login import (
    IdentityProviderConfig,
    LoginAttempt,
    LoginRefused,
    issuer_allowed,
    secret_reference,
)
from shared.addresses import TargetNotAllowed, check_url
from shared.auth.errors import JwksUnavailable
from shared.auth.jwks import JwksClient
from shared.errors import Unavailable
from shared.http.outbound import OutboundClient, OutboundError, TargetRefused
from shared.logging import get_logger

__all__ = [
    "DISCOVERY_LIMIT",
    "TOKEN_ANSWER_LIMIT",
    "OidcClient",
    "ProviderMetadata",
    "ProviderUnavailable",
    "resolve_secret",
]

log = get_logger(__name__)

ID_TOKEN_ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA"]
"""Asymmetric only: an HS256 token "signed" with a public key, or ``alg: none``, never passes."""

DISCOVERY_LIMIT = 256 * 1024
"""The most of a discovery document read (real ones are a few kilobytes)."""
TOKEN_ANSWER_LIMIT = 64 * 1024
"""The most of a token endpoint's answer read (an ID token and an access token)."""


class ProviderUnavailable(Unavailable):
    """The tenant's provider could not be used: it did not answer, answered too much or too
    slowly, answered something else than its metadata, or lives at an address Tila does not call.
    One answer (503) for all of them, so it says nothing about what listens where."""

    def __init__(self) -> None:
        super().__init__("the tenant's identity provider is unavailable; try again later")


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    iss_parameter_supported: bool = False
    allow_loopback_http: bool = False
    """Discovered in development mode: its token endpoint and keys may be on loopback too."""


def resolve_secret(config: IdentityProviderConfig) -> str:
    """The tenant's client secret: only from the reference Tila derived for that tenant."""
    if config.client_secret_ref != secret_reference(config.tenant_id):
        raise LoginRefused("client_secret_reference_unsupported")
    value = os.environ.get(config.client_secret_ref.removeprefix("env:"))
    if value is None:
        raise LoginRefused("client_secret_missing")
    return value


def _callable(url: object, *, allow_loopback_http: bool) -> bool:
    """An endpoint Tila itself calls: an issuer-like URL the outbound address policy allows."""
    if not isinstance(url, str) or not issuer_allowed(url, allow_loopback_http=allow_loopback_http):
        return False
    try:
        check_url(url, allow_loopback_http=allow_loopback_http)
    except TargetNotAllowed:
        return False
    return True


class OidcClient:
    """Discovery documents and key sets per issuer, cached.

    Every call to a provider (discovery, the token endpoint, its JWKS) goes through
    :class:`shared.http.outbound.OutboundClient`: the address policy at each call (resolve,
    refuse any non-public address, connect to the checked one), a byte cap on each answer and
    a deadline on each exchange. ``allow_loopback_http`` is for development and tests only.
    """

    def __init__(
        self,
        *,
        timeout: float = 5.0,
        metadata_ttl: float = 3600.0,
        failure_ttl: float = 30.0,
        allow_loopback_http: bool = False,
    ) -> None:
        self._timeout = timeout
        self._allow_loopback = allow_loopback_http
        self._outbound: dict[bool, OutboundClient] = {}
        self._metadata: dict[tuple[str, bool], tuple[float, ProviderMetadata | Exception]] = {}
        self._jwks: dict[tuple[str, bool], JwksClient] = {}
        self._ttl = metadata_ttl
        self._failure_ttl = failure_ttl
        # One lock per issuer: a slow provider delays only its own tenant's logins.
        self._locks: dict[str, asyncio.Lock] = {}

    def _client(self, allow_loopback: bool) -> OutboundClient:
        client = self._outbound.get(allow_loopback)
        if client is None:
            client = self._outbound[allow_loopback] = OutboundClient(
                allow_loopback=allow_loopback, timeout=self._timeout, user_agent="Tila-Login/1"
            )
        return client

    async def aclose(self) -> None:
        for client in self._jwks.values():
            await client.aclose()
        for outbound in self._outbound.values():
            await outbound.aclose()

    async def metadata(self, issuer: str, *, allow_loopback_http: bool = False) -> ProviderMetadata:
        """The provider's metadata, discovered (and cached).

        :raises ProviderUnavailable: discovery failed (cached for ``failure_ttl``)."""
        loopback = self._allow_loopback or allow_loopback_http
        lock = self._locks.setdefault(issuer, asyncio.Lock())
        async with lock:
            cached = self._metadata.get((issuer, loopback))
            if cached is not None:
                age = time.monotonic() - cached[0]
                if isinstance(cached[1], ProviderMetadata) and age < self._ttl:
                    return cached[1]
                if isinstance(cached[1], Exception) and age < self._failure_ttl:
                    raise cached[1]
            try:
                found = await self._discover(issuer, loopback)
            except (LoginRefused, ProviderUnavailable) as refused:
                self._metadata[(issuer, loopback)] = (time.monotonic(), refused)
                raise
            self._metadata[(issuer, loopback)] = (time.monotonic(), found)
            return found

    async def _discover(self, issuer: str, allow_loopback_http: bool) -> ProviderMetadata:
        if not _callable(issuer, allow_loopback_http=allow_loopback_http):
            log.warning("oidc_discovery_refused", issuer=issuer, error="issuer_not_allowed")
            raise ProviderUnavailable()
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            answer = await self._client(allow_loopback_http).request(
                "GET",
                url,
                headers={"accept": "application/json"},
                max_bytes=DISCOVERY_LIMIT,
                deadline=self._timeout * 2,  # the whole exchange, not each read
            )
            if not answer.is_success:
                raise OutboundError(f"HTTP {answer.status_code}", reason=f"http_{answer.status_code}")
            document = answer.json()
        except TargetRefused as exc:
            log.warning("oidc_discovery_refused", issuer=issuer, error=exc.detail)
            raise ProviderUnavailable() from None
        except (OutboundError, ValueError) as exc:
            log.warning(
                "oidc_discovery_failed", issuer=issuer, error=getattr(exc, "reason", "malformed_json")
            )
            raise ProviderUnavailable() from None
        # ASVS 10.5.3: metadata that names another issuer is not this provider's. One reason for
        # every failure, so the answer says nothing about what listens where.
        if not isinstance(document, dict) or document.get("issuer") != issuer:
            log.warning("oidc_discovery_failed", issuer=issuer, error="issuer_mismatch")
            raise ProviderUnavailable()
        # The browser goes to the authorization endpoint; Tila itself calls the token endpoint
        # (with the tenant's client secret) and the JWKS: those must pass the address policy.
        authorization = document.get("authorization_endpoint")
        if not (
            isinstance(authorization, str)
            and issuer_allowed(authorization, allow_loopback_http=allow_loopback_http)
            and all(
                _callable(document.get(k), allow_loopback_http=allow_loopback_http)
                for k in ("token_endpoint", "jwks_uri")
            )
        ):
            log.warning("oidc_discovery_failed", issuer=issuer, error="endpoint_not_allowed")
            raise ProviderUnavailable()
        return ProviderMetadata(
            issuer=issuer,
            authorization_endpoint=document["authorization_endpoint"],
            token_endpoint=document["token_endpoint"],
            jwks_uri=document["jwks_uri"],
            iss_parameter_supported=document.get("authorization_response_iss_parameter_supported") is True,
            allow_loopback_http=allow_loopback_http,
        )

    def _loopback(self, metadata: ProviderMetadata) -> bool:
        return self._allow_loopback or metadata.allow_loopback_http

    async def exchange_code(
        self, config: IdentityProviderConfig, metadata: ProviderMetadata, attempt: LoginAttempt, code: str
    ) -> str:
        """Trade the code (with the PKCE verifier) for tokens; return the raw ID token.

        The client authenticates with HTTP Basic (``client_secret_basic``, RFC 6749 §2.3.1);
        the secret goes only to a token endpoint whose addresses pass the policy right now."""
        secret = resolve_secret(config)
        credentials = f"{quote_plus(config.client_id)}:{quote_plus(secret)}".encode()
        try:
            answer = await self._client(self._loopback(metadata)).request(
                "POST",
                metadata.token_endpoint,
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": attempt.redirect_uri,
                    "code_verifier": attempt.code_verifier,
                },
                headers={
                    "authorization": "Basic " + base64.b64encode(credentials).decode("ascii"),
                    "accept": "application/json",
                },
                max_bytes=TOKEN_ANSWER_LIMIT,
                deadline=self._timeout * 2,
            )
        except TargetRefused as exc:
            log.warning("oidc_code_exchange_refused", issuer=config.issuer, error=exc.detail)
            raise ProviderUnavailable() from None
        except OutboundError as exc:
            log.warning("oidc_code_exchange_failed", issuer=config.issuer, error=exc.reason)
            raise ProviderUnavailable() from None
        try:
            token = answer.json()
        except ValueError:
            token = None
        if not answer.is_success or not isinstance(token, dict) or "error" in token:
            error = token.get("error") if isinstance(token, dict) else None
            log.warning(
                "oidc_code_exchange_failed",
                issuer=config.issuer,
                error=error if isinstance(error, str) else f"http_{answer.status_code}",
            )
            raise LoginRefused("code_exchange_failed")
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise LoginRefused("no_id_token")
        return id_token

    async def verified_claims(self, metadata: ProviderMetadata, id_token: str) -> dict[str, Any]:
        """The ID token's claims once its signature checks out against the provider's keys."""
        try:
            header = jws.extract_compact(id_token.encode("ascii")).headers()
        except (JoseError, ValueError, TypeError):
            raise LoginRefused("id_token_malformed") from None
        if header.get("alg") not in ID_TOKEN_ALGORITHMS:
            raise LoginRefused("id_token_algorithm")
        loopback = self._loopback(metadata)
        jwks = self._jwks.get((metadata.jwks_uri, loopback))
        if jwks is None:
            jwks = self._jwks[(metadata.jwks_uri, loopback)] = JwksClient(
                metadata.jwks_uri,
                min_refresh_interval=10,
                timeout=self._timeout,
                outbound=self._client(loopback),
            )
        try:
            key_set = await jwks.get_key_set(header.get("kid"))
            claims: dict[str, Any] = jwt.decode(id_token, key_set, algorithms=ID_TOKEN_ALGORITHMS).claims
        except JwksUnavailable:
            raise LoginRefused("provider_keys_unavailable") from None
        except (InvalidKeyIdError, BadSignatureError):
            raise LoginRefused("id_token_signature") from None
        except (JoseError, ValueError, TypeError):
            raise LoginRefused("id_token_malformed") from None
        return claims
