"""A tenant's identity provider can neither exhaust the API nor aim it at internal addresses.

Real hostile servers on loopback: a discovery document without end or one that drips makes an
anonymous login start answer a clean 503 (problem+json) while the API's memory stays flat; in
production mode internal issuers are refused at configuration (422 naming the field), and a
discovery document that points the token endpoint or the keys at internal addresses never
gets the tenant's client secret.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import uuid
from collections.abc import AsyncIterator, Callable

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from services.organisations.adapters.keys import ensure_key_file
from services.organisations.adapters.oidc import OidcClient, ProviderMetadata, ProviderUnavailable
from services.organisations.app import create_app
from services.organisations.domain.login import IdentityProviderConfig, LoginAttempt, secret_reference
from services.organisations.settings import OrganisationsSettings
from shared.config import ServiceSettings
from shared.testing.issuer import TestIssuer
from shared.testing.plugin import Stack
from tests.factories import business_id
from tests.hostile import HostileServer, rss_bytes

Client = AsyncTestClient[Litestar]
MB = 1024 * 1024


def _settings(
    settings_for: Callable[[str], ServiceSettings], stack: Stack, *, development: bool
) -> OrganisationsSettings:
    keyring = stack.root / f"outbound-keyring-{uuid.uuid4().hex[:6]}.json"
    ensure_key_file(keyring)
    base = msgspec.structs.asdict(settings_for("organisations"))
    return OrganisationsSettings(
        **base
        | {
            "signing_keys_file": str(keyring),
            "public_base_url": "http://testserver.local",
            "allow_loopback_http_issuers": development,
        }
    )


@pytest.fixture(scope="module")
async def development(settings_for: Callable[[str], ServiceSettings], stack: Stack) -> AsyncIterator[Client]:
    async with AsyncTestClient(create_app(_settings(settings_for, stack, development=True))) as client:
        yield client


@pytest.fixture(scope="module")
async def production(settings_for: Callable[[str], ServiceSettings], stack: Stack) -> AsyncIterator[Client]:
    async with AsyncTestClient(create_app(_settings(settings_for, stack, development=False))) as client:
        yield client


async def _buyer(client: Client, issuer: TestIssuer) -> tuple[uuid.UUID, dict[str, str]]:
    platform = {"Authorization": f"Bearer {issuer.token(tenant_id=uuid.uuid4(), roles=['platform_admin'])}"}
    created = await client.post(
        "/organisations/tenants",
        json={"name": f"Tenant {uuid.uuid4().hex[:6]}", "kind": "buyer", "businessId": business_id()},
        headers=platform,
    )
    assert created.status_code == 201, created.text
    tenant = uuid.UUID(created.json()["id"])
    return tenant, {"Authorization": f"Bearer {issuer.token(tenant_id=tenant, roles=['buyer_admin'])}"}


async def _configured(client: Client, issuer: TestIssuer, issuer_url: str) -> uuid.UUID:
    tenant, headers = await _buyer(client, issuer)
    response = await client.put(
        "/organisations/identity-provider", json={"issuer": issuer_url, "clientId": "tila"}, headers=headers
    )
    assert response.status_code == 200, response.text
    return tenant


async def _start(client: Client, tenant: uuid.UUID) -> tuple[int, str, dict[str, object]]:
    response = await asyncio.wait_for(
        client.get(f"/organisations/login/{tenant}/start", follow_redirects=False), timeout=120
    )
    return response.status_code, response.headers["content-type"], response.json()


async def test_a_discovery_document_without_end_is_a_clean_503_and_the_api_stays_small(
    development: Client, issuer: TestIssuer
) -> None:
    with HostileServer("endless") as server:
        tenant = await _configured(development, issuer, server.base)
        before = rss_bytes()
        status, media_type, problem = await _start(development, tenant)  # anonymous
        grown = rss_bytes() - before
        assert server.requests, "discovery was tried"
    assert status == 503
    assert media_type == "application/problem+json"
    assert problem["detail"] == "the tenant's identity provider is unavailable; try again later"
    assert grown < 50 * MB, f"the API grew {grown // MB} MB"


async def test_a_compressed_discovery_document_is_cut_once_decoded(
    development: Client, issuer: TestIssuer
) -> None:
    with HostileServer("gzip") as server:
        tenant = await _configured(development, issuer, server.base)
        before = rss_bytes()
        status, _, _ = await _start(development, tenant)
        grown = rss_bytes() - before
    assert status == 503
    assert grown < 50 * MB, f"the API grew {grown // MB} MB for 300 MB of zeros"


async def test_a_discovery_document_that_drips_ends_at_the_deadline(
    development: Client, issuer: TestIssuer
) -> None:
    with HostileServer("drip", drip_interval=0.2) as server:
        tenant = await _configured(development, issuer, server.base)
        status, media_type, _ = await _start(development, tenant)
    assert (status, media_type) == (503, "application/problem+json")


@pytest.mark.parametrize(
    "issuer_url",
    [
        "https://169.254.169.254",
        "https://10.0.0.5",
        "https://localhost",
        "https://[::1]",
        "https://metadata.google.internal",
        "https://[64:ff9b::a9fe:a9fe]",
        "https://192.0.0.8",
        "https://idp.does-not-resolve.invalid",
    ],
)
async def test_in_production_an_internal_issuer_is_refused_naming_the_field(
    production: Client, issuer: TestIssuer, issuer_url: str
) -> None:
    _, headers = await _buyer(production, issuer)
    response = await production.put(
        "/organisations/identity-provider", json={"issuer": issuer_url, "clientId": "tila"}, headers=headers
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["body.issuer"]


async def test_in_development_an_internal_issuer_other_than_loopback_is_refused_too(
    development: Client, issuer: TestIssuer
) -> None:
    _, headers = await _buyer(development, issuer)
    for issuer_url in ("https://10.0.0.5", "https://169.254.169.254", "https://[64:ff9b::7f00:1]"):
        response = await development.put(
            "/organisations/identity-provider",
            json={"issuer": issuer_url, "clientId": "tila"},
            headers=headers,
        )
        assert response.status_code == 422, (issuer_url, response.text)
        assert response.json()["errors"][0]["field"] == "body.issuer"


@pytest.mark.parametrize(
    ("token_endpoint", "jwks_uri"),
    [
        ("https://169.254.169.254/token", "{base}/jwks"),
        ("{base}/token", "https://10.0.0.5/jwks"),
        ("https://[::ffff:a9fe:a9fe]/token", "{base}/jwks"),
        ("https://metadata.google.internal/token", "{base}/jwks"),
    ],
)
async def test_a_discovery_document_pointing_at_internal_addresses_is_refused(
    development: Client, issuer: TestIssuer, token_endpoint: str, jwks_uri: str
) -> None:
    with HostileServer("endless") as server:
        base = server.base
        server.answers["/.well-known/openid-configuration"] = lambda: {
            "issuer": base,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": token_endpoint.format(base=base),
            "jwks_uri": jwks_uri.format(base=base),
        }
        tenant = await _configured(development, issuer, base)
        status, media_type, _ = await _start(development, tenant)
    assert (status, media_type) == (503, "application/problem+json")


def _attempt(tenant: uuid.UUID) -> LoginAttempt:
    return LoginAttempt(
        tenant_id=tenant,
        state="s",
        issuer="https://idp.example",
        nonce="n",
        code_verifier="v" * 43,
        redirect_uri="http://testserver.local/cb",
        expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5),
    )


async def test_the_client_secret_never_goes_to_a_token_endpoint_on_an_internal_address() -> None:
    tenant = uuid.uuid4()
    reference = secret_reference(tenant)
    os.environ[reference.removeprefix("env:")] = "the-tenants-client-secret"
    config = IdentityProviderConfig(
        tenant_id=tenant, issuer="https://idp.example", client_id="tila", client_secret_ref=reference
    )
    oidc = OidcClient()  # production: no loopback
    try:
        with HostileServer("endless") as server:
            for host in (
                f"127.0.0.1:{server.port}",
                f"localhost:{server.port}",
                f"[::ffff:127.0.0.1]:{server.port}",
            ):
                metadata = ProviderMetadata(
                    issuer="https://idp.example",
                    authorization_endpoint="https://idp.example/authorize",
                    token_endpoint=f"https://{host}/token",
                    jwks_uri="https://idp.example/jwks",
                )
                with pytest.raises(ProviderUnavailable):
                    await oidc.exchange_code(config, metadata, _attempt(tenant), "code")
            assert server.requests == []  # not even a connection
    finally:
        await oidc.aclose()


async def test_a_token_endpoint_answering_without_end_is_unavailable_and_memory_stays_flat() -> None:
    tenant = uuid.uuid4()
    reference = secret_reference(tenant)
    os.environ[reference.removeprefix("env:")] = "the-tenants-client-secret"
    config = IdentityProviderConfig(
        tenant_id=tenant, issuer="https://idp.example", client_id="tila", client_secret_ref=reference
    )
    oidc = OidcClient(allow_loopback_http=True)
    try:
        with HostileServer("endless") as server:
            metadata = ProviderMetadata(
                issuer=server.base,
                authorization_endpoint=f"{server.base}/authorize",
                token_endpoint=f"{server.base}/token",
                jwks_uri=f"{server.base}/jwks",
            )
            before = rss_bytes()
            with pytest.raises(ProviderUnavailable):
                await asyncio.wait_for(oidc.exchange_code(config, metadata, _attempt(tenant), "code"), 120)
            grown = rss_bytes() - before
            (request_line, headers, body) = server.requests[0]
    finally:
        await oidc.aclose()
    assert request_line.startswith("POST /token ")
    assert headers["authorization"].startswith("Basic ")
    assert b"grant_type=authorization_code" in body
    assert grown < 50 * MB, f"the API grew {grown // MB} MB"
