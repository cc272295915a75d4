"""Managing webhooks over HTTP in production mode (no loopback): who may, which URLs are refused
at registration, and that the delivery loop checks the resolved addresses again at delivery."""

from __future__ import annotations

import uuid

import asyncpg
import msgspec
import pytest

from services.integrations.adapters.sealing import seal_secret
from services.integrations.jobs import DeliveryLoop
from services.integrations.settings import IntegrationsSettings
from shared.db.tenant import tenant_transaction
from shared.testing.issuer import TestIssuer
from tests.integrations.support import Client, Receiver, admin

APPROVED = "fi.tila.order.approved.v1"


@pytest.fixture(scope="module")
def settings(settings: IntegrationsSettings) -> IntegrationsSettings:
    """As in production: only https to public addresses, and the production attempt timeout (the
    suite's 1 s would let a loaded machine's slow name lookup end an attempt before the refusal
    this module checks)."""
    return msgspec.structs.replace(settings, allow_loopback_http_webhooks=False, webhook_timeout_seconds=10.0)


def _token(
    issuer: TestIssuer, tenant: uuid.UUID, *, roles: tuple[str, ...] = (), scopes: tuple[str, ...] = ()
) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token(tenant_id=tenant, roles=roles, scopes=scopes)}"}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://[::1]/hook",
        "https://10.1.2.3/hook",
        "https://192.168.1.10/hook",
        "https://172.16.0.5/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://100.64.0.1/hook",
        "https://[fd00::1]/hook",
        "https://[::ffff:10.0.0.1]/hook",
        "https://0.0.0.0/hook",
        "http://hr.example.com/hook",
        "ftp://hr.example.com/hook",
        "https://user:pass@hr.example.com/hook",
        "not a url",
    ],
)
async def test_a_private_loopback_or_plain_http_target_is_refused_at_registration(
    client: Client, issuer: TestIssuer, url: str
) -> None:
    response = await client.post(
        "/integrations/webhooks",
        json={"url": url, "eventTypes": [APPROVED]},
        headers=admin(issuer, uuid.uuid4()),
    )
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["field"] == "body.url"


async def test_an_event_type_outside_the_catalogue_is_refused(client: Client, issuer: TestIssuer) -> None:
    for types in (["orders.order.approved.v1"], [], ["fi.tila.order.approved.v9"]):
        response = await client.post(
            "/integrations/webhooks",
            json={"url": "https://8.8.8.8/hook", "eventTypes": types},
            headers=admin(issuer, uuid.uuid4()),
        )
        assert response.status_code == 400, types
        assert response.json()["errors"][0]["field"] == "body.eventTypes"
        assert ("not be empty" in response.text) == (types == []), response.text


async def test_buyer_admins_and_clients_with_webhooks_manage_may_manage_webhooks_and_no_one_else(
    client: Client, issuer: TestIssuer
) -> None:
    tenant = uuid.uuid4()
    body = {"url": "https://8.8.8.8/hooks/tila", "eventTypes": [APPROVED]}
    for headers in (
        _token(issuer, tenant, roles=("employee",)),
        _token(issuer, tenant, roles=("provider_admin",)),
        _token(issuer, tenant, scopes=("events:read",)),
    ):
        assert (await client.post("/integrations/webhooks", json=body, headers=headers)).status_code == 403
        assert (await client.get("/integrations/webhooks", headers=headers)).status_code == 403
    machine = _token(issuer, tenant, scopes=("webhooks:manage",))
    created = await client.post("/integrations/webhooks", json=body, headers=machine)
    assert created.status_code == 201, created.text
    endpoint = created.json()
    assert endpoint["secret"].startswith("whsec_")
    listed = (await client.get("/integrations/webhooks", headers=admin(issuer, tenant))).json()["items"]
    assert [e["id"] for e in listed] == [endpoint["id"]]
    assert "secret" not in listed[0]
    other = admin(issuer, uuid.uuid4())
    assert (await client.get(f"/integrations/webhooks/{endpoint['id']}", headers=other)).status_code == 404
    assert (await client.delete(f"/integrations/webhooks/{endpoint['id']}", headers=other)).status_code == 404
    gone = await client.delete(f"/integrations/webhooks/{endpoint['id']}", headers=machine)
    assert gone.status_code == 204
    assert (await client.get(f"/integrations/webhooks/{endpoint['id']}", headers=machine)).status_code == 404


async def test_unknown_fields_and_an_unknown_delivery_status_are_400s(
    client: Client, issuer: TestIssuer
) -> None:
    tenant = uuid.uuid4()
    response = await client.post(
        "/integrations/webhooks",
        json={"url": "https://8.8.8.8/h", "eventTypes": [APPROVED], "secret": "mine"},
        headers=admin(issuer, tenant),
    )
    assert response.status_code == 400
    created = await client.post(
        "/integrations/webhooks",
        json={"url": "https://8.8.8.8/h", "eventTypes": [APPROVED]},
        headers=admin(issuer, tenant),
    )
    listing = await client.get(
        f"/integrations/webhooks/{created.json()['id']}/deliveries?status=lost", headers=admin(issuer, tenant)
    )
    assert listing.status_code == 400


async def test_the_delivery_loop_refuses_a_target_that_resolves_to_loopback_when_dev_mode_is_off(
    pool: asyncpg.Pool, settings: IntegrationsSettings
) -> None:
    """DNS can change after registration: the loop checks the addresses at every attempt, and
    sends nothing to a non-public one (here an endpoint row that points at a live receiver)."""
    receiver = Receiver()
    receiver.start()
    tenant, endpoint, delivery = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    try:
        for host in (f"127.0.0.1:{receiver.port}", f"localhost:{receiver.port}"):
            endpoint, delivery = uuid.uuid4(), uuid.uuid4()
            async with tenant_transaction(pool, tenant) as conn:
                keyring = settings.webhook_secret_keyring
                assert keyring is not None
                key_id, sealed = seal_secret(keyring, tenant, endpoint, "secret", "whsec_c2VjcmV0c2VjcmV0")
                await conn.execute(
                    "insert into webhook_endpoints"
                    " (tenant_id, endpoint_id, url, event_types, secret_key_id, secret_sealed)"
                    " values ($1, $2, $3, array['fi.tila.order.approved.v1'], $4, $5)",
                    tenant,
                    endpoint,
                    f"https://{host}/hook",
                    key_id,
                    sealed,
                )
                await conn.execute(
                    "insert into webhook_schedule (endpoint_id, tenant_id, due_at) values ($1, $2, now())",
                    endpoint,
                    tenant,
                )
                await conn.execute(
                    "insert into webhook_deliveries (tenant_id, delivery_id, endpoint_id, event_id,"
                    " event_type, event_time, position, body)"
                    " values ($1, $2, $3, $4, 'fi.tila.order.approved.v1', now(), 1, '{}')",
                    tenant,
                    delivery,
                    endpoint,
                    uuid.uuid4(),
                )
            loop = DeliveryLoop(pool, settings)
            try:
                assert await loop.tick() >= 1
                await loop.drain()
            finally:
                await loop.close()
            async with tenant_transaction(pool, tenant) as conn:
                row = await conn.fetchrow(
                    "select status, attempts, last_error, last_attempt_at, next_attempt_at"
                    " from webhook_deliveries"
                    " where delivery_id = $1",
                    delivery,
                )
            assert row["attempts"] == 1
            assert row["status"] == "pending"
            assert row["last_error"].startswith("target_refused")
            # retried later than the refused attempt (not against the clock: load may pass the backoff)
            assert row["next_attempt_at"] > row["last_attempt_at"]
        assert receiver.received == []
    finally:
        receiver.stop()


async def test_a_control_character_in_a_webhook_url_is_a_422_naming_the_field(
    client: Client, issuer: TestIssuer
) -> None:
    response = await client.post(
        "/integrations/webhooks",
        json={"url": "https://8.8.8.8/ho\u0008ok", "eventTypes": [APPROVED]},
        headers=admin(issuer, uuid.uuid4()),
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["body.url"]
