"""pytest plugin: real PostgreSQL, NATS JetStream and a token issuer for Tila's tests.

Loaded through ``-p shared.testing.plugin`` (pyproject). With ``TILA_PG_ADMIN_URL`` /
``TILA_NATS_URL`` set, tests use those servers (with databases of their own, dropped at the
end); otherwise they start their own on free loopback ports under a temporary folder.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from shared.config import ServiceSettings
from shared.db.provision import DatabaseLayout, drop_database
from shared.embedded import EmbeddedNats, EmbeddedPostgres, free_port, servers
from shared.testing.issuer import TestIssuer

__all__ = ["Stack", "free_port"]


@dataclass
class Stack:
    """The servers of a test session."""

    root: Path
    pg_admin_url: str
    nats_url: str
    db_prefix: str
    postgres: EmbeddedPostgres | None
    nats: EmbeddedNats | None

    @property
    def external_postgres(self) -> bool:
        return self.postgres is None


def _scratch_dir() -> Path:
    # Not pytest's tmp_path: under root it is 0700, and PostgreSQL runs as another user.
    root = Path(tempfile.mkdtemp(prefix="tila-test-"))
    root.chmod(0o755)
    return root


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    root = _scratch_dir()
    try:
        with servers(root, durable=False) as running:
            yield Stack(
                root=root,
                pg_admin_url=running.pg_admin_url,
                nats_url=running.nats_url,
                db_prefix=f"t{uuid.uuid4().hex[:8]}_",
                postgres=running.postgres,
                nats=running.nats,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def nats_server_factory(stack: Stack) -> Iterator[Callable[[], EmbeddedNats]]:
    """Start extra NATS servers a test may stop and restart at will."""
    started: list[EmbeddedNats] = []

    def start() -> EmbeddedNats:
        server = EmbeddedNats(stack.root / f"nats-{len(started)}", free_port())
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def issuer() -> Iterator[TestIssuer]:
    with TestIssuer() as running:
        yield running


@pytest_asyncio.fixture(scope="session")
async def database_factory(stack: Stack) -> AsyncIterator[Callable[[str], DatabaseLayout]]:
    """Layouts for extra databases (``<prefix><name>``); dropped at the end on external servers."""
    layouts: list[DatabaseLayout] = []

    def layout(name: str) -> DatabaseLayout:
        made = DatabaseLayout(admin_url=stack.pg_admin_url, service=name, prefix=stack.db_prefix)
        layouts.append(made)
        return made

    yield layout
    if stack.external_postgres:
        for made in layouts:
            await drop_database(made)


@pytest.fixture(scope="session")
def settings_for(
    stack: Stack, platform_databases: dict[str, DatabaseLayout], issuer: TestIssuer
) -> Callable[[str], ServiceSettings]:
    """The settings a service gets in the tests: its databases, the test NATS and issuer.

    ``platform_databases`` comes from the composition root's plugin (``tila.testing``): shared
    code never knows the services."""

    def build(service: str) -> ServiceSettings:
        layout = platform_databases[service]
        return ServiceSettings(
            service=service,
            database_url=layout.app_url,
            owner_database_url=layout.owner_url,
            relay_database_url=layout.relay_url,
            nats_url=stack.nats_url,
            jwks_url=issuer.jwks_url,
            token_issuer=issuer.issuer,
            token_audience=issuer.audience,
            outbox_poll_interval=0.2,
            log_level="warning",
            # Suites fire requests as fast as they can; the rate-limit tests set their own limits.
            rate_limit_per_second=1_000_000,
            rate_limit_burst=1_000_000,
            rate_limit_in_flight=10_000,
        )

    return build
