"""The organisations tenant API on real PostgreSQL, NATS and a real token issuer."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from litestar.testing import AsyncTestClient

from services.organisations.app import create_app
from shared.config import ServiceSettings
from shared.testing.issuer import TestIssuer
from tests.factories import business_id


@pytest.fixture(scope="module")
async def client(settings_for: Callable[[str], ServiceSettings]) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    async with AsyncTestClient(create_app(settings_for("organisations"))) as test_client:
        yield test_client


async def test_ready_answers_200_with_database_and_nats(client: AsyncTestClient) -> None:  # type: ignore[type-arg]
    response = await client.get("/organisations/health/ready")
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"database": "ok", "nats": "ok"}


async def test_platform_admin_creates_a_tenant_and_its_admin_reads_it(
    client: AsyncTestClient, issuer: TestIssuer  # type: ignore[type-arg]
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
    assert tenant["businessId"] == new_business_id and tenant["kind"] == "buyer"
    own = issuer.token(tenant_id=uuid.UUID(tenant["id"]), roles=["buyer_admin"])
    mine = await client.get("/organisations/tenants/me", headers={"Authorization": f"Bearer {own}"})
    assert mine.status_code == 200 and mine.json()["id"] == tenant["id"]
