"""pytest plugin of the composition root: every service's database, as ``tila run`` prepares them.

Loaded through ``-p tila.testing`` (pyproject) next to ``shared.testing.plugin``, whose ``stack``
and ``database_factory`` fixtures it uses; ``shared`` itself never imports the services.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest_asyncio

from shared.db.provision import DatabaseLayout
from shared.testing.plugin import Stack
from tila.composition import SERVICES, prepare_databases

__all__ = ["platform_databases"]


@pytest_asyncio.fixture(scope="session")
async def platform_databases(
    stack: Stack, database_factory: Callable[[str], DatabaseLayout]
) -> dict[str, DatabaseLayout]:
    """Every service's database, provisioned and migrated exactly as ``tila run`` does."""
    layouts = await prepare_databases(stack.pg_admin_url, prefix=stack.db_prefix)
    for service in SERVICES:
        database_factory(service)  # registers it for clean-up
    return layouts
