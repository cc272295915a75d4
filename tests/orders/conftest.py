"""What the orders tests share: the orders app over HTTP and its database as the app role."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest
import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient

from services.orders.app import create_app
from shared.config import ServiceSettings
from shared.db.pool import create_pool
from shared.db.provision import DatabaseLayout
from tests.clients import ReadBeforeWriteClient


@pytest.fixture(scope="module")
async def client(settings_for: Callable[[str], ServiceSettings]) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with ReadBeforeWriteClient(create_app(settings_for("orders"))) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def layout(platform_databases: dict[str, DatabaseLayout]) -> DatabaseLayout:
    return platform_databases["orders"]


@pytest_asyncio.fixture(scope="module")
async def orders_pool(layout: DatabaseLayout) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(layout.app_url, max_size=4)
    yield pool
    await pool.close()
