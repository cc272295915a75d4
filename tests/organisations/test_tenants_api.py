"""The organisations tenant API on real PostgreSQL, NATS and a real token issuer."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from services.organisations.app import create_app
from shared.config import ServiceSettings
from shared.contracts.organisations import TenantCreated
from shared.db.provision import DatabaseLayout
from shared.events.envelope import decode_envelope
from shared.testing.issuer import TestIssuer
from tests.clients import ReadBeforeWriteClient
from tests.factories import business_id
from tests.organisations.support import outbox_payloads, with_wrong_check_digit

Client = AsyncTestClient[Litestar]

PROBLEM_JSON = "application/problem+json"


@pytest.fixture(scope="module")
async def client(settings_for: Callable[[str], ServiceSettings]) -> AsyncIterator[Client]:
    async with ReadBeforeWriteClient(create_app(settings_for("organisations"))) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def platform_admin(issuer: TestIssuer) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token(tenant_id=uuid.uuid4(), roles=['platform_admin'])}"}


def bearer(issuer: TestIssuer, tenant_id: uuid.UUID | str, *roles: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token(tenant_id=uuid.UUID(str(tenant_id)), roles=roles)}"}


async def create_tenant(client: Client, headers: dict[str, str], **body: Any) -> httpx.Response:
    payload = {"name": "Pirkanmaan hyvinvointialue", "kind": "buyer", "businessId": business_id(), **body}
    return await client.post("/organisations/tenants", json=payload, headers=headers)


async def test_ready_answers_200_with_database_and_nats(client: Client) -> None:
    response = await client.get("/organisations/health/ready")
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"database": "ok", "nats": "ok"}


async def test_platform_admin_creates_a_tenant_and_its_admin_reads_it(
    client: Client, issuer: TestIssuer
) -> None:
    admin = issuer.token(tenant_id=uuid.uuid4(), roles=["platform_admin"])
    new_business_id = business_id()
    response = await client.post(
        "/organisations/tenants",
        json={"name": "Pirkanmaan hyvinvointialue", "kind": "buyer", "businessId": new_business_id},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert response.status_code == 201, response.text
    tenant = response.json()
    assert tenant == {
        "id": tenant["id"],
        "name": "Pirkanmaan hyvinvointialue",
        "kind": "buyer",
        "subtype": None,
        "businessId": new_business_id,
        "vatId": None,
        "postalAddress": None,
        "eInvoiceAddress": None,
        "iban": None,
        "bic": None,
        "active": True,
        "version": 1,
    }
    own = issuer.token(tenant_id=uuid.UUID(tenant["id"]), roles=["buyer_admin"])
    mine = await client.get("/organisations/tenants/me", headers={"Authorization": f"Bearer {own}"})
    assert mine.status_code == 200
    assert mine.json() == tenant
    assert mine.headers["etag"] == '"1"'


# --- what a tenant must be ---


async def test_an_invalid_business_id_is_a_422_on_body_business_id(
    client: Client, platform_admin: dict[str, str]
) -> None:
    response = await create_tenant(client, platform_admin, businessId=with_wrong_check_digit(business_id()))
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["type"] == "urn:tila:problem:invariant-violated"
    assert problem["errors"][0]["field"] == "body.businessId"
    assert problem["instance"] == "/organisations/tenants"
    assert problem["requestId"] == response.headers["x-request-id"]


async def test_a_business_id_of_the_wrong_length_is_refused_by_the_schema(
    client: Client, platform_admin: dict[str, str]
) -> None:
    response = await create_tenant(client, platform_admin, businessId="123")
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["body.businessId"]


async def test_the_business_id_is_stored_in_canonical_form(
    client: Client, platform_admin: dict[str, str], issuer: TestIssuer
) -> None:
    canonical = business_id()
    response = await create_tenant(client, platform_admin, businessId="FI" + canonical.replace("-", ""))
    assert response.status_code == 201, response.text
    assert response.json()["businessId"] == canonical
    mine = await client.get(
        "/organisations/tenants/me", headers=bearer(issuer, response.json()["id"], "buyer_admin")
    )
    assert mine.json()["businessId"] == canonical


async def test_the_name_is_stored_stripped(client: Client, platform_admin: dict[str, str]) -> None:
    response = await create_tenant(client, platform_admin, name="  Valvontapalvelut Oy  ", kind="provider")
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "Valvontapalvelut Oy"
    assert response.json()["kind"] == "provider"


async def test_a_blank_name_is_a_422_on_body_name(client: Client, platform_admin: dict[str, str]) -> None:
    response = await create_tenant(client, platform_admin, name="   ")
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["body.name"]


async def test_an_empty_name_is_a_400_on_body_name(client: Client, platform_admin: dict[str, str]) -> None:
    response = await create_tenant(client, platform_admin, name="")
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["body.name"]


async def test_an_unknown_kind_is_a_400_on_body_kind(client: Client, platform_admin: dict[str, str]) -> None:
    response = await create_tenant(client, platform_admin, kind="supplier")
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM_JSON
    assert [e["field"] for e in response.json()["errors"]] == ["body.kind"]


async def test_an_unknown_field_is_a_400_naming_it(client: Client, platform_admin: dict[str, str]) -> None:
    response = await create_tenant(client, platform_admin, vatNumber="FI20774740")
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["field"] == "body.vatNumber"
    assert "vatNumber" in error["message"]


async def test_a_second_tenant_with_the_same_business_id_is_a_409_and_writes_no_event(
    client: Client, platform_admin: dict[str, str], platform_databases: dict[str, DatabaseLayout]
) -> None:
    taken = business_id()
    first = await create_tenant(client, platform_admin, businessId=taken)
    assert first.status_code == 201, first.text
    # Another spelling of the same Y-tunnus is the same business.
    again = await create_tenant(client, platform_admin, name="Toinen Oy", businessId=taken.replace("-", ""))
    assert again.status_code == 409
    assert again.headers["content-type"] == PROBLEM_JSON
    problem = again.json()
    assert problem["type"] == "urn:tila:problem:conflict"
    assert problem["errors"] == [{"field": "body.businessId", "message": "already registered"}]
    created = [
        envelope.event_as(TenantCreated)
        for envelope in map(decode_envelope, await outbox_payloads(platform_databases["organisations"]))
        if envelope.type == TenantCreated.event_type
    ]
    assert [event.tenant_id for event in created if event.business_id == taken] == [
        uuid.UUID(first.json()["id"])
    ]


# --- who may ---


async def test_a_buyer_admin_may_not_create_tenants(client: Client, issuer: TestIssuer) -> None:
    response = await create_tenant(client, bearer(issuer, uuid.uuid4(), "buyer_admin"))
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["status"] == 403


async def test_creating_a_tenant_without_a_token_is_a_401(client: Client) -> None:
    response = await create_tenant(client, {})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == PROBLEM_JSON


async def test_an_expired_platform_admin_token_is_a_401(client: Client, issuer: TestIssuer) -> None:
    expired = issuer.token(tenant_id=uuid.uuid4(), roles=["platform_admin"], expires_in=-3600)
    response = await create_tenant(client, {"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


async def test_each_admin_reads_only_their_own_tenant(
    client: Client, platform_admin: dict[str, str], issuer: TestIssuer
) -> None:
    tenant_a = (await create_tenant(client, platform_admin, name="Tilaaja A")).json()
    tenant_b = (await create_tenant(client, platform_admin, name="Tilaaja B")).json()
    for own, other in ((tenant_a, tenant_b), (tenant_b, tenant_a)):
        response = await client.get(
            "/organisations/tenants/me", headers=bearer(issuer, own["id"], "buyer_admin")
        )
        assert response.status_code == 200
        assert response.json() == own
        assert other["id"] not in response.text


async def test_a_token_of_an_unknown_tenant_reads_no_tenant(client: Client, issuer: TestIssuer) -> None:
    response = await client.get(
        "/organisations/tenants/me", headers=bearer(issuer, uuid.uuid4(), "buyer_admin")
    )
    assert response.status_code == 404
    assert response.json()["type"] == "urn:tila:problem:not-found"


# --- what others hear ---


async def test_a_created_tenant_is_announced_through_the_outbox(
    client: Client, platform_admin: dict[str, str], platform_databases: dict[str, DatabaseLayout]
) -> None:
    new_business_id = business_id()
    response = await create_tenant(
        client, platform_admin, name="Kotihoito Valvoja Oy", kind="provider", businessId=new_business_id
    )
    assert response.status_code == 201, response.text
    tenant_id = uuid.UUID(response.json()["id"])
    [payload] = await outbox_payloads(platform_databases["organisations"], tenant_id)
    assert msgspec.json.decode(payload)["tenantIds"] == [str(tenant_id)]
    envelope = decode_envelope(payload)
    assert envelope.type == "organisations.tenant.created.v1"
    assert envelope.source == "organisations"
    assert envelope.tenant_ids == (tenant_id,)
    assert envelope.subject == str(tenant_id)
    assert envelope.version == 1
    assert envelope.event_as(TenantCreated) == TenantCreated(
        tenant_id=tenant_id, name="Kotihoito Valvoja Oy", kind="provider", business_id=new_business_id
    )


async def test_text_an_e_invoice_cannot_carry_is_refused_with_a_422_naming_the_fields(
    client: Client, issuer: TestIssuer, platform_admin: dict[str, str]
) -> None:
    address = {"street": "Katu\u000b2", "postcode": "33100", "city": "Tampere"}
    response = await create_tenant(client, platform_admin, name="Attacker\u0008Buyer", postalAddress=address)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"] == "urn:tila:problem:invalid-text"
    assert [e["field"] for e in problem["errors"]] == ["body.name", "body.postalAddress.street"]
    made = await create_tenant(client, platform_admin)
    assert made.status_code == 201, made.text
    admin = bearer(issuer, made.json()["id"], "buyer_admin")
    etag = (await client.get("/organisations/tenants/me", headers=admin)).headers["etag"]
    changed = await client.patch(
        "/organisations/tenants/me", json={"name": "Nimi\u0000"}, headers={**admin, "If-Match": etag}
    )
    assert changed.status_code == 422
    assert [e["field"] for e in changed.json()["errors"]] == ["body.name"]
