"""A tenant deactivated in organisations loses its webhooks and its integrations API: the real
organisations API and outbox relay, the real streams and the real integrations worker.

Deactivation is final in the contracts (there is no reactivation event), so a deactivated
tenant's pending deliveries are dead-lettered unsent (``tenant_deactivated``) and no new ones
are made; its tokens, also those issued before, get 403 from every integrations route.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import asyncpg
import msgspec
import pytest
import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient
from nats.aio.client import Client as NATS

from services.integrations.settings import IntegrationsSettings
from services.organisations.app import create_app as create_organisations_app
from shared.config import ServiceSettings
from shared.db.provision import DatabaseLayout
from shared.db.tenant import tenant_transaction
from shared.events.outbox import OutboxRelay
from shared.tenancy import fetch_known_tenant
from shared.testing.issuer import TestIssuer
from tests.factories import business_id
from tests.integrations.support import (
    SECRET_KEYS,
    Client,
    Parties,
    Producer,
    Receiver,
    admin,
    order_approved,
    reader,
    register,
    wait_until,
)

pytestmark = pytest.mark.usefixtures("worker")

APPROVED = "fi.tila.order.approved.v1"


@pytest.fixture(scope="module")
def settings(settings_for: Callable[[str], ServiceSettings]) -> IntegrationsSettings:
    """As the package's, but with a long retry window: a failing delivery stays pending until
    the deactivation reaches the worker, however loaded the machine is."""
    return IntegrationsSettings(
        **msgspec.structs.asdict(settings_for("integrations"))
        | {
            "allow_loopback_http_webhooks": True,
            "webhook_timeout_seconds": 1.0,
            "webhook_retry_base_seconds": 0.05,
            "webhook_retry_cap_seconds": 0.3,
            "webhook_retry_window_seconds": 600.0,
            "webhook_poll_interval": 0.05,
            "webhook_secret_keys": SECRET_KEYS,
        }
    )


@pytest_asyncio.fixture(scope="module")
async def organisations(
    settings_for: Callable[[str], ServiceSettings],
    platform_databases: dict[str, DatabaseLayout],
    nats: NATS,  # the streams exist
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """The organisations API, and its outbox relayed to the ORGANISATIONS stream as its worker does."""
    own = settings_for("organisations")
    relay = OutboxRelay(
        service="organisations",
        dsn=platform_databases["organisations"].relay_url,
        nats=nats,
        poll_interval=0.1,
    )
    task = asyncio.create_task(relay.run())
    try:
        async with AsyncTestClient(create_organisations_app(own)) as client:
            yield client
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _known(pool: asyncpg.Pool, tenant: uuid.UUID, *, active: bool) -> None:
    for _ in range(600):
        async with tenant_transaction(pool, tenant) as conn:
            known = await fetch_known_tenant(conn, tenant)
        if known is not None and known.active is active:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"integrations never heard the tenant is {'active' if active else 'deactivated'}")


async def _delivery(pool: asyncpg.Pool, tenant: uuid.UUID, endpoint: str) -> asyncpg.Record | None:
    async with tenant_transaction(pool, tenant) as conn:
        row: asyncpg.Record | None = await conn.fetchrow(
            "select status, attempts, last_error from webhook_deliveries"
            " where tenant_id = $1 and endpoint_id = $2",
            tenant,
            uuid.UUID(endpoint),
        )
    return row


async def test_a_deactivated_tenant_gets_no_more_webhooks_and_its_old_tokens_are_refused(
    organisations: AsyncTestClient[Litestar],
    client: Client,
    issuer: TestIssuer,
    receiver: Receiver,
    producer: Producer,
    pool: asyncpg.Pool,
) -> None:
    platform_admin = {
        "Authorization": f"Bearer {issuer.token(tenant_id=uuid.uuid4(), roles=['platform_admin'])}"
    }
    created = await organisations.post(
        "/organisations/tenants",
        json={"name": f"Lakkautettava {uuid.uuid4().hex[:6]}", "kind": "buyer", "businessId": business_id()},
        headers=platform_admin,
    )
    assert created.status_code == 201, created.text
    tenant = uuid.UUID(created.json()["id"])
    await _known(pool, tenant, active=True)
    p, control = Parties(buyer=tenant), Parties()

    # Before: an endpoint receives, and another one keeps failing (pending, retried).
    _, path = await register(client, issuer, receiver, tenant, [APPROVED])
    failing, failing_path = await register(client, issuer, receiver, tenant, [APPROVED])
    receiver.behaviour[failing_path] = "fail"
    _, control_path = await register(client, issuer, receiver, control.buyer, [APPROVED])
    await producer.publish(order_approved(p))
    await wait_until(lambda: len(receiver.verified(path)) == 1)
    for _ in range(600):
        row = await _delivery(pool, tenant, failing)
        if row is not None and row["attempts"] >= 1:
            break
        await asyncio.sleep(0.05)
    old_token = {"Authorization": f"Bearer {issuer.token(tenant_id=tenant, scopes=['webhooks:manage'])}"}
    old_reader = reader(issuer, tenant)
    assert (await client.get("/integrations/webhooks", headers=old_token)).status_code == 200

    deactivated = await organisations.post(
        f"/organisations/tenants/{tenant}/deactivate", headers=platform_admin
    )
    assert deactivated.status_code == 200, deactivated.text
    await _known(pool, tenant, active=False)

    # The pending delivery is dead-lettered unsent, and nothing new reaches its endpoints.
    for _ in range(600):
        row = await _delivery(pool, tenant, failing)
        if row is not None and row["status"] == "dead":
            break
        await asyncio.sleep(0.05)
    assert row is not None
    assert (row["status"], row["last_error"]) == ("dead", "tenant_deactivated")
    receiver.behaviour[failing_path] = "ok"
    await producer.publish(order_approved(p))
    await producer.publish(order_approved(control))  # after it on the same stream
    await wait_until(lambda: len(receiver.verified(control_path)) == 1)
    await asyncio.sleep(0.5)  # room for a stray delivery of the deactivated tenant to show up
    assert len(receiver.verified(path)) == 1
    assert receiver.verified(failing_path) == []

    # A token issued before the deactivation no longer manages webhooks or reads the feed.
    refused = await client.post(
        "/integrations/webhooks",
        json={"url": receiver.url("/hooks/after"), "eventTypes": [APPROVED]},
        headers=old_token,
    )
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["detail"] == "the tenant is deactivated"
    assert (await client.get("/integrations/webhooks", headers=old_token)).status_code == 403
    assert (await client.get("/integrations/events", headers=old_reader)).status_code == 403
    assert (await client.get("/integrations/settings", headers=admin(issuer, tenant))).status_code == 403
    # Another tenant is untouched.
    assert (
        await client.get("/integrations/webhooks", headers=admin(issuer, control.buyer))
    ).status_code == 200
