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

from services.organisations.domain.login import IdentityProviderConfig, LoginAttempt, LoginRefused
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


def resolve_secret(reference: str) -> str:
    """A client secret from its reference; only ``env:NAME`` exists so far (a vault later)."""
    kind, _, name = reference.partition(":")
    if kind != "env" or not name:
        raise LoginRefused("client_secret_reference_unsupported")
    value = os.environ.get(name)
    if value is None:
        raise LoginRefused("client_secret_missing")
    return value


class OidcClient:
    """Discovery documents and key sets per issuer, cached; one HTTP client for all."""

    def __init__(self, *, timeout: float = 5.0, metadata_ttl: float = 3600.0) -> None:
        self._http = httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        self._metadata: dict[str, tuple[float, ProviderMetadata]] = {}
        self._jwks: dict[str, JwksClient] = {}
        self._ttl = metadata_ttl
        self._lock = asyncio.Lock()

    async def aclose(self) -> None:
        for client in self._jwks.values():
            await client.aclose()
        await self._http.aclose()

    async def metadata(self, issuer: str) -> ProviderMetadata:
        cached = self._metadata.get(issuer)
        if cached and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        async with self._lock:
            try:
                response = await self._http.get(issuer.rstrip("/") + "/.well-known/openid-configuration")
                response.raise_for_status()
                document = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                log.warning("oidc_discovery_failed", issuer=issuer, error=type(exc).__name__)
                raise LoginRefused("provider_unreachable") from None
            # ASVS 10.5.3: metadata that names another issuer is not this provider's.
            if document.get("issuer") != issuer:
                raise LoginRefused("provider_metadata_issuer_mismatch")
            try:
                metadata = ProviderMetadata(
                    issuer=issuer,
                    authorization_endpoint=document["authorization_endpoint"],
                    token_endpoint=document["token_endpoint"],
                    jwks_uri=document["jwks_uri"],
                )
            except KeyError:
                raise LoginRefused("provider_metadata_incomplete") from None
            self._metadata[issuer] = (time.monotonic(), metadata)
            return metadata

    async def exchange_code(
        self, config: IdentityProviderConfig, metadata: ProviderMetadata, attempt: LoginAttempt, code: str
    ) -> str:
        """Trade the code (with the PKCE verifier) for tokens; return the raw ID token."""
        client = AsyncOAuth2Client(
            client_id=config.client_id,
            client_secret=resolve_secret(config.client_secret_ref),
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
