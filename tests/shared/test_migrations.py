"""The migration runner: numbered SQL files applied once, in order, checksummed, under one advisory lock."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio

from shared.db.migrate import MigrationError, MigrationSource, migrate
from shared.db.provision import DatabaseLayout, provision_database

_numbers = itertools.count()


@pytest_asyncio.fixture
async def database(database_factory: Callable[[str], DatabaseLayout]) -> DatabaseLayout:
    """A fresh, provisioned database of its own for each test."""
    layout = database_factory(f"mig{next(_numbers)}")
    await provision_database(layout)
    return layout


@pytest_asyncio.fixture
async def owner(database: DatabaseLayout) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database.owner_url)
    yield conn
    await conn.close()


def _write(directory: Path, name: str, sql: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(sql)
    return path


def _source(directory: Path, component: str = "test") -> MigrationSource:
    return MigrationSource(component, directory)


async def _recorded(conn: asyncpg.Connection) -> list[tuple[str, str, str, str]]:
    rows = await conn.fetch("select component, version, name, checksum from schema_migrations order by 1, 2")
    return [(r["component"], r["version"], r["name"], r["checksum"]) for r in rows]


async def _table_exists(conn: asyncpg.Connection, name: str) -> bool:
    found: bool = await conn.fetchval("select to_regclass($1) is not null", f"public.{name}")
    return found


async def test_applies_files_in_order_once_and_records_their_checksums(
    database: DatabaseLayout, owner: asyncpg.Connection, tmp_path: Path
) -> None:
    # 0002 depends on 0001 and 0010 on 0002: a wrong order fails.
    first = _write(tmp_path, "0001_create_a.sql", "create table a (id int primary key);")
    second = _write(tmp_path, "0002_create_b.sql", "create table b (id int primary key references a);")
    tenth = _write(tmp_path, "0010_fill_b.sql", "insert into a values (1); insert into b values (1);")
    applied = await migrate(database.owner_url, [_source(tmp_path)])
    assert applied == ["test/0001_create_a.sql", "test/0002_create_b.sql", "test/0010_fill_b.sql"]
    assert await _recorded(owner) == [
        ("test", f.name[:4], f.name, hashlib.sha256(f.read_bytes()).hexdigest())
        for f in (first, second, tenth)
    ]
    assert await owner.fetchval("select count(*) from b") == 1


async def test_sources_apply_in_the_order_given(
    database: DatabaseLayout, owner: asyncpg.Connection, tmp_path: Path
) -> None:
    _write(tmp_path / "kit", "0001_base.sql", "create table base (id int primary key);")
    _write(tmp_path / "svc", "0001_child.sql", "create table child (id int references base);")
    applied = await migrate(
        database.owner_url, [_source(tmp_path / "kit", "kit"), _source(tmp_path / "svc", "svc")]
    )
    assert applied == ["kit/0001_base.sql", "svc/0001_child.sql"]
    assert [r[:2] for r in await _recorded(owner)] == [("kit", "0001"), ("svc", "0001")]


async def test_second_run_applies_nothing(
    database: DatabaseLayout, owner: asyncpg.Connection, tmp_path: Path
) -> None:
    _write(tmp_path, "0001_create_a.sql", "create table a (id int);")
    await migrate(database.owner_url, [_source(tmp_path)])
    before = await _recorded(owner)
    assert await migrate(database.owner_url, [_source(tmp_path)]) == []
    assert await _recorded(owner) == before


async def test_a_new_file_is_applied_on_the_next_run(
    database: DatabaseLayout, owner: asyncpg.Connection, tmp_path: Path
) -> None:
    _write(tmp_path, "0001_create_a.sql", "create table a (id int);")
    await migrate(database.owner_url, [_source(tmp_path)])
    _write(tmp_path, "0002_create_b.sql", "create table b (id int);")
    assert await migrate(database.owner_url, [_source(tmp_path)]) == ["test/0002_create_b.sql"]
    assert await _table_exists(owner, "b")


async def test_a_changed_applied_file_is_refused_and_nothing_new_is_applied(
    database: DatabaseLayout, owner: asyncpg.Connection, tmp_path: Path
) -> None:
    first = _write(tmp_path, "0001_create_a.sql", "create table a (id int);")
    await migrate(database.owner_url, [_source(tmp_path)])
    recorded = await _recorded(owner)
    first.write_text("create table a (id int, extra text);")
    _write(tmp_path, "0002_create_b.sql", "create table b (id int);")
    with pytest.raises(MigrationError, match=r"0001_create_a\.sql was changed after it was applied"):
        await migrate(database.owner_url, [_source(tmp_path)])
    assert await _recorded(owner) == recorded
    assert not await _table_exists(owner, "b")


async def test_a_file_removed_after_it_was_applied_is_refused(
    database: DatabaseLayout, owner: asyncpg.Connection, tmp_path: Path
) -> None:
    _write(tmp_path, "0001_create_a.sql", "create table a (id int);")
    second = _write(tmp_path, "0002_create_b.sql", "create table b (id int);")
    await migrate(database.owner_url, [_source(tmp_path)])
    second.unlink()
    with pytest.raises(MigrationError, match=r"missing on disk: \['0002'\]"):
        await migrate(database.owner_url, [_source(tmp_path)])


@pytest.mark.parametrize(
    "name", ["1_init.sql", "0001-init.sql", "0001_Init.sql", "00001_init.sql", "0001_.sql"]
)
async def test_a_badly_named_file_is_refused_before_anything_runs(
    database: DatabaseLayout, owner: asyncpg.Connection, tmp_path: Path, name: str
) -> None:
    _write(tmp_path, "0001_create_a.sql", "create table a (id int);")
    _write(tmp_path, name, "create table bad (id int);")
    with pytest.raises(MigrationError, match=r"NNNN_slug\.sql"):
        await migrate(database.owner_url, [_source(tmp_path)])
    assert await _recorded(owner) == []
    assert not await _table_exists(owner, "a")


async def test_two_files_with_one_version_number_are_refused(
    database: DatabaseLayout, owner: asyncpg.Connection, tmp_path: Path
) -> None:
    _write(tmp_path, "0001_create_a.sql", "create table a (id int);")
    _write(tmp_path, "0001_create_b.sql", "create table b (id int);")
    with pytest.raises(MigrationError, match="share a version"):
        await migrate(database.owner_url, [_source(tmp_path)])
    assert not await _table_exists(owner, "a")
    assert not await _table_exists(owner, "b")


async def test_files_without_the_sql_suffix_are_ignored(
    database: DatabaseLayout, owner: asyncpg.Connection, tmp_path: Path
) -> None:
    _write(tmp_path, "0001_create_a.sql", "create table a (id int);")
    _write(tmp_path, "README.md", "How to write a migration.")
    assert await migrate(database.owner_url, [_source(tmp_path)]) == ["test/0001_create_a.sql"]


async def test_a_failing_migration_rolls_back_entirely_and_earlier_ones_stay(
    database: DatabaseLayout, owner: asyncpg.Connection, tmp_path: Path
) -> None:
    _write(tmp_path, "0001_create_a.sql", "create table a (id int);")
    broken = _write(
        tmp_path, "0002_half_done.sql", "create table b (id int); insert into a values (1); select 1 / 0;"
    )
    _write(tmp_path, "0003_create_c.sql", "create table c (id int);")
    with pytest.raises(asyncpg.DivisionByZeroError):
        await migrate(database.owner_url, [_source(tmp_path)])
    assert [r[2] for r in await _recorded(owner)] == ["0001_create_a.sql"]
    assert await _table_exists(owner, "a")
    assert await owner.fetchval("select count(*) from a") == 0
    assert not await _table_exists(owner, "b")
    assert not await _table_exists(owner, "c")
    # Fixed (the file was never applied, so changing it is allowed), the run carries on.
    broken.write_text("create table b (id int);")
    assert await migrate(database.owner_url, [_source(tmp_path)]) == [
        "test/0002_half_done.sql",
        "test/0003_create_c.sql",
    ]


async def test_concurrent_runs_apply_each_file_exactly_once(
    database: DatabaseLayout, owner: asyncpg.Connection, tmp_path: Path
) -> None:
    # pg_sleep widens the window; plain create table (no "if not exists") fails if run twice.
    _write(tmp_path, "0001_create_a.sql", "select pg_sleep(0.2); create table a (id int);")
    _write(tmp_path, "0002_create_b.sql", "create table b (id int); insert into b values (1);")
    _write(tmp_path, "0003_create_c.sql", "create table c (id int);")
    runs = await asyncio.gather(*(migrate(database.owner_url, [_source(tmp_path)]) for _ in range(3)))
    assert sorted(itertools.chain.from_iterable(runs)) == [
        "test/0001_create_a.sql",
        "test/0002_create_b.sql",
        "test/0003_create_c.sql",
    ]
    assert sorted(len(run) for run in runs) == [0, 0, 3]
    assert len(await _recorded(owner)) == 3
    assert await owner.fetchval("select count(*) from b") == 1


async def test_tables_are_owned_by_the_owner_and_the_app_role_gets_dml_by_default(
    database: DatabaseLayout, owner: asyncpg.Connection, tmp_path: Path
) -> None:
    _write(
        tmp_path,
        "0001_create_notes.sql",
        "create table notes (id bigint generated by default as identity, body text);",
    )
    _write(tmp_path, "0002_create_seq.sql", "create sequence note_numbers;")
    await migrate(database.owner_url, [_source(tmp_path)])
    tables = await owner.fetch(
        "select tablename, tableowner from pg_tables where schemaname = 'public' order by 1"
    )
    assert {r["tablename"]: r["tableowner"] for r in tables} == {
        "notes": database.owner,
        "schema_migrations": database.owner,
    }
    assert await owner.fetchval(
        "select relowner::regrole::text from pg_class where relname = 'note_numbers'"
    ) == (database.owner)
    privileges = await owner.fetch(
        "select privilege_type from information_schema.role_table_grants"
        " where grantee = $1 and table_name = 'notes' order by 1",
        database.app,
    )
    assert [r["privilege_type"] for r in privileges] == ["DELETE", "INSERT", "SELECT", "UPDATE"]
    app = await asyncpg.connect(database.app_url)
    try:
        await app.execute("insert into notes (body) values ('one'), ('two')")
        assert await app.execute("update notes set body = 'uno' where body = 'one'") == "UPDATE 1"
        assert await app.execute("delete from notes where body = 'two'") == "DELETE 1"
        assert await app.fetchval("select body from notes") == "uno"
        assert await app.fetchval("select nextval('note_numbers')") == 1
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await app.execute("truncate notes")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="must be owner"):
            await app.execute("alter table notes add column smuggled text")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="must be owner"):
            await app.execute("drop table notes")
    finally:
        await app.close()


async def test_a_file_numbered_below_an_applied_one_is_refused(
    database: DatabaseLayout, owner: asyncpg.Connection, tmp_path: Path
) -> None:
    _write(tmp_path, "0001_create_a.sql", "create table a (id int);")
    _write(tmp_path, "0003_create_c.sql", "create table c (id int);")
    await migrate(database.owner_url, [_source(tmp_path)])
    _write(tmp_path, "0002_create_b.sql", "create table b (id int);")
    with pytest.raises(MigrationError, match="forward-only"):
        await migrate(database.owner_url, [_source(tmp_path)])
    assert not await _table_exists(owner, "b")


async def test_the_app_role_cannot_touch_the_migration_history(
    database: DatabaseLayout, tmp_path: Path
) -> None:
    _write(tmp_path, "0001_create_a.sql", "create table a (id int);")
    await migrate(database.owner_url, [_source(tmp_path)])
    app = await asyncpg.connect(database.app_url)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await app.execute("delete from schema_migrations")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await app.fetch("select * from schema_migrations")
    finally:
        await app.close()
