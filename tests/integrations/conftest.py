"""Fixtures of the integrations tests: the API and the worker on the real stack, a NATS client
that publishes envelopes as producers do, and a verifying webhook receiver."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator

import asyncpg
import msgspec
import pytest
import pytest_asyncio
from nats.aio.client import Client as NATS

from services.integrations.app import create_app
from services.integrations.settings import IntegrationsSettings
from services.integrations.worker import create_worker
from shared.config import ServiceSettings
from shared.db.pool import create_pool
from shared.db.provision import DatabaseLayout
from shared.events import STREAMS, connect_nats, ensure_stream
from shared.events.worker import Worker
from tests.integrations.support import SECRET_KEYS, Client, Producer, Receiver


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


@pytest.fixture(scope="module")
def producer(nats: NATS) -> Producer:
    return Producer(nats.jetstream())


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    running.start()
    yield running
    running.stop()
