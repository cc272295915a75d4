"""The approver directory (shared.approvers): one read model in orders, sessions and billing, and the
forward migration that carries each service's old table over to it."""

from __future__ import annotations

import itertools
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest

from shared.db.migrate import MigrationSource, migrate
from shared.db.provision import DatabaseLayout, provision_database
from tila.composition import service_migrations

_numbers = itertools.count()

_OLD_TABLES = [
    ("orders", "known_approvers", "0013_approver_directory.sql"),
    ("sessions", "known_approvers", "0018_approver_directory.sql"),
    ("billing", "billing_approvers", "0008_approver_directory.sql"),
]


@pytest.mark.parametrize(("service", "old_table", "new_file"), _OLD_TABLES)
async def test_existing_approvers_are_carried_over_and_the_old_table_dropped(
    database_factory: Callable[[str], DatabaseLayout],
    tmp_path: Path,
    service: str,
    old_table: str,
    new_file: str,
) -> None:
    layout = database_factory(f"appr{next(_numbers)}")
    await provision_database(layout)
    sources = service_migrations(service)
    own = sources[-1]
    assert (own.directory / new_file).exists()
    # The database as the code before the move left it: no shared approvers source, no new file.
    before = tmp_path / service
    shutil.copytree(own.directory, before, ignore=shutil.ignore_patterns(new_file))
    platform = [s for s in sources[:-1] if s.component != "approvers"]
    await migrate(layout.owner_url, [*platform, MigrationSource(own.component, before)])
    tenant, cost_centre, kept, removed = (uuid.uuid4() for _ in range(4))
    owner = await asyncpg.connect(layout.owner_url)
    try:
        async with owner.transaction():
            await owner.execute("select set_config('app.tenant_id', $1, true)", str(tenant))
            await owner.executemany(
                f"insert into {old_table} (tenant_id, cost_centre_id, person_id, assigned, version)"
                " values ($1, $2, $3, $4, $5)",
                [(tenant, cost_centre, kept, True, 3), (tenant, cost_centre, removed, False, 4)],
            )
    finally:
        await owner.close()

    applied = await migrate(layout.owner_url, sources)

    assert applied == ["approvers/0001_approver_directory.sql", f"{service}/{new_file}"]
    app = await asyncpg.connect(layout.app_url)
    try:
        async with app.transaction():
            await app.execute("select set_config('app.tenant_id', $1, true)", str(tenant))
            rows = await app.fetch(
                "select person_id, assigned, version from approver_directory order by version"
            )
        assert [tuple(row) for row in rows] == [(kept, True, 3), (removed, False, 4)]
        async with app.transaction():  # another tenant sees none of them
            await app.execute("select set_config('app.tenant_id', $1, true)", str(uuid.uuid4()))
            assert await app.fetchval("select count(*) from approver_directory") == 0
        assert await app.fetchval("select to_regclass($1)", f"public.{old_table}") is None
    finally:
        await app.close()
