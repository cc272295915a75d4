"""shared.auth against a real issuer: JWKS over HTTP, real signatures, a real Litestar app."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from litestar import Litestar, get
from litestar.di import NamedDependency, Provide
from litestar.testing import AsyncTestClient
from structlog.contextvars import get_contextvars

from shared.auth import (
    APPROVER,
    BUYER_ADMIN,
    PLATFORM_ADMIN,
    VERIFIER_STATE_KEY,
    InvalidToken,
    JwksClient,
    JwksUnavailable,
    Principal,
    TokenVerifier,
    auth_middleware,
    new_signing_key,
    provide_principal,
    requires_role,
    requires_scope,
    sign_token,
)
from shared.embedded.servers import free_port
from shared.testing.issuer import TestIssuer

TENANT = uuid.UUID("0f5b6c1e-8d3a-4c1b-9a57-3e2d1c0b9a88")


class ManualClock:
    """A monotonic clock the test moves, so rate limits and cache ages are exact."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


MakeVerifier = Callable[..., TokenVerifier]


@pytest.fixture(scope="module")
def issuer() -> Iterator[TestIssuer]:
    with TestIssuer() as running:
        yield running


@pytest.fixture
async def make_verifier(issuer: TestIssuer) -> AsyncIterator[MakeVerifier]:
    """Builds verifiers of the module's issuer, each with its own (empty) JWKS cache."""
    clients: list[JwksClient] = []

    def make(
        *,
        url: str | None = None,
        clock: ManualClock | None = None,
        min_refresh_interval: float = 30.0,
        max_age: float = 300.0,
        timeout: float = 5.0,
    ) -> TokenVerifier:
        client = JwksClient(
            url or issuer.jwks_url,
            clock=clock or ManualClock(),
            min_refresh_interval=min_refresh_interval,
            max_age=max_age,
            timeout=timeout,
        )
        clients.append(client)
        return TokenVerifier(client, issuer=issuer.issuer, audience=issuer.audience)

    yield make
    for client in clients:
        await client.aclose()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


def _claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def _resigned(issuer: TestIssuer, **overrides: Any) -> str:
    """A token of the issuer's current key whose claims are exactly the defaults plus ``overrides``."""
    return sign_token(issuer.signing_key, {**_claims_of(issuer.token(tenant_id=TENANT)), **overrides})


async def _rejects(verifier: TokenVerifier, token: str, reason: str) -> None:
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(token)
    assert reason in caught.value.reason
    if len(token) > 10:  # shorter "tokens" (e.g. "") occur in any message by chance
        assert token not in str(caught.value)


# --- verification ---


async def test_valid_token_verifies_into_principal(issuer: TestIssuer, make_verifier: MakeVerifier) -> None:
    token = issuer.token(
        tenant_id=TENANT, roles=[APPROVER, BUYER_ADMIN], scopes=["orders:read", "orders:write"], subject="u-1"
    )

    principal = await make_verifier().verify(token)

    assert principal == Principal(
        subject="u-1",
        tenant_id=TENANT,
        roles=frozenset({APPROVER, BUYER_ADMIN}),
        scopes=frozenset({"orders:read", "orders:write"}),
        token_id=_claims_of(token)["jti"],
        is_client=False,
    )
    assert principal.has_role(PLATFORM_ADMIN, APPROVER)
    assert not principal.has_role(PLATFORM_ADMIN)
    assert principal.has_scope("orders:write")
    assert not principal.has_scope("orders")


@pytest.mark.parametrize(
    ("extra", "is_client"),
    [({"subject": "client:billing"}, True), ({"client_id": "billing"}, True), ({"subject": "u-2"}, False)],
)
async def test_machine_clients_are_marked(
    issuer: TestIssuer, make_verifier: MakeVerifier, extra: dict[str, Any], is_client: bool
) -> None:
    principal = await make_verifier().verify(issuer.token(tenant_id=TENANT, **extra))

    assert principal.is_client is is_client


async def test_audience_may_be_a_list_containing_ours(
    issuer: TestIssuer, make_verifier: MakeVerifier
) -> None:
    token = issuer.token(tenant_id=TENANT, aud=["billing", issuer.audience])

    assert (await make_verifier().verify(token)).tenant_id == TENANT


async def test_es256_token_from_a_published_p256_key_verifies(
    issuer: TestIssuer, make_verifier: MakeVerifier
) -> None:
    ec_key = ECKey.generate_key("P-256", parameters={"use": "sig", "alg": "ES256"}, auto_kid=True)
    issuer.publish(ec_key)
    token = issuer.token(tenant_id=TENANT, key=ec_key)

    assert json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "==="))["alg"] == "ES256"
    assert (await make_verifier().verify(token)).tenant_id == TENANT


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        pytest.param(lambda i: i.token(tenant_id=TENANT, expires_in=-120), "token expired", id="expired"),
        pytest.param(lambda i: i.token(tenant_id=TENANT, iss="someone-else"), "claim: iss", id="issuer"),
        pytest.param(lambda i: i.token(tenant_id=TENANT, aud="billing"), "claim: aud", id="audience"),
        pytest.param(lambda i: i.token(tenant_id=None), "missing claim: tid", id="no-tid"),
        pytest.param(lambda i: i.token(tenant_id=TENANT, tid="acme"), "invalid claim: tid", id="bad-tid"),
        pytest.param(lambda i: i.token(tenant_id=TENANT, sub=None), "missing claim: sub", id="no-sub"),
        pytest.param(lambda i: i.token(tenant_id=TENANT, exp=None), "missing claim: exp", id="no-exp"),
        pytest.param(lambda i: i.token(tenant_id=TENANT, jti=None), "missing claim: jti", id="no-jti"),
        pytest.param(lambda i: i.token(tenant_id=TENANT, iss=None), "missing claim: iss", id="no-iss"),
        pytest.param(lambda i: i.token(tenant_id=TENANT, nbf=2**40), "invalid claim: nbf", id="not-yet"),
        pytest.param(lambda i: _resigned(i, roles="admin"), "invalid claim: roles", id="roles-str"),
        pytest.param(lambda i: _resigned(i, roles=[1]), "invalid claim: roles", id="roles-int"),
        pytest.param(
            lambda i: i.token(tenant_id=TENANT, scope=["a"]), "invalid claim: scope", id="scope-list"
        ),
    ],
)
async def test_bad_claims_are_rejected(
    issuer: TestIssuer, make_verifier: MakeVerifier, build: Callable[[TestIssuer], str], reason: str
) -> None:
    await _rejects(make_verifier(), build(issuer), reason)


async def test_expiry_within_leeway_is_accepted(issuer: TestIssuer, make_verifier: MakeVerifier) -> None:
    # exp 10 s ago is inside the 30 s leeway for clock skew between issuer and service.
    token = issuer.token(tenant_id=TENANT, expires_in=-10)

    assert (await make_verifier().verify(token)).tenant_id == TENANT


async def test_tampered_signature_is_rejected(issuer: TestIssuer, make_verifier: MakeVerifier) -> None:
    header, payload, signature = issuer.token(tenant_id=TENANT).split(".")
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    tampered = f"{header}.{payload}.{signature[:middle]}{flipped}{signature[middle + 1 :]}"

    await _rejects(make_verifier(), tampered, "bad signature")


async def test_tampered_claims_are_rejected(issuer: TestIssuer, make_verifier: MakeVerifier) -> None:
    token = issuer.token(tenant_id=TENANT, roles=[APPROVER])
    header, _, signature = token.split(".")
    claims = {**_claims_of(token), "roles": [PLATFORM_ADMIN]}

    await _rejects(
        make_verifier(), f"{header}.{_b64(json.dumps(claims).encode())}.{signature}", "bad signature"
    )


async def test_alg_none_is_rejected(issuer: TestIssuer, make_verifier: MakeVerifier) -> None:
    claims = _claims_of(issuer.token(tenant_id=TENANT))
    header = {"alg": "none", "typ": "JWT", "kid": issuer.signing_key.kid}

    await _rejects(make_verifier(), _unsigned(header, claims) + ".", "algorithm not allowed")


async def test_hs256_signed_with_the_public_key_is_rejected(
    issuer: TestIssuer, make_verifier: MakeVerifier
) -> None:
    # The classic confusion attack: HMAC keyed with the published public key. Built by hand,
    # since joserfc itself refuses to use an asymmetric public key as an HMAC secret.
    public_pem = issuer.signing_key.as_pem(private=False)
    claims = _claims_of(issuer.token(tenant_id=TENANT, roles=[PLATFORM_ADMIN]))
    signing_input = _unsigned({"alg": "HS256", "typ": "JWT", "kid": issuer.signing_key.kid}, claims)
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()

    await _rejects(make_verifier(), f"{signing_input}.{_b64(signature)}", "algorithm not allowed")


async def test_rs256_is_rejected_even_from_a_published_key(
    issuer: TestIssuer, make_verifier: MakeVerifier
) -> None:
    rsa_key = RSAKey.generate_key(2048, parameters={"use": "sig"}, auto_kid=True)
    issuer.publish(rsa_key)
    claims = _claims_of(issuer.token(tenant_id=TENANT))
    token = jwt.encode({"alg": "RS256", "kid": rsa_key.kid}, claims, rsa_key, algorithms=["RS256"])

    await _rejects(make_verifier(), token, "algorithm not allowed")


async def test_es256_header_cannot_borrow_the_ed25519_kid(
    issuer: TestIssuer, make_verifier: MakeVerifier
) -> None:
    ec_key = ECKey.generate_key("P-256", auto_kid=True)
    token = sign_token(ec_key, _claims_of(issuer.token(tenant_id=TENANT)), kid=issuer.signing_key.kid)

    await _rejects(make_verifier(), token, "unknown signing key")


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("", "malformed"),
        ("not-a-jwt", "malformed"),
        ("a.b.c", "malformed"),
        ("a.b.c.d.e", "malformed"),
        ("é.é.é", "malformed"),
        (_unsigned({"kid": "k"}, {}) + ".c2ln", "malformed"),
        (_b64(b'"alg"') + ".e30.c2ln", "malformed"),
    ],
)
async def test_malformed_tokens_are_rejected(make_verifier: MakeVerifier, token: str, reason: str) -> None:
    await _rejects(make_verifier(), token, reason)


async def test_token_without_kid_is_rejected(issuer: TestIssuer, make_verifier: MakeVerifier) -> None:
    claims = _claims_of(issuer.token(tenant_id=TENANT))
    token = jwt.encode({"alg": "ES256"}, claims, ECKey.generate_key("P-256"), algorithms=["ES256"])

    await _rejects(make_verifier(), token, "missing key id")


async def test_signing_needs_a_private_key_of_an_allowed_curve() -> None:
    public_only = ECKey.import_key(ECKey.generate_key("P-256", auto_kid=True).as_dict(private=False))
    with pytest.raises(ValueError, match="private key"):
        sign_token(public_only, {"sub": "x"})
    with pytest.raises(ValueError, match="no allowed algorithm"):
        sign_token(ECKey.generate_key("P-384", auto_kid=True), {"sub": "x"})
    assert new_signing_key("k-1").kid == "k-1"


# --- JWKS caching and rotation ---


async def test_jwks_is_fetched_once_and_cached(issuer: TestIssuer, make_verifier: MakeVerifier) -> None:
    verifier = make_verifier()
    before = issuer.fetch_count

    for _ in range(3):
        await verifier.verify(issuer.token(tenant_id=TENANT))

    assert issuer.fetch_count == before + 1


async def test_rotation_refetches_once_and_old_key_verifies_while_published(
    issuer: TestIssuer, make_verifier: MakeVerifier
) -> None:
    clock = ManualClock()
    verifier = make_verifier(clock=clock)
    old_token = issuer.token(tenant_id=TENANT)
    await verifier.verify(old_token)
    before = issuer.fetch_count

    issuer.rotate()
    new_token = issuer.token(tenant_id=TENANT)
    clock.advance(31)  # past min_refresh_interval, well inside max_age

    assert (await verifier.verify(new_token)).tenant_id == TENANT
    assert issuer.fetch_count == before + 1
    await verifier.verify(new_token)
    await verifier.verify(old_token)  # the retired key is still published, so still trusted
    assert issuer.fetch_count == before + 1

    issuer.retire_old_keys()
    clock.advance(300)  # the cache reaches max_age: the next verification refetches

    await verifier.verify(new_token)
    assert issuer.fetch_count == before + 2
    await _rejects(verifier, old_token, "unknown signing key")


async def test_new_kid_within_min_refresh_interval_is_not_fetched(
    issuer: TestIssuer, make_verifier: MakeVerifier
) -> None:
    clock = ManualClock()
    verifier = make_verifier(clock=clock)
    await verifier.verify(issuer.token(tenant_id=TENANT))
    before = issuer.fetch_count

    issuer.rotate()
    clock.advance(29)
    fresh = issuer.token(tenant_id=TENANT)

    await _rejects(verifier, fresh, "unknown signing key")
    assert issuer.fetch_count == before
    clock.advance(1)
    assert (await verifier.verify(fresh)).tenant_id == TENANT
    assert issuer.fetch_count == before + 1


async def test_flood_of_unknown_kids_refetches_at_most_once_per_interval(
    issuer: TestIssuer, make_verifier: MakeVerifier
) -> None:
    clock = ManualClock()
    verifier = make_verifier(clock=clock)
    await verifier.verify(issuer.token(tenant_id=TENANT))
    clock.advance(31)
    before = issuer.fetch_count
    forged = [issuer.token(tenant_id=TENANT, key=new_signing_key()) for _ in range(25)]

    results = await asyncio.gather(*(verifier.verify(token) for token in forged), return_exceptions=True)

    assert all(isinstance(result, InvalidToken) for result in results)
    assert issuer.fetch_count == before + 1
    for token in forged[:5]:
        await _rejects(verifier, token, "unknown signing key")
    assert issuer.fetch_count == before + 1


async def test_concurrent_first_verifications_fetch_once(
    issuer: TestIssuer, make_verifier: MakeVerifier
) -> None:
    verifier = make_verifier()
    before = issuer.fetch_count
    tokens = [issuer.token(tenant_id=TENANT) for _ in range(10)]

    principals = await asyncio.gather(*(verifier.verify(token) for token in tokens))

    assert {principal.tenant_id for principal in principals} == {TENANT}
    assert issuer.fetch_count == before + 1


async def test_unreachable_jwks_raises_unavailable_not_invalid(make_verifier: MakeVerifier) -> None:
    verifier = make_verifier(url=f"http://127.0.0.1:{free_port()}/jwks", timeout=2.0)
    token = sign_token(new_signing_key(), {"sub": "x"})

    with pytest.raises(JwksUnavailable):
        await verifier.verify(token)


async def test_keys_are_served_stale_while_the_issuer_is_down() -> None:
    clock = ManualClock()
    with TestIssuer() as own_issuer:
        jwks = JwksClient(own_issuer.jwks_url, clock=clock)
        verifier = TokenVerifier(jwks, issuer=own_issuer.issuer, audience=own_issuer.audience)
        token = own_issuer.token(tenant_id=TENANT)
        await verifier.verify(token)
    try:
        clock.advance(400)  # past max_age: the refetch fails, the old set is kept

        assert (await verifier.verify(token)).tenant_id == TENANT
    finally:
        await jwks.aclose()


# --- middleware and guards in a real Litestar app ---


@get("/health", sync_to_thread=False)
def health() -> dict[str, bool]:
    return {"ok": True}


@get("/health/deep", sync_to_thread=False)
def deep_health() -> dict[str, bool]:
    return {"ok": True}


@get("/me", dependencies={"principal": Provide(provide_principal)})
async def me(principal: NamedDependency[Principal]) -> dict[str, Any]:
    return {
        "subject": principal.subject,
        "tenant_id": str(principal.tenant_id),
        "roles": sorted(principal.roles),
        "log_context": {k: str(v) for k, v in get_contextvars().items()},
    }


@get("/approvals", guards=[requires_role(APPROVER, BUYER_ADMIN)], sync_to_thread=False)
def approvals() -> dict[str, str]:
    return {"ok": "approvals"}


@get("/reports", guards=[requires_scope("reports:read", "reports:export")], sync_to_thread=False)
def reports() -> dict[str, str]:
    return {"ok": "reports"}


def _app(jwks_url: str, issuer: TestIssuer) -> Litestar:
    @asynccontextmanager
    async def verifier_lifespan(app: Litestar) -> AsyncIterator[None]:
        jwks = JwksClient(jwks_url)
        app.state[VERIFIER_STATE_KEY] = TokenVerifier(jwks, issuer=issuer.issuer, audience=issuer.audience)
        try:
            yield
        finally:
            await jwks.aclose()

    return Litestar(
        route_handlers=[health, deep_health, me, approvals, reports],
        middleware=[auth_middleware(exclude=["/health"])],
        lifespan=[verifier_lifespan],
    )


@pytest.fixture
async def client(issuer: TestIssuer) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=_app(issuer.jwks_url, issuer)) as test_client:
        yield test_client


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_missing_token_is_401_with_bearer_challenge(client: AsyncTestClient[Litestar]) -> None:
    for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer "}):
        response = await client.get("/me", headers=headers)

        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"


async def test_invalid_token_is_401_and_never_echoed(
    issuer: TestIssuer, client: AsyncTestClient[Litestar]
) -> None:
    expired = issuer.token(tenant_id=TENANT, roles=[APPROVER], expires_in=-600)
    header, payload, signature = issuer.token(tenant_id=TENANT, roles=[APPROVER]).split(".")
    forged = f"{header}.{payload}.{signature[::-1]}"

    for token, reason in ((expired, "token expired"), (forged, "bad signature")):
        response = await client.get("/approvals", headers=_bearer(token))

        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        assert reason in response.json()["detail"]
        assert token not in response.text
        assert payload not in response.text


async def test_role_guard(issuer: TestIssuer, client: AsyncTestClient[Litestar]) -> None:
    employee = issuer.token(tenant_id=TENANT, roles=["employee"])
    platform_admin = issuer.token(tenant_id=TENANT, roles=[PLATFORM_ADMIN])
    buyer_admin = issuer.token(tenant_id=TENANT, roles=[BUYER_ADMIN])

    assert (await client.get("/approvals", headers=_bearer(employee))).status_code == 403
    # platform_admin is not a super-role: it passes only where a route lists it.
    assert (await client.get("/approvals", headers=_bearer(platform_admin))).status_code == 403
    allowed = await client.get("/approvals", headers=_bearer(buyer_admin))
    assert allowed.status_code == 200
    assert allowed.json() == {"ok": "approvals"}


async def test_scope_guard_needs_every_scope(issuer: TestIssuer, client: AsyncTestClient[Litestar]) -> None:
    partial = issuer.token(tenant_id=TENANT, scopes=["reports:read"])
    full = issuer.token(tenant_id=TENANT, scopes=["reports:read", "reports:export", "other"])

    assert (await client.get("/reports", headers=_bearer(partial))).status_code == 403
    assert (await client.get("/reports", headers=_bearer(full))).status_code == 200


async def test_handler_sees_the_principal_and_logs_carry_its_ids(
    issuer: TestIssuer, client: AsyncTestClient[Litestar]
) -> None:
    token = issuer.token(tenant_id=TENANT, roles=[APPROVER], subject="user:42")

    response = await client.get("/me", headers=_bearer(token))

    assert response.status_code == 200
    body = response.json()
    assert body["subject"] == "user:42"
    assert body["tenant_id"] == str(TENANT)
    assert body["roles"] == [APPROVER]
    assert body["log_context"] == {"principal_id": "user:42", "tenant_id": str(TENANT)}


async def test_excluded_paths_match_whole_paths_only(client: AsyncTestClient[Litestar]) -> None:
    assert (await client.get("/health")).status_code == 200
    # "/health" must not unlock everything that merely contains it.
    assert (await client.get("/health/deep")).status_code == 401


async def test_unreachable_jwks_is_503(issuer: TestIssuer) -> None:
    app = _app(f"http://127.0.0.1:{free_port()}/jwks", issuer)
    async with AsyncTestClient(app=app) as test_client:
        response = await test_client.get("/me", headers=_bearer(issuer.token(tenant_id=TENANT)))

    assert response.status_code == 503


async def test_custom_verifier_getter(issuer: TestIssuer) -> None:
    verifiers: dict[str, TokenVerifier] = {}

    @asynccontextmanager
    async def own_verifier(_: Litestar) -> AsyncIterator[None]:
        jwks = JwksClient(issuer.jwks_url)
        verifiers["mine"] = TokenVerifier(jwks, issuer=issuer.issuer, audience=issuer.audience)
        try:
            yield
        finally:
            await jwks.aclose()

    app = Litestar(
        route_handlers=[me],
        middleware=[auth_middleware(verifier_getter=lambda _: verifiers["mine"])],
        lifespan=[own_verifier],
    )
    async with AsyncTestClient(app=app) as test_client:
        response = await test_client.get("/me", headers=_bearer(issuer.token(tenant_id=TENANT)))

    assert response.status_code == 200
    assert VERIFIER_STATE_KEY not in app.state
