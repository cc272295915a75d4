"""Fixtures of the security suite: every service's app (from ``create_app``), its OpenAPI document,
and a world of two buyers and two providers seeded through the APIs."""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import pytest
import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient

from shared.config import ServiceSettings
from shared.crypto import ensure_keyring_file
from shared.db.pool import create_pool
from shared.db.provision import DatabaseLayout
from shared.testing.issuer import TestIssuer
from shared.testing.plugin import Stack
from tests.clients import ReadBeforeWriteClient
from tests.security.harness import Apps, World
from tila.composition import SERVICES


def unlimited(settings: ServiceSettings) -> ServiceSettings:
    """The suite sends thousands of requests from one tenant; rate limiting is tested elsewhere."""
    return msgspec.structs.replace(
        settings, rate_limit_per_second=1e6, rate_limit_burst=1_000_000, rate_limit_in_flight=10_000
    )


def _key_file_maker(service: str, field_name: str) -> Callable[[Path], object] | None:
    """The service's own ``ensure_…key…file`` function for a ``…keys_file`` setting, if it has one."""
    makers: list[Callable[[Path], object]] = []
    for name in ("settings", "adapters.keys"):
        try:
            module = importlib.import_module(f"services.{service}.{name}")
        except ModuleNotFoundError:
            continue
        makers += [
            f
            for attr, f in vars(module).items()
            if attr.startswith("ensure_")
            and "key" in attr
            and callable(f)
            and f.__module__ == module.__name__
        ]
    topic = field_name.split("_")[0]
    preferred = [f for f in makers if topic in getattr(f, "__name__", "")]
    chosen = preferred or makers
    return chosen[0] if chosen else None


def service_settings(
    service: str, base: ServiceSettings, root: Path
) -> tuple[ServiceSettings, dict[str, str]]:
    """``base`` in the service's own settings class (if it has one), configured as ``tila run`` does:
    every ``…keys_file`` setting gets a keyring the service makes itself. Returns the environment
    variables naming those files too (code that reads its keys from the environment finds them)."""
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
    env: dict[str, str] = {}
    for field in msgspec.structs.fields(cls):
        if not field.name.endswith("keys_file"):
            continue
        # A service with a key file of its own format (organisations' signing keys) makes it
        # itself; the others hold AES keyrings (shared.crypto).
        maker = _key_file_maker(service, field.name) or ensure_keyring_file
        path = root / f"{service}-{field.name}.json"
        maker(path)
        fields[field.name] = str(path)
        env[f"TILA_{service.upper()}_{field.name.upper()}"] = str(path)
    for field in msgspec.structs.fields(cls):  # webhooks to a receiver on loopback, as in the tests
        if field.name.startswith("allow_loopback"):
            fields[field.name] = True
    return unlimited(cls(**fields)), env


def build_app(service: str, settings: ServiceSettings) -> Litestar:
    module = importlib.import_module(f"services.{service}.app")
    app: Litestar = module.create_app(settings)
    return app


@pytest.fixture(scope="session")
def security_settings(
    stack: Stack, settings_for: Callable[[str], ServiceSettings]
) -> Iterator[Callable[[str], ServiceSettings]]:
    saved: dict[str, str | None] = {}

    def build(service: str) -> ServiceSettings:
        settings, env = service_settings(service, settings_for(service), stack.root)
        for name, value in env.items():
            saved.setdefault(name, os.environ.get(name))
            os.environ[name] = value
        return settings

    yield build
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest_asyncio.fixture(scope="session")
async def apps(security_settings: Callable[[str], ServiceSettings]) -> AsyncIterator[Apps]:
    async with contextlib.AsyncExitStack() as stack:
        clients: dict[str, AsyncTestClient[Litestar]] = {}
        docs: dict[str, dict[str, Any]] = {}
        for service in SERVICES:
            client = await stack.enter_async_context(
                ReadBeforeWriteClient(build_app(service, security_settings(service)))
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
