"""Fixtures of the security suite: every service's app (from ``create_app``), its OpenAPI document,
and a world of two buyers and two providers seeded through the APIs."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import pytest
import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient

from services.organisations.keys import ensure_key_file
from services.platform import SERVICES
from shared.config import ServiceSettings
from shared.db.pool import create_pool
from shared.db.provision import DatabaseLayout
from shared.testing.issuer import TestIssuer
from shared.testing.plugin import Stack
from tests.security.harness import Apps, World


def unlimited(settings: ServiceSettings) -> ServiceSettings:
    """The suite sends thousands of requests from one tenant; rate limiting is tested elsewhere."""
    return msgspec.structs.replace(
        settings, rate_limit_per_second=1e6, rate_limit_burst=1_000_000, rate_limit_in_flight=10_000
    )


def service_settings(service: str, base: ServiceSettings, root: Path) -> ServiceSettings:
    """``base`` in the service's own settings class (if it has one), configured as it is when run."""
    cls: type[ServiceSettings] = ServiceSettings
    with contextlib.suppress(ModuleNotFoundError):
        module = importlib.import_module(f"services.{service}.settings")
        found = [
            v
            for v in vars(module).values()
            if isinstance(v, type) and issubclass(v, ServiceSettings) and v is not ServiceSettings
        ]
        cls = found[0] if found else cls
    fields = msgspec.structs.asdict(base)
    names = {f.name for f in msgspec.structs.fields(cls)}
    if "signing_keys_file" in names:
        keyring = root / f"keyring-{service}.json"
        ensure_key_file(keyring)
        fields["signing_keys_file"] = str(keyring)
    return unlimited(cls(**fields))


def build_app(service: str, settings: ServiceSettings) -> Litestar:
    module = importlib.import_module(f"services.{service}.app")
    app: Litestar = module.create_app(settings)
    return app


@pytest.fixture(scope="session")
def security_settings(
    stack: Stack, settings_for: Callable[[str], ServiceSettings]
) -> Callable[[str], ServiceSettings]:
    return lambda service: service_settings(service, settings_for(service), stack.root)


@pytest_asyncio.fixture(scope="session")
async def apps(security_settings: Callable[[str], ServiceSettings]) -> AsyncIterator[Apps]:
    async with contextlib.AsyncExitStack() as stack:
        clients: dict[str, AsyncTestClient[Litestar]] = {}
        docs: dict[str, dict[str, Any]] = {}
        for service in SERVICES:
            client = await stack.enter_async_context(
                AsyncTestClient(build_app(service, security_settings(service)))
            )
            response = await client.get(f"/{service}/schema/openapi.json")
            assert response.status_code == 200, response.text
            clients[service], docs[service] = client, response.json()
        yield Apps(clients, docs)


@pytest_asyncio.fixture(scope="session")
async def app_pools(platform_databases: dict[str, DatabaseLayout]) -> AsyncIterator[dict[str, asyncpg.Pool]]:
    pools = {
        service: await create_pool(layout.app_url, max_size=2)
        for service, layout in platform_databases.items()
    }
    yield pools
    for pool in pools.values():
        await pool.close()


@pytest_asyncio.fixture(scope="session")
async def world(
    apps: Apps,
    issuer: TestIssuer,
    platform_databases: dict[str, DatabaseLayout],
    app_pools: dict[str, asyncpg.Pool],
) -> World:
    made = World(apps, issuer, dict(platform_databases), app_pools)
    await made.seed()
    return made
