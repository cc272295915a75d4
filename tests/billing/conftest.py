"""What the billing tests share: the billing app over HTTP, its database as the app role, and NATS."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest
import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient
from lxml import etree
from nats.aio.client import Client as NATS

from services.billing.app import create_app
from shared.config import ServiceSettings
from shared.db.pool import create_pool
from shared.db.provision import DatabaseLayout
from shared.events import STREAMS, connect_nats, ensure_stream
from shared.testing.plugin import Stack
from tests.billing.einvoice import finvoice_schema
from tests.clients import ReadBeforeWriteClient


@pytest.fixture(scope="module")
async def client(settings_for: Callable[[str], ServiceSettings]) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with ReadBeforeWriteClient(create_app(settings_for("billing"))) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def layout(platform_databases: dict[str, DatabaseLayout]) -> DatabaseLayout:
    return platform_databases["billing"]


@pytest_asyncio.fixture(scope="module")
async def billing_pool(layout: DatabaseLayout) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(layout.app_url, max_size=6)
    yield pool
    await pool.close()


@pytest_asyncio.fixture(scope="module")
async def nc(stack: Stack) -> AsyncIterator[NATS]:
    connection = await connect_nats(stack.nats_url, name="billing-tests")
    js = connection.jetstream()
    for producer in ("sessions", "billing"):
        await ensure_stream(js, STREAMS[producer])
    yield connection
    await connection.close()


@pytest.fixture(scope="session")
def finvoice_xsd() -> etree.XMLSchema:
    """Finance Finland's Finvoice 3.0 XSD, from the PyPI wheel cached under .cache/ (see einvoice.py)."""
    return finvoice_schema()
