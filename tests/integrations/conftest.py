"""Fixtures of the integrations tests: the API and the worker on the real stack, a NATS client
that publishes envelopes as producers do, and a verifying webhook receiver."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import asyncpg
import httpx
import msgspec
import pytest
import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient
from litestar.testing.transport import TestClientTransport
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from services.integrations.app import create_app
from services.integrations.settings import IntegrationsSettings
from services.integrations.worker import create_worker
from shared.config import ServiceSettings
from shared.db.pool import create_pool
from shared.db.provision import DatabaseLayout
from shared.db.tenant import tenant_transaction
from shared.events import STREAMS, connect_nats, encode_envelope, ensure_stream
from shared.events.envelope import Envelope
from shared.events.worker import Worker
from shared.testing.issuer import TestIssuer
from tests.integrations.support import Receiver


class _ThreadedTransport(TestClientTransport["Client"]):
    """Litestar's test transport answers an async request synchronously (it blocks on its portal
    thread), which would stop this event loop, and the worker running in it, for the whole
    request: a request waiting on a row lock the worker holds in an open transaction (e.g.
    a replay's schedule row just after a delivery) then waits forever. Here the blocking call
    runs in a thread of its own, so the worker goes on as it does beside a real API process."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await asyncio.to_thread(self.handle_request, request)


class Client(AsyncTestClient[Litestar]):
    """The API under test on its own event loop, never blocking the worker's."""

    def __init__(self, app: Litestar) -> None:
        super().__init__(app)
        self._transport = _ThreadedTransport(client=self, raise_server_exceptions=True)  # type: ignore[assignment]


OLD_SECRET_KEY = "old:" + base64.b64encode(bytes(range(32))).decode()
SECRET_KEYS = OLD_SECRET_KEY + ",new:" + base64.b64encode(bytes(range(32, 64))).decode()
"""The tests' webhook secret keyring: ``new`` seals, ``old`` (an earlier keyring's only key) still opens."""


@pytest.fixture(scope="module")
def settings(settings_for: Callable[[str], ServiceSettings]) -> IntegrationsSettings:
    """Development mode (loopback http allowed) and retries made short."""
    return IntegrationsSettings(
        **msgspec.structs.asdict(settings_for("integrations"))
        | {
            "allow_loopback_http_webhooks": True,
            "webhook_timeout_seconds": 1.0,
            "webhook_retry_base_seconds": 0.05,
            "webhook_retry_cap_seconds": 0.3,
            "webhook_retry_window_seconds": 4.0,
            "webhook_poll_interval": 0.05,
            "webhook_concurrency": 8,
            "webhook_per_tenant_concurrency": 3,
            "webhook_secret_rotation_grace_seconds": 3,
            "webhook_secret_keys": SECRET_KEYS,
        }
    )


@pytest_asyncio.fixture(scope="module")
async def pool(platform_databases: dict[str, DatabaseLayout]) -> AsyncIterator[asyncpg.Pool]:
    created = await create_pool(platform_databases["integrations"].app_url, max_size=6)
    yield created
    await created.close()


@pytest_asyncio.fixture(scope="module")
async def client(settings: IntegrationsSettings) -> AsyncIterator[Client]:
    async with Client(create_app(settings)) as test_client:
        yield test_client


@pytest_asyncio.fixture(scope="module")
async def worker(settings: IntegrationsSettings) -> AsyncIterator[Worker]:
    running = create_worker(settings)
    tasks = await running.start()
    yield running
    pending = set(tasks)
    for _ in range(30):
        # Cancel again while any is left: asyncio.wait_for inside nats-py's fetch can swallow a
        # cancellation that races with a message (Python 3.11), and the consumer then goes on.
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.5)
        if not pending:
            break
    assert not pending, [t.get_name() for t in pending]
    await asyncio.wait_for(running.close(), timeout=15)


@pytest_asyncio.fixture(scope="module")
async def nats(settings: IntegrationsSettings) -> AsyncIterator[NATS]:
    nc = await connect_nats(settings.nats_url, name="integrations-test-producer")
    js = nc.jetstream()
    for producer in ("organisations", "orders", "sessions", "billing"):
        await ensure_stream(js, STREAMS[producer])
    yield nc
    await nc.close()


class Producer:
    """Publishes envelopes onto the producers' streams, as their outbox relays do."""

    def __init__(self, js: JetStreamContext) -> None:
        self.js = js

    async def publish(self, *envelopes: Envelope) -> None:
        for envelope in envelopes:
            await self.js.publish(
                envelope.type, encode_envelope(envelope), headers={"Nats-Msg-Id": str(envelope.id)}
            )


@pytest.fixture(scope="module")
def producer(nats: NATS) -> Producer:
    return Producer(nats.jetstream())


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    running.start()
    yield running
    running.stop()


def admin(issuer: TestIssuer, tenant: uuid.UUID) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token(tenant_id=tenant, roles=['buyer_admin'])}"}


def reader(issuer: TestIssuer, tenant: uuid.UUID) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token(tenant_id=tenant, scopes=['events:read'])}"}


async def register(
    client: Client, issuer: TestIssuer, receiver: Receiver, tenant: uuid.UUID, event_types: list[str]
) -> tuple[str, str]:
    """A new endpoint of ``tenant`` at a fresh receiver path: (endpoint id, path)."""
    path = f"/hooks/{uuid.uuid4().hex}"
    response = await client.post(
        "/integrations/webhooks",
        json={"url": receiver.url(path), "eventTypes": event_types},
        headers=admin(issuer, tenant),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["secret"].startswith("whsec_")
    receiver.secrets[path] = [body["secret"]]
    return body["id"], path


async def wait_until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


async def wait_for_person(pool: asyncpg.Pool, tenant: uuid.UUID, person: uuid.UUID) -> None:
    for _ in range(400):
        async with tenant_transaction(pool, tenant) as conn:
            if await conn.fetchval(
                "select 1 from hr_people where tenant_id = $1 and person_id = $2", tenant, person
            ):
                return
        await asyncio.sleep(0.05)
    raise AssertionError("the person never reached the read model")


async def wait_for_cost_centre(pool: asyncpg.Pool, tenant: uuid.UUID, cost_centre: uuid.UUID) -> None:
    for _ in range(400):
        async with tenant_transaction(pool, tenant) as conn:
            if await conn.fetchval(
                "select 1 from cost_centre_codes where tenant_id = $1 and cost_centre_id = $2",
                tenant,
                cost_centre,
            ):
                return
        await asyncio.sleep(0.05)
    raise AssertionError("the cost centre never reached the read model")
