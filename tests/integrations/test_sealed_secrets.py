"""Webhook signing secrets are sealed at rest under the integrations keyring: never in plain text
in the database, bound to their tenant, endpoint and column, and still signing after the keyring
gets a newer key."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator

import asyncpg
import msgspec
import pytest
import pytest_asyncio
from standardwebhooks.webhooks import Webhook

from services.integrations.app import create_app
from services.integrations.settings import IntegrationsSettings
from shared.db.provision import DatabaseLayout
from shared.testing.issuer import TestIssuer
from shared.testing.plugin import Stack
from tests.integrations.support import (
    OLD_SECRET_KEY,
    Client,
    Parties,
    Producer,
    Receiver,
    admin,
    order_approved,
    register,
    wait_until,
)

pytestmark = pytest.mark.usefixtures("worker")

APPROVED = "fi.tila.order.approved.v1"
UNREADABLE = "the endpoint's signing secret could not be opened"


@pytest_asyncio.fixture
async def superuser(
    stack: Stack, platform_databases: dict[str, DatabaseLayout]
) -> AsyncIterator[asyncpg.Connection]:
    """The integrations database as the superuser: RLS is forced even for the owner role."""
    database = platform_databases["integrations"].database
    conn = await asyncpg.connect(stack.pg_admin_url.rsplit("/", 1)[0] + "/" + database)
    yield conn
    await conn.close()


def _with(settings: IntegrationsSettings, **changes: object) -> IntegrationsSettings:
    return IntegrationsSettings(**(msgspec.structs.asdict(settings) | changes))


async def _delivery(superuser: asyncpg.Connection, endpoint: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await superuser.fetchrow(
        "select attempts, last_error, status from webhook_deliveries where endpoint_id = $1",
        uuid.UUID(endpoint),
    )
    return row


async def test_a_registered_and_a_rotated_secret_are_not_in_plain_text_in_the_database(
    client: Client, issuer: TestIssuer, receiver: Receiver, superuser: asyncpg.Connection
) -> None:
    p = Parties()
    endpoint, path = await register(client, issuer, receiver, p.buyer, [APPROVED])
    (first,) = receiver.secrets[path]
    rotated = await client.post(
        f"/integrations/webhooks/{endpoint}/rotate-secret", headers=admin(issuer, p.buyer)
    )
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()["secret"]
    row = await superuser.fetchrow(
        "select t::text as text, t.secret_key_id, t.secret_sealed, t.previous_secret_sealed"
        " from webhook_endpoints t where endpoint_id = $1",
        uuid.UUID(endpoint),
    )
    assert row is not None
    assert row["secret_key_id"] == "new"
    assert row["previous_secret_sealed"] is not None
    for secret in (first, second):
        raw = base64.b64decode(secret.removeprefix("whsec_"))
        assert secret not in row["text"]
        assert secret.removeprefix("whsec_") not in row["text"]
        assert raw.hex() not in row["text"]  # bytea prints as hex
        assert raw not in row["secret_sealed"]
        assert raw not in row["previous_secret_sealed"]
        assert secret.encode() not in row["secret_sealed"] + row["previous_secret_sealed"]


async def test_a_secret_sealed_under_an_older_key_still_signs_after_a_newer_key_is_added(
    settings: IntegrationsSettings,
    issuer: TestIssuer,
    receiver: Receiver,
    producer: Producer,
    superuser: asyncpg.Connection,
) -> None:
    p = Parties()
    async with Client(create_app(_with(settings, webhook_secret_keys=OLD_SECRET_KEY))) as before:
        endpoint, path = await register(before, issuer, receiver, p.buyer, [APPROVED])
    key_id = await superuser.fetchval(
        "select secret_key_id from webhook_endpoints where endpoint_id = $1", uuid.UUID(endpoint)
    )
    assert key_id == "old"
    # The worker's keyring is old + new (new seals): the old secret still opens and signs.
    await producer.publish(order_approved(p))
    await wait_until(lambda: len(receiver.verified(path)) == 1)
    delivered = receiver.verified(path)[0]
    (secret,) = receiver.secrets[path]
    Webhook(secret).verify(delivered.body, delivered.headers)


async def test_a_sealed_secret_moved_to_another_endpoint_does_not_open_and_nothing_is_signed_with_it(
    client: Client,
    issuer: TestIssuer,
    receiver: Receiver,
    producer: Producer,
    superuser: asyncpg.Connection,
) -> None:
    p = Parties()
    source, source_path = await register(client, issuer, receiver, p.buyer, [APPROVED])
    target, target_path = await register(client, issuer, receiver, p.buyer, [APPROVED])
    await superuser.execute(
        """
        update webhook_endpoints t set secret_sealed = s.secret_sealed, secret_key_id = s.secret_key_id
        from webhook_endpoints s where s.endpoint_id = $1 and t.endpoint_id = $2
        """,
        uuid.UUID(source),
        uuid.UUID(target),
    )
    await producer.publish(order_approved(p))
    await wait_until(lambda: len(receiver.verified(source_path)) == 1)

    async def failed() -> asyncpg.Record | None:
        row = await _delivery(superuser, target)
        return row if row is not None and row["attempts"] >= 1 else None

    for _ in range(400):
        if row := await failed():
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the moved secret's delivery was never attempted")
    assert row["last_error"] == UNREADABLE
    assert row["status"] in ("pending", "dead")
    # Nothing reached the receiver for the target: no request signed with the source's secret.
    assert [r for r in receiver.received if r.path == target_path] == []


async def test_without_a_keyring_registering_a_webhook_answers_503(
    settings: IntegrationsSettings, issuer: TestIssuer, receiver: Receiver
) -> None:
    async with Client(create_app(_with(settings, webhook_secret_keys=""))) as keyless:
        response = await keyless.post(
            "/integrations/webhooks",
            json={"url": receiver.url("/hooks/none"), "eventTypes": [APPROVED]},
            headers=admin(issuer, uuid.uuid4()),
        )
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "secret" not in response.json()
