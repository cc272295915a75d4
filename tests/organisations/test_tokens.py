"""Tila's own tokens over HTTP: sessions, refresh rotation with reuse detection, logout, machine
clients with client credentials, and signing-key rotation — verified as every service verifies."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from services.organisations.adapters.keys import (
    Keyring,
    KeyringEntry,
    KeyringFile,
    ensure_key_file,
    rotate_key_file,
)
from services.organisations.app import create_app
from services.organisations.domain.tokens import Grant
from services.organisations.handlers import tokens as handlers
from services.organisations.handlers.tokens import TokenPolicy
from services.organisations.settings import OrganisationsSettings
from shared.auth.errors import InvalidToken
from shared.auth.jwks import JwksClient
from shared.auth.principal import Principal
from shared.auth.tokens import TokenVerifier, new_signing_key
from shared.config import ServiceSettings
from shared.db.pool import create_pool
from shared.db.provision import DatabaseLayout
from shared.db.tenant import tenant_transaction
from shared.ids import new_id
from shared.testing.issuer import TestIssuer
from shared.testing.plugin import Stack
from tests.factories import business_id
from tests.organisations.support import basic_auth

Client = AsyncTestClient[Litestar]
TOKEN_URL = "/organisations/oauth/token"
JWKS_URL = "http://testserver.local/organisations/.well-known/jwks.json"
ISSUER = TestIssuer().issuer  # organisations and the test issuer agree on who "tila" is


@pytest.fixture(scope="module")
def keyring_path(stack: Stack) -> Path:
    path = stack.root / f"keyring-{uuid.uuid4().hex[:6]}.json"
    ensure_key_file(path)
    return path


@pytest.fixture(scope="module")
def settings(settings_for: Callable[[str], ServiceSettings], keyring_path: Path) -> OrganisationsSettings:
    base = msgspec.structs.asdict(settings_for("organisations"))
    return OrganisationsSettings(**base | {"signing_keys_file": str(keyring_path), "token_issuer": ISSUER})


@pytest.fixture(scope="module")
async def client(settings: OrganisationsSettings) -> AsyncIterator[Client]:
    async with AsyncTestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def policy(settings: OrganisationsSettings, keyring_path: Path) -> TokenPolicy:
    return TokenPolicy(
        keyring=KeyringFile(keyring_path),
        issuer=ISSUER,
        audience=settings.token_audience,
        access_lifetime=dt.timedelta(minutes=10),
        refresh_lifetime=dt.timedelta(days=30),
    )


@pytest.fixture(scope="module")
async def pool(platform_databases: dict[str, DatabaseLayout]) -> AsyncIterator[asyncpg.Pool]:
    created = await create_pool(platform_databases["organisations"].app_url, max_size=4)
    yield created
    await created.close()


async def verify(client: Client, token: str) -> Principal:
    """Verify as any other service does: our JWKS over HTTP, issuer and audience checked."""
    jwks = JwksClient(JWKS_URL, http_client=client, min_refresh_interval=0)
    return await TokenVerifier(jwks, issuer=ISSUER, audience="tila").verify(token)


async def _person(pool: asyncpg.Pool, roles: tuple[str, ...] = ("buyer_admin",)) -> Grant:
    """A real person in a real tenant: a refresh checks that both may still act."""
    tenant, person = new_id(), new_id()
    async with tenant_transaction(pool, tenant) as conn:
        await conn.execute(
            "insert into tenants (tenant_id, name, kind, business_id) values ($1, 'Hva', 'buyer', $2)",
            tenant,
            business_id(),
        )
        await conn.execute(
            "insert into people (tenant_id, person_id, name, email, roles) values ($1, $2, 'P', $3, $4)",
            tenant,
            person,
            f"{person.hex[:8]}@hva.example",
            list(roles),
        )
    return Grant(tenant_id=tenant, subject=str(person), roles=roles)


async def _refresh(client: Client, token: str) -> dict[str, object]:
    response = await client.post(TOKEN_URL, data={"grant_type": "refresh_token", "refresh_token": token})
    body: dict[str, object] = response.json()
    body["status"] = response.status_code
    return body


# --- sessions and refresh tokens ---


async def test_a_session_gives_a_short_access_token_any_service_accepts(
    client: Client, pool: asyncpg.Pool, policy: TokenPolicy
) -> None:
    grant = await _person(pool, ("approver", "employee"))
    issued = await handlers.start_session(pool, policy, grant)
    principal = await verify(client, issued.access_token)
    assert (principal.tenant_id, principal.subject) == (grant.tenant_id, grant.subject)
    assert principal.roles == frozenset({"approver", "employee"})
    claims = json.loads(base64.urlsafe_b64decode(issued.access_token.split(".")[1] + "=="))
    assert claims["exp"] - claims["iat"] == 600
    assert claims["jti"]
    header = json.loads(base64.urlsafe_b64decode(issued.access_token.split(".")[0] + "=="))
    assert header["alg"] == "EdDSA"
    assert issued.refresh_token is not None
    assert issued.refresh_token.startswith(str(grant.tenant_id))


async def test_a_refresh_token_rotates_and_the_stored_value_is_only_a_hash(
    client: Client, pool: asyncpg.Pool, policy: TokenPolicy, platform_databases: dict[str, DatabaseLayout]
) -> None:
    grant = await _person(pool)
    first = await handlers.start_session(pool, policy, grant)
    assert first.refresh_token is not None
    second = await _refresh(client, first.refresh_token)
    assert second["status"] == 200
    assert second["token_type"] == "Bearer"
    assert second["refresh_token"] != first.refresh_token
    assert (await verify(client, str(second["access_token"]))).subject == grant.subject
    owner = await asyncpg.connect(platform_databases["organisations"].owner_url)
    try:
        await owner.execute("select set_config('app.tenant_id', $1, false)", str(grant.tenant_id))
        stored = await owner.fetch("select token_hash from refresh_tokens where subject = $1", grant.subject)
    finally:
        await owner.close()
    assert len(stored) == 2
    assert all(first.refresh_token.encode() not in bytes(r["token_hash"]) for r in stored)


async def test_reusing_a_spent_refresh_token_revokes_the_whole_family(
    client: Client, pool: asyncpg.Pool, policy: TokenPolicy
) -> None:
    issued = await handlers.start_session(pool, policy, await _person(pool))
    assert issued.refresh_token is not None
    rotated = await _refresh(client, issued.refresh_token)
    replayed = await _refresh(client, issued.refresh_token)  # the thief, or the victim, comes back
    assert (replayed["status"], replayed["error"]) == (400, "invalid_grant")
    descendant = await _refresh(client, str(rotated["refresh_token"]))
    assert (descendant["status"], descendant["error"]) == (400, "invalid_grant")


async def _set_person(pool: asyncpg.Pool, grant: Grant, sql: str, *args: object) -> None:
    async with tenant_transaction(pool, grant.tenant_id) as conn:
        await conn.execute(sql, grant.tenant_id, uuid.UUID(grant.subject), *args)


async def test_a_refresh_carries_the_roles_the_person_holds_now(
    client: Client, pool: asyncpg.Pool, policy: TokenPolicy
) -> None:
    grant = await _person(pool, ("approver",))
    issued = await handlers.start_session(pool, policy, grant)
    assert issued.refresh_token is not None
    await _set_person(
        pool, grant, "update people set roles = $3 where tenant_id = $1 and person_id = $2", ["employee"]
    )
    refreshed = await _refresh(client, issued.refresh_token)
    assert (await verify(client, str(refreshed["access_token"]))).roles == frozenset({"employee"})


@pytest.mark.parametrize("who", ["person", "tenant"])
async def test_a_deactivated_person_or_tenant_cannot_refresh(
    client: Client, pool: asyncpg.Pool, policy: TokenPolicy, who: str
) -> None:
    grant = await _person(pool)
    issued = await handlers.start_session(pool, policy, grant)
    assert issued.refresh_token is not None
    if who == "person":
        await _set_person(
            pool, grant, "update people set active = false where tenant_id = $1 and person_id = $2"
        )
    else:
        async with tenant_transaction(pool, grant.tenant_id) as conn:
            await conn.execute("update tenants set active = false where tenant_id = $1", grant.tenant_id)
    refused = await _refresh(client, issued.refresh_token)
    assert (refused["status"], refused["error"]) == (400, "invalid_grant")


async def test_logout_revokes_the_refresh_token(
    client: Client, pool: asyncpg.Pool, policy: TokenPolicy
) -> None:
    issued = await handlers.start_session(pool, policy, await _person(pool))
    assert issued.refresh_token is not None
    response = await client.post("/organisations/oauth/revoke", data={"token": issued.refresh_token})
    assert response.status_code == 200
    assert response.content == b""  # RFC 7009 §2.2: an empty body, not "null"
    refused = await _refresh(client, issued.refresh_token)
    assert (refused["status"], refused["error"]) == (400, "invalid_grant")
    # RFC 7009: revoking something unknown is not an error.
    assert (await client.post("/organisations/oauth/revoke", data={"token": "nonsense"})).status_code == 200


@pytest.mark.parametrize("path", ["/organisations/oauth/token", "/organisations/oauth/revoke"])
async def test_a_json_body_to_a_token_endpoint_is_invalid_request_saying_form_encoding(
    client: Client, path: str
) -> None:
    response = await client.post(
        path, json={"grant_type": "refresh_token", "token": "x", "refresh_token": "x"}
    )
    assert response.status_code == 400
    error = response.json()
    assert error["error"] == "invalid_request"
    assert "application/x-www-form-urlencoded" in error["error_description"]


async def test_an_expired_family_cannot_be_refreshed(
    client: Client, pool: asyncpg.Pool, policy: TokenPolicy, platform_databases: dict[str, DatabaseLayout]
) -> None:
    grant = await _person(pool)
    issued = await handlers.start_session(pool, policy, grant)
    assert issued.refresh_token is not None
    owner = await asyncpg.connect(platform_databases["organisations"].owner_url)
    try:
        await owner.execute("select set_config('app.tenant_id', $1, false)", str(grant.tenant_id))
        await owner.execute(
            "update refresh_tokens set expires_at = now() - interval '1 second' where subject = $1",
            grant.subject,
        )
    finally:
        await owner.close()
    refused = await _refresh(client, issued.refresh_token)
    assert (refused["status"], refused["error"]) == (400, "invalid_grant")


async def test_a_refresh_token_rewritten_for_another_tenant_is_unknown(
    client: Client, pool: asyncpg.Pool, policy: TokenPolicy
) -> None:
    issued = await handlers.start_session(pool, policy, await _person(pool))
    assert issued.refresh_token is not None
    forged = f"{uuid.uuid4()}.{issued.refresh_token.partition('.')[2]}"
    refused = await _refresh(client, forged)
    assert (refused["status"], refused["error"]) == (400, "invalid_grant")
    assert (await _refresh(client, issued.refresh_token))["status"] == 200  # the real one still works


@pytest.mark.parametrize(
    "form",
    [{"grant_type": "password", "username": "a", "password": "b"}, {"grant_type": "refresh_token"}, {}],
)
async def test_other_grants_and_incomplete_requests_are_refused(client: Client, form: dict[str, str]) -> None:
    response = await client.post(TOKEN_URL, data=form)
    assert response.status_code == 400
    assert response.json()["error"] in {"unsupported_grant_type", "invalid_request"}
    assert response.headers["cache-control"] == "no-store"


# --- machine clients ---


async def _new_tenant(client: Client, issuer: TestIssuer) -> uuid.UUID:
    admin = {"Authorization": f"Bearer {issuer.token(tenant_id=uuid.uuid4(), roles=['platform_admin'])}"}
    created = await client.post(
        "/organisations/tenants",
        json={"name": "Hyvinvointialue", "kind": "buyer", "businessId": business_id()},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    return uuid.UUID(created.json()["id"])


async def _register(
    client: Client, issuer: TestIssuer, tenant: uuid.UUID, scopes: list[str]
) -> dict[str, object]:
    admin = {"Authorization": f"Bearer {issuer.token(tenant_id=tenant, roles=['buyer_admin'])}"}
    response = await client.post(
        "/organisations/machine-clients", json={"name": "Sarastia HR", "scopes": scopes}, headers=admin
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def test_a_machine_client_gets_its_registered_tenant_and_scopes(
    client: Client, issuer: TestIssuer
) -> None:
    tenant = await _new_tenant(client, issuer)
    registered = await _register(client, issuer, tenant, ["events:read"])
    client_id, secret = str(registered["clientId"]), str(registered["clientSecret"])
    response = await client.post(
        TOKEN_URL, data={"grant_type": "client_credentials"}, headers=basic_auth(client_id, secret)
    )
    assert response.status_code == 200, response.text
    principal = await verify(client, response.json()["access_token"])
    assert principal.tenant_id == tenant
    assert principal.scopes == frozenset({"events:read"})
    assert principal.is_client
    assert principal.roles == frozenset()
    assert "refresh_token" not in response.json()


async def test_a_client_asking_for_a_scope_it_was_not_given_is_refused(
    client: Client, issuer: TestIssuer
) -> None:
    registered = await _register(client, issuer, await _new_tenant(client, issuer), ["events:read"])
    response = await client.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials", "scope": "events:read webhooks:manage"},
        headers=basic_auth(str(registered["clientId"]), str(registered["clientSecret"])),
    )
    assert (response.status_code, response.json()["error"]) == (400, "invalid_scope")


async def test_the_tenant_in_the_request_is_ignored(client: Client, issuer: TestIssuer) -> None:
    tenant = await _new_tenant(client, issuer)
    registered = await _register(client, issuer, tenant, ["events:read"])
    response = await client.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials", "tid": str(uuid.uuid4()), "tenant_id": str(uuid.uuid4())},
        headers=basic_auth(str(registered["clientId"]), str(registered["clientSecret"])),
    )
    assert response.status_code == 200
    assert (await verify(client, response.json()["access_token"])).tenant_id == tenant


@pytest.mark.parametrize(
    "how", ["wrong secret", "secret in body", "no credentials", "unknown client", "revoked"]
)
async def test_client_authentication_fails_closed(client: Client, issuer: TestIssuer, how: str) -> None:
    tenant = await _new_tenant(client, issuer)
    registered = await _register(client, issuer, tenant, ["events:read"])
    client_id, secret = str(registered["clientId"]), str(registered["clientSecret"])
    form = {"grant_type": "client_credentials"}
    headers = basic_auth(client_id, secret)
    if how == "wrong secret":
        headers = basic_auth(client_id, secret[:-2] + "xx")
    elif how == "secret in body":
        form |= {"client_id": client_id, "client_secret": secret}
        headers = {}
    elif how == "no credentials":
        headers = {}
    elif how == "unknown client":
        headers = basic_auth(f"{tenant}.{uuid.uuid4()}", secret)
    elif how == "revoked":
        admin = {"Authorization": f"Bearer {issuer.token(tenant_id=tenant, roles=['buyer_admin'])}"}
        revoked = await client.post(f"/organisations/machine-clients/{client_id}/revoke", headers=admin)
        assert revoked.status_code == 204
    response = await client.post(TOKEN_URL, data=form, headers=headers)
    assert response.status_code in (400, 401)
    assert response.json()["error"] in {"invalid_client", "invalid_request"}
    assert "access_token" not in response.json()


async def test_the_secret_is_shown_once_and_only_buyer_admins_manage_clients(
    client: Client, issuer: TestIssuer
) -> None:
    tenant = await _new_tenant(client, issuer)
    registered = await _register(client, issuer, tenant, ["events:read", "webhooks:manage"])
    admin = {"Authorization": f"Bearer {issuer.token(tenant_id=tenant, roles=['buyer_admin'])}"}
    listed = (await client.get("/organisations/machine-clients", headers=admin)).json()["items"]
    assert [c["clientId"] for c in listed] == [registered["clientId"]]
    assert all("clientSecret" not in c for c in listed)
    provider_admin = {"Authorization": f"Bearer {issuer.token(tenant_id=tenant, roles=['provider_admin'])}"}
    refused = await client.post(
        "/organisations/machine-clients",
        json={"name": "x", "scopes": ["events:read"]},
        headers=provider_admin,
    )
    assert refused.status_code == 403
    bad_scope = await client.post(
        "/organisations/machine-clients", json={"name": "x", "scopes": ["orders:write"]}, headers=admin
    )
    assert bad_scope.status_code == 422
    assert bad_scope.json()["errors"][0]["field"] == "body.scopes"


async def test_another_tenants_admin_neither_sees_nor_revokes_a_client(
    client: Client, issuer: TestIssuer
) -> None:
    registered = await _register(client, issuer, await _new_tenant(client, issuer), ["events:read"])
    stranger = {"Authorization": f"Bearer {issuer.token(tenant_id=uuid.uuid4(), roles=['buyer_admin'])}"}
    assert (await client.get("/organisations/machine-clients", headers=stranger)).json()["items"] == []
    response = await client.post(
        f"/organisations/machine-clients/{registered['clientId']}/revoke", headers=stranger
    )
    assert response.status_code == 404


# --- signing keys ---


async def _published_kids(client: Client) -> set[str]:
    keys = (await client.get("/organisations/.well-known/jwks.json")).json()["keys"]
    assert all("d" not in key for key in keys)  # never the private half
    return {key["kid"] for key in keys}


def _kid_of(token: str) -> str:
    kid: str = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))["kid"]
    return kid


async def test_a_new_key_is_published_before_it_signs(
    client: Client, pool: asyncpg.Pool, policy: TokenPolicy, keyring_path: Path
) -> None:
    current = Keyring.load(keyring_path).signing_key().kid
    upcoming = rotate_key_file(keyring_path, policy.access_lifetime, activation_delay=dt.timedelta(minutes=5))
    issued = await handlers.start_session(pool, policy, await _person(pool))
    assert _kid_of(issued.access_token) == current != upcoming
    assert {current, upcoming} <= await _published_kids(client)


async def test_after_the_switch_the_new_key_signs_and_the_retired_one_still_verifies(
    client: Client, pool: asyncpg.Pool, policy: TokenPolicy, keyring_path: Path
) -> None:
    before = await handlers.start_session(pool, policy, await _person(pool))
    new_kid = rotate_key_file(keyring_path, policy.access_lifetime, activation_delay=dt.timedelta(0))
    after = await handlers.start_session(pool, policy, await _person(pool))
    assert _kid_of(after.access_token) == new_kid != _kid_of(before.access_token)
    assert {_kid_of(before.access_token), new_kid} <= await _published_kids(client)
    assert (await verify(client, before.access_token)).subject  # the retired key still verifies


def test_a_retired_key_leaves_the_jwks_once_its_tokens_have_expired() -> None:
    now = dt.datetime.now(dt.UTC)
    start = Keyring((KeyringEntry(new_signing_key(), now, now),))
    keyring = start.rotated(now, dt.timedelta(minutes=10), dt.timedelta(0))
    retired = {entry.key.kid for entry in keyring.entries if entry.retired_at is not None}
    soon, later = now + dt.timedelta(minutes=1), now + dt.timedelta(minutes=16)
    assert retired <= {key.kid for key in keyring.published(soon, dt.timedelta(minutes=10))}
    assert not retired & {key.kid for key in keyring.published(later, dt.timedelta(minutes=10))}
    assert keyring.signing_key(soon).kid not in retired


async def test_a_token_signed_by_an_unknown_key_is_refused(client: Client, issuer: TestIssuer) -> None:
    foreign = issuer.token(tenant_id=uuid.uuid4(), roles=["buyer_admin"])  # right shape, not our key
    with pytest.raises(InvalidToken):
        await verify(client, foreign)


async def test_the_openapi_document_says_which_routes_need_no_token(client: Client) -> None:
    document = (await client.get("/organisations/schema/openapi.json")).json()
    assert document["security"] == [{"bearer": []}]
    paths = document["paths"]
    for path, method in [
        ("/organisations/oauth/token", "post"),
        ("/organisations/.well-known/jwks.json", "get"),
        ("/organisations/login/{tenant_id}/start", "get"),
        ("/organisations/health/ready", "get"),
    ]:
        assert paths[path][method]["security"] == [{}], path
    assert "security" not in paths["/organisations/machine-clients"]["post"]  # the bearer default


async def test_a_deactivated_tenants_clients_get_no_tokens_and_none_are_registered(
    client: Client, issuer: TestIssuer
) -> None:
    tenant = await _new_tenant(client, issuer)
    registered = await _register(client, issuer, tenant, ["events:read"])
    platform = {"Authorization": f"Bearer {issuer.token(tenant_id=uuid.uuid4(), roles=['platform_admin'])}"}
    assert (
        await client.post(f"/organisations/tenants/{tenant}/deactivate", headers=platform)
    ).status_code == 200
    response = await client.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials"},
        headers=basic_auth(str(registered["clientId"]), str(registered["clientSecret"])),
    )
    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")
    admin = {"Authorization": f"Bearer {issuer.token(tenant_id=tenant, roles=['buyer_admin'])}"}
    refused = await client.post(
        "/organisations/machine-clients", json={"name": "x", "scopes": ["events:read"]}, headers=admin
    )
    assert refused.status_code == 403


async def test_two_refreshes_racing_with_one_token_leave_one_winner_and_end_the_family(
    client: Client, pool: asyncpg.Pool, policy: TokenPolicy
) -> None:
    issued = await handlers.start_session(pool, policy, await _person(pool))
    assert issued.refresh_token is not None
    first, second = await asyncio.gather(
        _refresh(client, issued.refresh_token), _refresh(client, issued.refresh_token)
    )
    assert sorted([int(str(first["status"])), int(str(second["status"]))]) == [200, 400]
    winner = first if first["status"] == 200 else second
    # The loser presented a spent token: the family ends, the winner's new token with it.
    assert (await _refresh(client, str(winner["refresh_token"])))["status"] == 400
