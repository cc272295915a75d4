"""Talking to tenants' OpenID providers: discovery, their keys, the code exchange, ID token signatures.

Everything here is I/O or cryptography; what the answers must say is decided in
``domain/login.py``.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jws, jwt
from joserfc.errors import BadSignatureError, InvalidKeyIdError, JoseError

from services.organisations.domain.login import (
    IdentityProviderConfig,
    LoginAttempt,
    LoginRefused,
    issuer_allowed,
    secret_reference,
)
from shared.auth.errors import JwksUnavailable
from shared.auth.jwks import JwksClient
from shared.logging import get_logger

__all__ = ["OidcClient", "ProviderMetadata", "resolve_secret"]

log = get_logger(__name__)

ID_TOKEN_ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA"]
"""Asymmetric only: an HS256 token "signed" with a public key, or ``alg: none``, never passes."""


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    iss_parameter_supported: bool = False


def resolve_secret(config: IdentityProviderConfig) -> str:
    """The tenant's client secret: only from the reference Tila derived for that tenant."""
    if config.client_secret_ref != secret_reference(config.tenant_id):
        raise LoginRefused("client_secret_reference_unsupported")
    value = os.environ.get(config.client_secret_ref.removeprefix("env:"))
    if value is None:
        raise LoginRefused("client_secret_missing")
    return value


class OidcClient:
    """Discovery documents and key sets per issuer, cached; one HTTP client for all."""

    def __init__(
        self, *, timeout: float = 5.0, metadata_ttl: float = 3600.0, failure_ttl: float = 30.0
    ) -> None:
        self._http = httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        self._timeout = timeout
        self._metadata: dict[str, tuple[float, ProviderMetadata | LoginRefused]] = {}
        self._jwks: dict[str, JwksClient] = {}
        self._ttl = metadata_ttl
        self._failure_ttl = failure_ttl
        # One lock per issuer: a slow provider delays only its own tenant's logins.
        self._locks: dict[str, asyncio.Lock] = {}

    async def aclose(self) -> None:
        for client in self._jwks.values():
            await client.aclose()
        await self._http.aclose()

    async def metadata(self, issuer: str, *, allow_loopback_http: bool = False) -> ProviderMetadata:
        lock = self._locks.setdefault(issuer, asyncio.Lock())
        async with lock:
            cached = self._metadata.get(issuer)
            if cached is not None:
                age = time.monotonic() - cached[0]
                if isinstance(cached[1], ProviderMetadata) and age < self._ttl:
                    return cached[1]
                if isinstance(cached[1], LoginRefused) and age < self._failure_ttl:
                    raise cached[1]
            try:
                found = await self._discover(issuer, allow_loopback_http)
            except LoginRefused as refused:
                self._metadata[issuer] = (time.monotonic(), refused)
                raise
            self._metadata[issuer] = (time.monotonic(), found)
            return found

    async def _discover(self, issuer: str, allow_loopback_http: bool) -> ProviderMetadata:
        if not issuer_allowed(issuer, allow_loopback_http=allow_loopback_http):
            raise LoginRefused("provider_unavailable")
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            async with asyncio.timeout(self._timeout * 2):  # the whole exchange, not each read
                response = await self._http.get(url)
            response.raise_for_status()
            if len(response.content) > 256 * 1024:
                raise ValueError("discovery document too large")
            document = response.json()
        except (httpx.HTTPError, ValueError, TimeoutError) as exc:
            log.warning("oidc_discovery_failed", issuer=issuer, error=type(exc).__name__)
            raise LoginRefused("provider_unavailable") from None
        # ASVS 10.5.3: metadata that names another issuer is not this provider's. One reason for
        # every failure, so the answer says nothing about what listens where.
        if not isinstance(document, dict) or document.get("issuer") != issuer:
            raise LoginRefused("provider_unavailable")
        endpoints = [document.get(k) for k in ("authorization_endpoint", "token_endpoint", "jwks_uri")]
        if not all(
            isinstance(e, str) and issuer_allowed(e, allow_loopback_http=allow_loopback_http)
            for e in endpoints
        ):
            raise LoginRefused("provider_unavailable")
        return ProviderMetadata(
            issuer=issuer,
            authorization_endpoint=document["authorization_endpoint"],
            token_endpoint=document["token_endpoint"],
            jwks_uri=document["jwks_uri"],
            iss_parameter_supported=document.get("authorization_response_iss_parameter_supported") is True,
        )

    async def exchange_code(
        self, config: IdentityProviderConfig, metadata: ProviderMetadata, attempt: LoginAttempt, code: str
    ) -> str:
        """Trade the code (with the PKCE verifier) for tokens; return the raw ID token."""
        client = AsyncOAuth2Client(
            client_id=config.client_id,
            client_secret=resolve_secret(config),
            token_endpoint_auth_method="client_secret_basic",  # noqa: S106 (a method's name)
            redirect_uri=attempt.redirect_uri,
            timeout=5.0,
        )
        try:
            token = await client.fetch_token(
                metadata.token_endpoint,
                grant_type="authorization_code",
                code=code,
                code_verifier=attempt.code_verifier,
            )
        except Exception as exc:  # authlib raises OAuthError subclasses and httpx errors alike
            log.warning("oidc_code_exchange_failed", issuer=config.issuer, error=type(exc).__name__)
            raise LoginRefused("code_exchange_failed") from None
        finally:
            await client.aclose()
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
        jwks = self._jwks.get(metadata.jwks_uri)
        if jwks is None:
            jwks = self._jwks[metadata.jwks_uri] = JwksClient(metadata.jwks_uri, min_refresh_interval=10)
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
