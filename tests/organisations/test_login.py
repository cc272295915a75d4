"""Login through each tenant's own OpenID provider, against real provider processes.

Two tenants, two providers: each login runs over HTTP (start, the provider's login form, the
callback) and ends in Tila's tokens, which verify as every service verifies them. Every way
a login can go wrong fails closed.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import cast
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from litestar.types import Receive, Scope, Send

from services.organisations.adapters.keys import Keyring, ensure_key_file
from services.organisations.adapters.oidc import OidcClient, ProviderMetadata
from services.organisations.app import create_app
from services.organisations.domain.login import LoginRefused, check_id_token_claims, issuer_allowed
from services.organisations.settings import OrganisationsSettings
from shared.auth.jwks import JwksClient
from shared.auth.principal import Principal
from shared.auth.tokens import TokenVerifier, sign_token
from shared.config import ServiceSettings
from shared.db.pool import create_pool
from shared.db.provision import DatabaseLayout
from shared.db.tenant import tenant_transaction
from shared.embedded.oidc import EmbeddedOidcProvider
from shared.ids import new_id
from shared.testing.issuer import TestIssuer
from shared.testing.plugin import Stack, free_port
from tests.factories import business_id
from tests.organisations.support import basic_auth

Client = AsyncTestClient[Litestar]
BASE = "http://testserver.local"


@dataclass
class Tenant:
    id: uuid.UUID
    provider: EmbeddedOidcProvider
    people: dict[str, uuid.UUID]


@pytest.fixture(scope="module")
def providers() -> Iterator[dict[str, EmbeddedOidcProvider]]:
    users_a = [
        {"sub": "pirha-anna", "email": "anna.admin@pirha.example", "email_verified": True, "name": "Anna"},
        {"sub": "pirha-eero", "email": "eero@pirha.example", "email_verified": True},
        {"sub": "pirha-gmail", "email": "someone@gmail.example", "email_verified": True},
        {"sub": "pirha-unverified", "email": "ulla@pirha.example", "email_verified": False},
        {"sub": "pirha-stranger", "email": "stranger@pirha.example", "email_verified": True},
        {
            "sub": "kaisa",
            "email": "kaisa@claims.example",
            "email_verified": True,
            "name": "Kaisa",
            "groups": ["sup"],
        },
        {"sub": "olli", "email": "olli@claims.example", "email_verified": True, "groups": ["other"]},
        # An admin's second account at the welfare area's own provider, and people invited later.
        {"sub": "pirha-mallory-alt", "email": "mallory.alt@pirha.example", "email_verified": True},
        {"sub": "pirha-victim", "email": "victim.new@pirha.example", "email_verified": True},
        {"sub": "pirha-it", "email": "it.person@pirha.example", "email_verified": True},
        {"sub": "pirha-it-2", "email": "it.second@pirha.example", "email_verified": True},
    ]
    users_b = [{"sub": "tyo-sanna", "email": "sanna@tyonohjaus.example", "email_verified": True}]
    started = {
        "a": EmbeddedOidcProvider(free_port(), users_a),
        "b": EmbeddedOidcProvider(free_port(), users_b),
    }
    for provider in started.values():
        provider.start()
    yield started
    for provider in started.values():
        provider.stop()


@pytest.fixture(scope="module")
def login_settings(
    settings_for: Callable[[str], ServiceSettings], stack: Stack, issuer: TestIssuer
) -> OrganisationsSettings:
    keyring = stack.root / f"login-keyring-{uuid.uuid4().hex[:6]}.json"
    ensure_key_file(keyring)
    # The app verifies bearer tokens against the test issuer's JWKS (as services use
    # organisations' JWKS): publish our keyring's key there, so logins' tokens work on routes.
    issuer.publish(Keyring.load(keyring).signing_key())
    base = msgspec.structs.asdict(settings_for("organisations"))
    return OrganisationsSettings(
        **base
        | {"signing_keys_file": str(keyring), "public_base_url": BASE, "allow_loopback_http_issuers": True}
    )


@pytest.fixture(scope="module")
async def client(login_settings: OrganisationsSettings, providers: object) -> AsyncIterator[Client]:
    async with AsyncTestClient(create_app(login_settings)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
async def pool(platform_databases: dict[str, DatabaseLayout]) -> AsyncIterator[asyncpg.Pool]:
    created = await create_pool(platform_databases["organisations"].app_url, max_size=4)
    yield created
    await created.close()


async def _tenant(
    client: Client,
    issuer: TestIssuer,
    pool: asyncpg.Pool,
    provider: EmbeddedOidcProvider,
    kind: str,
    people: dict[str, tuple[str, list[str], bool]],
    allowed_domains: list[str],
    **login: object,
) -> Tenant:
    admin = {"Authorization": f"Bearer {issuer.token(tenant_id=uuid.uuid4(), roles=['platform_admin'])}"}
    created = await client.post(
        "/organisations/tenants",
        json={"name": f"Tenant {uuid.uuid4().hex[:6]}", "kind": kind, "businessId": business_id()},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    tenant_id = uuid.UUID(created.json()["id"])
    ids = {}
    async with tenant_transaction(pool, tenant_id) as conn:
        for key, (email, roles, active) in people.items():
            ids[key] = new_id()
            await conn.execute(
                "insert into people (tenant_id, person_id, name, email, roles, active)"
                " values ($1, $2, $3, $4, $5, $6)",
                tenant_id,
                ids[key],
                key,
                email,
                roles,
                active,
            )
    role = "buyer_admin" if kind == "buyer" else "provider_admin"
    own_admin = {"Authorization": f"Bearer {issuer.token(tenant_id=tenant_id, roles=[role])}"}
    configured = await client.put(
        "/organisations/identity-provider",
        json={
            "issuer": provider.issuer,
            "clientId": f"tila-{tenant_id}",
            "allowedEmailDomains": allowed_domains,
            **login,
        },
        headers=own_admin,
    )
    assert configured.status_code == 200, configured.text
    # The secret's place is Tila's choice, not the tenant's; the operator puts it there.
    reference = configured.json()["clientSecretRef"]
    assert reference == f"env:TILA_IDP_SECRET_{tenant_id.hex.upper()}"
    os.environ[reference.removeprefix("env:")] = "any-secret-the-mock-accepts"
    assert configured.json()["loginUrl"] == f"{BASE}/organisations/login/{tenant_id}/start"
    return Tenant(tenant_id, provider, ids)


@pytest.fixture(scope="module")
async def tenants(
    client: Client, issuer: TestIssuer, pool: asyncpg.Pool, providers: dict[str, EmbeddedOidcProvider]
) -> dict[str, Tenant]:
    buyer = await _tenant(
        client,
        issuer,
        pool,
        providers["a"],
        "buyer",
        {
            "anna": ("anna.admin@pirha.example", ["buyer_admin"], True),
            "eero": ("eero@pirha.example", ["employee"], False),
            "gmail": ("someone@gmail.example", ["employee"], True),
            "ulla": ("ulla@pirha.example", ["employee"], True),
        },
        ["pirha.example"],
    )
    provider = await _tenant(
        client,
        issuer,
        pool,
        providers["b"],
        "provider",
        {"sanna": ("sanna@tyonohjaus.example", ["supervisor"], True)},
        [],
    )
    by_claims = await _tenant(
        client,
        issuer,
        pool,
        providers["a"],
        "provider",
        {},
        ["claims.example"],
        provisioning="claims",
        roleClaim="groups",
        roleMap={"sup": "supervisor"},
    )
    return {"buyer": buyer, "provider": provider, "claims": by_claims}


@dataclass
class Redirect:
    state: str
    code: str
    callback: str


async def _through_provider(
    client: Client, tenant: Tenant, subject: str, *, invitation: str | None = None
) -> Redirect:
    """Start at Tila, log in at the provider as ``subject``, stop before the callback."""
    params = {"invitation": invitation} if invitation is not None else {}
    started = await client.get(
        f"/organisations/login/{tenant.id}/start", params=params, follow_redirects=False
    )
    assert started.status_code == 302, started.text
    authorize = started.headers["location"]
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["nonce"]
    assert query["state"]
    async with httpx.AsyncClient() as browser:
        form = await browser.get(authorize)
        assert form.status_code == 200
        answer = await browser.post(authorize, data={"sub": subject})
    assert answer.status_code == 302, answer.text
    callback = answer.headers["location"]
    returned = parse_qs(urlsplit(callback).query)
    assert returned["state"] == query["state"]
    return Redirect(state=returned["state"][0], code=returned["code"][0], callback=callback)


async def _callback(client: Client, tenant: Tenant, **params: str) -> httpx.Response:
    return await client.get(f"/organisations/login/{tenant.id}/callback", params=params)


async def _verify(client: Client, token: str) -> Principal:
    jwks = JwksClient(
        f"{BASE}/organisations/.well-known/jwks.json", http_client=client, min_refresh_interval=0
    )
    return await TokenVerifier(jwks, issuer=TestIssuer().issuer, audience="tila").verify(token)


async def test_a_buyer_admin_logs_in_through_the_welfare_areas_own_provider(
    client: Client, tenants: dict[str, Tenant]
) -> None:
    buyer = tenants["buyer"]
    redirect = await _through_provider(client, buyer, "pirha-anna")
    assert redirect.callback.startswith(f"{BASE}/organisations/login/{buyer.id}/callback?")
    response = await client.get(redirect.callback.removeprefix(BASE))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    principal = await _verify(client, response.json()["access_token"])
    assert (principal.tenant_id, principal.subject) == (buyer.id, str(buyer.people["anna"]))
    assert principal.roles == frozenset({"buyer_admin"})
    refreshed = await client.post(
        "/organisations/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": response.json()["refresh_token"]},
    )
    assert refreshed.status_code == 200


async def test_a_supervisor_logs_in_through_the_networks_provider_and_again_by_subject(
    client: Client, tenants: dict[str, Tenant]
) -> None:
    provider = tenants["provider"]
    for _ in range(2):  # the second time the link (issuer, subject) finds her, not her e-mail
        redirect = await _through_provider(client, provider, "tyo-sanna")
        response = await client.get(redirect.callback.removeprefix(BASE))
        assert response.status_code == 200, response.text
        principal = await _verify(client, response.json()["access_token"])
        assert (principal.tenant_id, principal.roles) == (provider.id, frozenset({"supervisor"}))


async def _refused(response: httpx.Response, reason: str) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["detail"] == f"login failed: {reason}"
    assert "access_token" not in response.text


async def test_a_state_issued_for_another_tenant_is_refused(
    client: Client, tenants: dict[str, Tenant]
) -> None:
    redirect = await _through_provider(client, tenants["buyer"], "pirha-anna")
    response = await _callback(client, tenants["provider"], state=redirect.state, code=redirect.code)
    await _refused(response, "unknown_state")


async def test_a_replayed_callback_is_refused(client: Client, tenants: dict[str, Tenant]) -> None:
    redirect = await _through_provider(client, tenants["buyer"], "pirha-anna")
    assert (await client.get(redirect.callback.removeprefix(BASE))).status_code == 200
    await _refused(await client.get(redirect.callback.removeprefix(BASE)), "state_already_used")


async def test_a_replayed_authorization_code_is_refused_by_the_provider(
    client: Client, tenants: dict[str, Tenant]
) -> None:
    buyer = tenants["buyer"]
    first = await _through_provider(client, buyer, "pirha-anna")
    assert (await client.get(first.callback.removeprefix(BASE))).status_code == 200
    second = await _through_provider(client, buyer, "pirha-anna")
    response = await _callback(client, buyer, state=second.state, code=first.code)  # the spent code
    await _refused(response, "code_exchange_failed")


async def test_a_callback_naming_the_other_tenants_issuer_is_refused(
    client: Client, tenants: dict[str, Tenant]
) -> None:
    buyer, other = tenants["buyer"], tenants["provider"]
    redirect = await _through_provider(client, buyer, "pirha-anna")
    response = await _callback(
        client, buyer, state=redirect.state, code=redirect.code, iss=other.provider.issuer
    )
    await _refused(response, "issuer_mismatch")


async def test_an_unknown_state_is_refused(client: Client, tenants: dict[str, Tenant]) -> None:
    await _refused(await _callback(client, tenants["buyer"], state="forged", code="forged"), "unknown_state")


async def test_the_provider_refusing_is_a_refused_login(client: Client, tenants: dict[str, Tenant]) -> None:
    await _refused(
        await _callback(client, tenants["buyer"], error="access_denied", state="x"), "provider_refused"
    )


@pytest.mark.parametrize(
    ("subject", "reason"),
    [
        ("pirha-eero", "person_disabled"),
        ("pirha-gmail", "email_domain_not_allowed"),
        ("pirha-unverified", "email_not_verified"),
        ("pirha-stranger", "not_provisioned"),
    ],
)
async def test_who_may_not_log_in_does_not(
    client: Client, tenants: dict[str, Tenant], subject: str, reason: str
) -> None:
    redirect = await _through_provider(client, tenants["buyer"], subject)
    await _refused(await client.get(redirect.callback.removeprefix(BASE)), reason)


async def test_a_token_of_tenant_a_reads_only_tenant_a(client: Client, tenants: dict[str, Tenant]) -> None:
    buyer, provider = tenants["buyer"], tenants["provider"]
    redirect = await _through_provider(client, buyer, "pirha-anna")
    token = (await client.get(redirect.callback.removeprefix(BASE))).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    mine = await client.get("/organisations/tenants/me", headers=headers)
    assert mine.status_code == 200
    assert mine.json()["id"] == str(buyer.id)
    config = await client.get("/organisations/identity-provider", headers=headers)
    assert config.json()["issuer"] == buyer.provider.issuer != provider.provider.issuer
    listed = await client.get("/organisations/machine-clients", headers=headers)
    assert listed.status_code == 200
    assert listed.json()["items"] == []


async def test_with_claims_provisioning_the_providers_groups_decide_the_roles(
    client: Client, tenants: dict[str, Tenant]
) -> None:
    tenant = tenants["claims"]
    first = await client.get((await _through_provider(client, tenant, "kaisa")).callback.removeprefix(BASE))
    assert first.status_code == 200, first.text
    principal = await _verify(client, first.json()["access_token"])
    assert (principal.tenant_id, principal.roles) == (tenant.id, frozenset({"supervisor"}))
    headers = {"Authorization": f"Bearer {first.json()['access_token']}"}
    me = await client.get("/organisations/people/me", headers=headers)
    assert me.status_code == 200, me.text
    assert me.json()["email"] == "kaisa@claims.example"
    again = await client.get((await _through_provider(client, tenant, "kaisa")).callback.removeprefix(BASE))
    assert (await _verify(client, again.json()["access_token"])).subject == principal.subject


async def test_with_claims_provisioning_no_mapped_group_means_no_login(
    client: Client, tenants: dict[str, Tenant]
) -> None:
    redirect = await _through_provider(client, tenants["claims"], "olli")
    await _refused(await client.get(redirect.callback.removeprefix(BASE)), "no_role_granted")


async def test_a_callback_in_another_browser_is_refused(client: Client, tenants: dict[str, Tenant]) -> None:
    redirect = await _through_provider(client, tenants["buyer"], "pirha-anna")
    client.cookies.clear()  # the victim's browser never started this login
    await _refused(await client.get(redirect.callback.removeprefix(BASE)), "browser_mismatch")


async def test_a_tenant_admin_cannot_re_point_the_login_to_another_provider(
    client: Client, issuer: TestIssuer, tenants: dict[str, Tenant]
) -> None:
    buyer, other = tenants["buyer"], tenants["provider"]
    admin = {"Authorization": f"Bearer {issuer.token(tenant_id=buyer.id, roles=['buyer_admin'])}"}
    response = await client.put(
        "/organisations/identity-provider",
        json={"issuer": other.provider.issuer, "clientId": "attacker"},
        headers=admin,
    )
    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "body.issuer"
    config = await client.get("/organisations/identity-provider", headers=admin)
    assert config.json()["issuer"] == buyer.provider.issuer


@pytest.mark.parametrize(
    "body",
    [
        {"issuer": "http://127.0.0.1:1", "clientId": "x", "clientSecretRef": "env:PATH"},  # unknown field
        {"issuer": "ftp://idp.example", "clientId": "x"},
        {"issuer": "https://idp.example", "clientId": "x", "scopes": ["email"]},
        {"issuer": "https://idp\u0000.example", "clientId": "x"},
    ],
)
async def test_a_provider_configuration_that_is_not_safe_is_refused(
    client: Client, issuer: TestIssuer, body: dict[str, object]
) -> None:
    admin = {"Authorization": f"Bearer {issuer.token(tenant_id=uuid.uuid4(), roles=['buyer_admin'])}"}
    response = await client.put("/organisations/identity-provider", json=body, headers=admin)
    assert response.status_code in (400, 422), response.text
    assert response.json()["errors"]


async def test_only_the_tenants_admins_see_or_set_its_login(
    client: Client, issuer: TestIssuer, tenants: dict[str, Tenant]
) -> None:
    employee = {"Authorization": f"Bearer {issuer.token(tenant_id=tenants['buyer'].id, roles=['employee'])}"}
    assert (await client.get("/organisations/identity-provider", headers=employee)).status_code == 403
    response = await client.put(
        "/organisations/identity-provider",
        json={"issuer": "https://idp.example", "clientId": "x"},
        headers=employee,
    )
    assert response.status_code == 403


async def test_a_nul_byte_in_a_callback_is_a_clean_refusal(
    client: Client, tenants: dict[str, Tenant]
) -> None:
    response = await client.get(f"/organisations/login/{tenants['buyer'].id}/callback?state=a%00b&code=c")
    assert response.status_code in (400, 401, 422)
    assert response.headers["content-type"] == "application/problem+json"


async def test_login_for_a_tenant_without_a_provider_is_not_found(client: Client) -> None:
    response = await client.get(f"/organisations/login/{uuid.uuid4()}/start", follow_redirects=False)
    assert response.status_code == 404


# --- an admin's edit never decides who becomes an existing person; invitations do ---


def _platform_admin(issuer: TestIssuer) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token(tenant_id=uuid.uuid4(), roles=['platform_admin'])}"}


def _as(issuer: TestIssuer, tenant_id: uuid.UUID, *roles: str, subject: str | None = None) -> dict[str, str]:
    token = issuer.token(tenant_id=tenant_id, roles=roles, subject=subject)
    return {"Authorization": f"Bearer {token}"}


async def _identity_of(
    pool: asyncpg.Pool, tenant_id: uuid.UUID, issuer: str, subject: str
) -> uuid.UUID | None:
    async with tenant_transaction(pool, tenant_id) as conn:
        person: uuid.UUID | None = await conn.fetchval(
            "select person_id from identities where issuer = $1 and subject = $2", issuer, subject
        )
    return person


async def _invite(
    client: Client, issuer: TestIssuer, tenant_id: uuid.UUID, body: dict[str, object]
) -> dict[str, str]:
    response = await client.post(
        f"/organisations/tenants/{tenant_id}/invitations", json=body, headers=_platform_admin(issuer)
    )
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    invitation: dict[str, str] = response.json()
    return invitation


async def test_an_admin_who_changes_a_persons_email_to_their_own_account_is_not_linked_as_them(
    client: Client, issuer: TestIssuer, pool: asyncpg.Pool, tenants: dict[str, Tenant]
) -> None:
    buyer = tenants["buyer"]
    mallory = str(uuid.uuid4())
    admin = _as(issuer, buyer.id, "buyer_admin", subject=mallory)
    victim = await client.post(
        "/organisations/people",
        json={"name": "Vilja", "email": "vilja@pirha.example", "roles": ["employee"]},
        headers=admin,
    )
    assert victim.status_code == 201, victim.text
    victim_id = victim.json()["id"]
    # Vilja never logs in; her admin points her e-mail at an account the admin holds ...
    changed = await client.patch(
        f"/organisations/people/{victim_id}",
        json={"email": "mallory.alt@pirha.example"},
        headers=admin | {"If-Match": f'"{victim.json()["version"]}"'},
    )
    assert changed.status_code == 200, changed.text
    # ... and logs in with it: that login is nobody's, least of all Vilja's.
    redirect = await _through_provider(client, buyer, "pirha-mallory-alt")
    await _refused(await client.get(redirect.callback.removeprefix(BASE)), "not_provisioned")
    assert await _identity_of(pool, buyer.id, buyer.provider.issuer, "pirha-mallory-alt") is None

    # Vilja sees what happened to her record, and who did it.
    mine = await client.get(
        "/organisations/people/me", headers=_as(issuer, buyer.id, "employee", subject=victim_id)
    )
    assert mine.status_code == 200, mine.text
    assert mine.json()["identities"] == []
    [entry] = mine.json()["identityHistory"]
    assert (entry["action"], entry["actor"]) == ("email_changed", mallory)
    assert entry["detail"] == {"previous": "vilja@pirha.example", "current": "mallory.alt@pirha.example"}

    # Tila's support re-links her with an invitation she redeems with her own account.
    invitation = await _invite(client, issuer, buyer.id, {"personId": victim_id})
    assert invitation["purpose"] == "relink"
    redirect = await _through_provider(client, buyer, "pirha-victim", invitation=invitation["code"])
    response = await client.get(redirect.callback.removeprefix(BASE))
    assert response.status_code == 200, response.text
    principal = await _verify(client, response.json()["access_token"])
    assert principal.subject == victim_id
    headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
    mine = (await client.get("/organisations/people/me", headers=headers)).json()
    assert [i["issuer"] for i in mine["identities"]] == [buyer.provider.issuer]
    actions = [e["action"] for e in mine["identityHistory"]]
    assert actions == ["invitation_redeemed", "linked", "invitation_issued", "email_changed"]


async def test_a_person_never_edited_is_still_linked_by_their_provisioned_email(
    client: Client, issuer: TestIssuer, pool: asyncpg.Pool, tenants: dict[str, Tenant]
) -> None:
    buyer = tenants["buyer"]
    redirect = await _through_provider(client, buyer, "pirha-anna")
    assert (await client.get(redirect.callback.removeprefix(BASE))).status_code == 200
    anna = str(buyer.people["anna"])
    mine = await client.get(
        "/organisations/people/me", headers=_as(issuer, buyer.id, "buyer_admin", subject=anna)
    )
    linked = [e for e in mine.json()["identityHistory"] if e["action"] == "linked"]
    assert linked[-1]["detail"]["by"] == "email"
    assert linked[-1]["detail"]["subject"] == "pirha-anna"


async def test_the_identity_audit_is_append_only_for_the_service(
    pool: asyncpg.Pool, tenants: dict[str, Tenant]
) -> None:
    buyer = tenants["buyer"]
    async with tenant_transaction(pool, buyer.id) as conn:
        assert await conn.fetchval("select count(*) from identity_audit") > 0
    for statement in ("update identity_audit set actor = 'someone else'", "delete from identity_audit"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with tenant_transaction(pool, buyer.id) as conn:
                await conn.execute(statement)


async def test_onboarding_from_a_new_tenant_to_its_admin_configuring_its_provider(
    client: Client, issuer: TestIssuer, pool: asyncpg.Pool, providers: dict[str, EmbeddedOidcProvider]
) -> None:
    platform = _platform_admin(issuer)
    created = await client.post(
        "/organisations/tenants",
        json={"name": f"Onboarded {uuid.uuid4().hex[:6]}", "kind": "buyer", "businessId": business_id()},
        headers=platform,
    )
    assert created.status_code == 201, created.text
    tenant_id = uuid.UUID(created.json()["id"])
    # A tenant's own routes are not the platform admin's ...
    own = await client.get("/organisations/identity-provider", headers=platform)
    assert own.status_code == 403
    # ... the onboarding routes are.
    provider = providers["a"]
    configured = await client.put(
        f"/organisations/tenants/{tenant_id}/identity-provider",
        json={
            "issuer": provider.issuer,
            "clientId": f"tila-{tenant_id}",
            "allowedEmailDomains": ["pirha.example"],
        },
        headers=platform,
    )
    assert configured.status_code == 200, configured.text
    os.environ[configured.json()["clientSecretRef"].removeprefix("env:")] = "any-secret-the-mock-accepts"
    invitation = await _invite(
        client, issuer, tenant_id, {"email": "hallinto@pirha.example", "role": "buyer_admin"}
    )
    assert invitation["purpose"] == "first_admin"
    assert invitation["code"].startswith("tila_inv_")
    assert (
        invitation["loginUrl"]
        == f"{BASE}/organisations/login/{tenant_id}/start?invitation={invitation['code']}"
    )
    async with tenant_transaction(pool, tenant_id) as conn:
        stored = await conn.fetchrow(
            "select * from invitations where invitation_id = $1", uuid.UUID(invitation["id"])
        )
    assert stored is not None
    assert bytes(stored["secret_hash"]) == hashlib.sha256(invitation["code"].encode()).digest()
    assert invitation["code"] not in repr(dict(stored))

    tenant = Tenant(tenant_id, provider, {})
    # The invitee's account has another e-mail than the invitation named: the invitation decides.
    redirect = await _through_provider(client, tenant, "pirha-it", invitation=invitation["code"])
    response = await client.get(redirect.callback.removeprefix(BASE))
    assert response.status_code == 200, response.text
    principal = await _verify(client, response.json()["access_token"])
    assert (principal.tenant_id, principal.subject) == (tenant_id, invitation["personId"])
    assert principal.roles == frozenset({"buyer_admin"})
    first_admin = {"Authorization": f"Bearer {response.json()['access_token']}"}
    reconfigured = await client.put(
        "/organisations/identity-provider",
        json={
            "issuer": provider.issuer,
            "clientId": f"tila-{tenant_id}",
            "allowedEmailDomains": ["pirha.example"],
            "provisioning": "claims",
            "roleClaim": "groups",
            "roleMap": {"hr-admins": "buyer_admin"},
        },
        headers=first_admin,
    )
    assert reconfigured.status_code == 200, reconfigured.text
    assert reconfigured.json()["provisioning"] == "claims"

    # Spent: the same code never starts another login.
    again = await client.get(
        f"/organisations/login/{tenant_id}/start",
        params={"invitation": invitation["code"]},
        follow_redirects=False,
    )
    await _refused(again, "invitation_not_valid")


async def test_an_invitation_is_single_use_even_when_two_logins_started_with_it(
    client: Client, issuer: TestIssuer, pool: asyncpg.Pool, tenants: dict[str, Tenant]
) -> None:
    buyer = tenants["buyer"]
    person = await client.post(
        "/organisations/people",
        json={"name": "Two", "email": f"two-{uuid.uuid4().hex[:6]}@pirha.example", "roles": ["employee"]},
        headers=_as(issuer, buyer.id, "buyer_admin"),
    )
    invitation = await _invite(client, issuer, buyer.id, {"personId": person.json()["id"]})
    cookie = f"tila_login_{buyer.id.hex}"
    started = []
    for subject in ("pirha-it-2", "pirha-mallory-alt"):  # both start while it is unspent
        redirect = await _through_provider(client, buyer, subject, invitation=invitation["code"])
        started.append((redirect, client.cookies[cookie]))
    answers = []
    for redirect, binding in started:
        client.cookies.clear()
        answers.append(
            await client.get(redirect.callback.removeprefix(BASE), headers={"Cookie": f"{cookie}={binding}"})
        )
    assert answers[0].status_code == 200, answers[0].text
    await _refused(answers[1], "invitation_not_valid")
    assert await _identity_of(pool, buyer.id, buyer.provider.issuer, "pirha-mallory-alt") is None


async def test_an_invitation_never_takes_a_login_that_is_already_someone_elses(
    client: Client, issuer: TestIssuer, pool: asyncpg.Pool, tenants: dict[str, Tenant]
) -> None:
    buyer = tenants["buyer"]
    anna = await client.get(
        (await _through_provider(client, buyer, "pirha-anna")).callback.removeprefix(BASE)
    )
    assert anna.status_code == 200, anna.text
    person = await client.post(
        "/organisations/people",
        json={"name": "Kolmas", "email": f"k-{uuid.uuid4().hex[:6]}@pirha.example", "roles": ["employee"]},
        headers=_as(issuer, buyer.id, "buyer_admin"),
    )
    invitation = await _invite(client, issuer, buyer.id, {"personId": person.json()["id"]})
    redirect = await _through_provider(client, buyer, "pirha-anna", invitation=invitation["code"])
    await _refused(
        await client.get(redirect.callback.removeprefix(BASE)), "identity_linked_to_another_person"
    )
    assert await _identity_of(pool, buyer.id, buyer.provider.issuer, "pirha-anna") == buyer.people["anna"]
    # Nothing was spent: the invitation still starts a login.
    started = await client.get(
        f"/organisations/login/{buyer.id}/start",
        params={"invitation": invitation["code"]},
        follow_redirects=False,
    )
    assert started.status_code == 302, started.text


async def test_an_expired_invitation_is_refused_at_the_start_and_at_the_callback(
    client: Client, issuer: TestIssuer, pool: asyncpg.Pool, tenants: dict[str, Tenant]
) -> None:
    buyer = tenants["buyer"]
    person = await client.post(
        "/organisations/people",
        json={"name": "Late", "email": f"late-{uuid.uuid4().hex[:6]}@pirha.example", "roles": ["employee"]},
        headers=_as(issuer, buyer.id, "buyer_admin"),
    )
    invitation = await _invite(client, issuer, buyer.id, {"personId": person.json()["id"], "validHours": 1})
    redirect = await _through_provider(client, buyer, "pirha-mallory-alt", invitation=invitation["code"])
    async with tenant_transaction(pool, buyer.id) as conn:
        await conn.execute(
            "update invitations set expires_at = now() - interval '1 second' where invitation_id = $1",
            uuid.UUID(invitation["id"]),
        )
    await _refused(await client.get(redirect.callback.removeprefix(BASE)), "invitation_not_valid")
    assert await _identity_of(pool, buyer.id, buyer.provider.issuer, "pirha-mallory-alt") is None
    started = await client.get(
        f"/organisations/login/{buyer.id}/start",
        params={"invitation": invitation["code"]},
        follow_redirects=False,
    )
    await _refused(started, "invitation_not_valid")


async def test_another_tenants_invitation_is_refused(
    client: Client, issuer: TestIssuer, tenants: dict[str, Tenant]
) -> None:
    buyer, other = tenants["buyer"], tenants["provider"]
    sanna = str(other.people["sanna"])
    invitation = await _invite(client, issuer, other.id, {"personId": sanna})
    started = await client.get(
        f"/organisations/login/{buyer.id}/start",
        params={"invitation": invitation["code"]},
        follow_redirects=False,
    )
    await _refused(started, "invitation_not_valid")
    made_up = await client.get(
        f"/organisations/login/{buyer.id}/start",
        params={"invitation": "tila_inv_made-up"},
        follow_redirects=False,
    )
    await _refused(made_up, "invitation_not_valid")


async def test_only_platform_admins_invite_and_only_into_what_exists(
    client: Client, issuer: TestIssuer, tenants: dict[str, Tenant]
) -> None:
    buyer, other = tenants["buyer"], tenants["provider"]
    path = f"/organisations/tenants/{buyer.id}/invitations"
    body: dict[str, object] = {"email": "x@pirha.example", "role": "buyer_admin"}
    for roles in (["buyer_admin"], ["provider_admin", "supervisor"], ["employee"]):
        answer = await client.post(path, json=body, headers=_as(issuer, buyer.id, *roles))
        assert answer.status_code == 403, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
    denied = await client.put(
        f"/organisations/tenants/{buyer.id}/identity-provider",
        json={"issuer": other.provider.issuer, "clientId": "attacker"},
        headers=_as(issuer, buyer.id, "buyer_admin"),
    )
    assert denied.status_code == 403
    platform = _platform_admin(issuer)
    cases: list[tuple[str, dict[str, object], int]] = [
        (f"/organisations/tenants/{uuid.uuid4()}/invitations", body, 404),
        (path, {"personId": str(other.people["sanna"])}, 404),  # another tenant's person
        (path, {"email": "x@pirha.example", "role": "provider_admin"}, 422),  # not a buyer's admin role
        (path, {"email": "x@pirha.example"}, 422),
        (
            path,
            {"email": "x@pirha.example", "role": "buyer_admin", "personId": str(buyer.people["anna"])},
            422,
        ),
        (path, {}, 422),
        (path, {"email": "anna.admin@pirha.example", "role": "buyer_admin"}, 409),  # an existing person
        (path, {"personId": str(buyer.people["anna"]), "validHours": 0}, 400),
    ]
    for where, payload, status in cases:
        answer = await client.post(where, json=payload, headers=platform)
        assert answer.status_code == status, (payload, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    unknown = await client.put(
        f"/organisations/tenants/{uuid.uuid4()}/identity-provider",
        json={"issuer": other.provider.issuer, "clientId": "x"},
        headers=platform,
    )
    assert unknown.status_code == 404


# --- one anonymous client's flood does not refuse anyone else's login, refresh or keys ---


@pytest.fixture(scope="module")
async def behind_ingress(login_settings: OrganisationsSettings) -> AsyncIterator[Client]:
    """The app with a tight budget behind an ingress at 10.0.0.1 (whose X-Forwarded-For counts)."""
    settings = msgspec.structs.replace(
        login_settings, rate_limit_per_second=0.01, rate_limit_burst=3, trusted_proxies="10.0.0.0/8"
    )
    app = create_app(settings)
    inner = app.asgi_handler

    async def from_the_ingress(scope: Scope, receive: Receive, send: Send) -> None:
        await inner(cast("Scope", {**scope, "client": ("10.0.0.1", 40000)}), receive, send)

    app.asgi_handler = from_the_ingress
    async with AsyncTestClient(app) as test_client:
        yield test_client


async def test_one_clients_junk_at_the_token_endpoint_refuses_no_one_else(
    client: Client, issuer: TestIssuer, tenants: dict[str, Tenant], behind_ingress: Client
) -> None:
    buyer = tenants["buyer"]
    logged_in = await client.get(
        (await _through_provider(client, buyer, "pirha-anna")).callback.removeprefix(BASE)
    )
    refresh_token = logged_in.json()["refresh_token"]
    admin = {"Authorization": f"Bearer {issuer.token(tenant_id=buyer.id, roles=['buyer_admin'])}"}
    registered = await client.post(
        "/organisations/machine-clients", json={"name": "HR", "scopes": ["events:read"]}, headers=admin
    )
    assert registered.status_code == 201, registered.text
    machine = registered.json()
    attacker = {"X-Forwarded-For": "192.0.2.66"}
    junk_client = f"{buyer.id}.{uuid.uuid4()}"
    ingress = behind_ingress
    # The HR system behind the same address as the flooder has been fetching tokens all along.
    machine_grant = {"grant_type": "client_credentials"}
    machine_auth = attacker | basic_auth(machine["clientId"], machine["clientSecret"])
    issued = await ingress.post("/organisations/oauth/token", data=machine_grant, headers=machine_auth)
    assert issued.status_code == 200, issued.text
    answers = set()
    for _ in range(24):
        junk = {"grant_type": "refresh_token", "refresh_token": "junk"}
        answers.add(
            (await ingress.post("/organisations/oauth/token", data=junk, headers=attacker)).status_code
        )
        grant = {"grant_type": "client_credentials"}
        headers = attacker | basic_auth(junk_client, "junk")
        answers.add(
            (await ingress.post("/organisations/oauth/token", data=grant, headers=headers)).status_code
        )
    assert 429 in answers  # the flood itself is limited
    # The flooder's own address still fetches the keys every service verifies tokens with.
    for _ in range(5):
        keys = await ingress.get("/organisations/.well-known/jwks.json", headers=attacker)
        assert keys.status_code == 200

    # The machine client behind the very same address: its own client id, its own budget.
    issued = await ingress.post("/organisations/oauth/token", data=machine_grant, headers=machine_auth)
    assert issued.status_code == 200, issued.text

    # Another person, elsewhere: refresh, login start and the keys are answered.
    other = {"X-Forwarded-For": "198.51.100.7"}
    refresh = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    refreshed = await ingress.post("/organisations/oauth/token", data=refresh, headers=other)
    assert refreshed.status_code == 200, refreshed.text
    started = await ingress.get(
        f"/organisations/login/{buyer.id}/start", headers=other, follow_redirects=False
    )
    assert started.status_code == 302, started.text
    keys = await ingress.get("/organisations/.well-known/jwks.json", headers=other)
    assert keys.status_code == 200


# --- the ID token itself: signatures against a provider's real JWKS, and every claim ---

NOW = dt.datetime.now(dt.UTC)


def _claims(**changes: object) -> dict[str, object]:
    claims: dict[str, object] = {
        "iss": "https://idp.example",
        "aud": "tila-client",
        "sub": "someone",
        "nonce": "n-0123456789",
        "iat": int(NOW.timestamp()),
        "exp": int(NOW.timestamp()) + 300,
    }
    return {k: v for k, v in (claims | changes).items() if v is not None}


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"iss": "https://evil.example"}, "id_token_issuer"),
        ({"aud": "someone-else"}, "id_token_audience"),
        ({"aud": ["tila-client", "someone-else"]}, "id_token_audience"),
        ({"exp": int(NOW.timestamp()) - 120}, "id_token_expired"),
        ({"iat": int(NOW.timestamp()) + 3600}, "id_token_issued_in_future"),
        ({"iat": int(NOW.timestamp()) - 3600}, "id_token_stale"),
        ({"nonce": None}, "id_token_nonce"),
        ({"nonce": "a-replayed-nonce"}, "id_token_nonce"),
        ({"sub": None}, "id_token_subject"),
    ],
)
def test_an_id_token_with_a_wrong_claim_is_refused(changes: dict[str, object], reason: str) -> None:
    with pytest.raises(LoginRefused) as refused:
        check_id_token_claims(
            _claims(**changes),
            issuer="https://idp.example",
            client_id="tila-client",
            nonce="n-0123456789",
            now=NOW,
        )
    assert refused.value.reason == reason


def test_a_well_formed_id_token_passes() -> None:
    check_id_token_claims(
        _claims(), issuer="https://idp.example", client_id="tila-client", nonce="n-0123456789", now=NOW
    )
    check_id_token_claims(
        _claims(aud=["tila-client", "x"], azp="tila-client"),
        issuer="https://idp.example",
        client_id="tila-client",
        nonce="n-0123456789",
        now=NOW,
    )


def _segments(header: dict[str, object], claims: dict[str, object]) -> str:
    def encode(part: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()

    return f"{encode(header)}.{encode(claims)}"


async def test_id_token_signatures_are_checked_against_the_providers_keys(issuer: TestIssuer) -> None:
    metadata = ProviderMetadata(
        issuer="https://idp.example", authorization_endpoint="-", token_endpoint="-", jwks_uri=issuer.jwks_url
    )
    oidc = OidcClient(allow_loopback_http=True)  # the test issuer publishes on http://127.0.0.1
    try:
        good = sign_token(issuer.signing_key, _claims())
        assert (await oidc.verified_claims(metadata, good))["sub"] == "someone"

        tampered = good.rsplit(".", 1)[0] + "." + good.rsplit(".", 1)[1][::-1]
        unsigned = _segments({"alg": "none", "kid": issuer.signing_key.kid}, _claims()) + "."
        # "Signed" with the provider's public key as an HMAC secret: the classic confusion.
        public_key = json.dumps(issuer.signing_key.as_dict(private=False)).encode()
        body = _segments({"alg": "HS256", "kid": issuer.signing_key.kid}, _claims())
        mac = hmac.new(public_key, body.encode(), hashlib.sha256).digest()
        confused = body + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
        stranger = TestIssuer()
        foreign = sign_token(stranger.signing_key, _claims())
        for token, reason in [
            (tampered, "id_token_signature"),
            (unsigned, "id_token_algorithm"),
            (confused, "id_token_algorithm"),
            (foreign, "id_token_signature"),
        ]:
            with pytest.raises(LoginRefused) as refused:
                await oidc.verified_claims(metadata, token)
            assert refused.value.reason == reason
    finally:
        await oidc.aclose()


@pytest.mark.parametrize(
    ("issuer_url", "loopback", "allowed"),
    [
        ("https://login.pirha.example", False, True),
        ("https://login.example/tenant-1/v2.0", False, True),
        ("http://login.pirha.example", False, False),
        ("http://127.0.0.1:9400", False, False),
        ("http://127.0.0.1:9400", True, True),
        ("http://127.0.0.1.evil.example", True, False),
        ("https://user:pw@login.example", False, False),
        ("https://login.example?x=1", False, False),
        ("ftp://login.example", True, False),
    ],
)
def test_only_https_issuers_are_trusted_and_plain_http_only_on_this_machine(
    issuer_url: str, loopback: bool, allowed: bool
) -> None:
    assert issuer_allowed(issuer_url, allow_loopback_http=loopback) is allowed
