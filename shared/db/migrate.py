"""A forward-only migration runner: numbered SQL files, checksums, one advisory lock.

Each component (the shared event kit, then the service itself) has a directory of
``NNNN_slug.sql`` files. A file runs once, in its own transaction, as the owner role; its
SHA-256 is recorded, and a later change to an applied file stops the run.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from shared.logging import get_logger

__all__ = ["MigrationError", "MigrationSource", "migrate"]

_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_LOCK_KEY = "tila:migrate"
log = get_logger(__name__)


class MigrationError(RuntimeError):
    """The migrations on disk and in the database disagree."""


@dataclass(frozen=True)
class MigrationSource:
    component: str
    directory: Path


@dataclass(frozen=True)
class _File:
    version: str
    name: str
    sql: str
    checksum: str


def _files(source: MigrationSource) -> list[_File]:
    files = []
    for path in sorted(source.directory.glob("*.sql")):
        match = _FILE.match(path.name)
        if match is None:
            raise MigrationError(f"{path}: migration files are named NNNN_slug.sql")
        data = path.read_bytes()
        files.append(_File(match.group(1), path.name, data.decode(), hashlib.sha256(data).hexdigest()))
    versions = [f.version for f in files]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"{source.directory}: two files share a version number")
    return files


async def migrate(dsn: str, sources: Sequence[MigrationSource]) -> list[str]:
    """Apply pending migrations; return the names applied. Safe to call from many replicas."""
    applied_now: list[str] = []
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("select pg_advisory_lock(hashtext($1))", _LOCK_KEY)
        try:
            await conn.execute(
                """
                create table if not exists schema_migrations (
                  component text not null,
                  version text not null,
                  name text not null,
                  checksum text not null,
                  applied_at timestamptz not null default now(),
                  primary key (component, version)
                )
                """
            )
            # History is the owner's: the app role (default privileges) must not rewrite it.
            await conn.execute(
                """
                do $$ begin
                  if exists (select 1 from pg_roles where rolname = current_database() || '_app') then
                    execute format('revoke all on schema_migrations from %I', current_database() || '_app');
                  end if;
                end $$
                """
            )
            for source in sources:
                applied_now += await _apply_source(conn, source)
        finally:
            await conn.execute("select pg_advisory_unlock(hashtext($1))", _LOCK_KEY)
    finally:
        await conn.close()
    return applied_now


async def _apply_source(conn: asyncpg.Connection, source: MigrationSource) -> list[str]:
    rows = await conn.fetch(
        "select version, name, checksum from schema_migrations where component = $1", source.component
    )
    applied = {r["version"]: r for r in rows}
    on_disk = _files(source)
    known = {f.version for f in on_disk}
    missing = sorted(set(applied) - known)
    if missing:
        raise MigrationError(f"{source.component}: applied migrations missing on disk: {missing}")
    newest = max(applied, default="")
    late = [f.name for f in on_disk if f.version not in applied and f.version < newest]
    if late:
        raise MigrationError(
            f"{source.component}: {late} sort before the applied {newest}; forward-only means a higher number"
        )
    done = []
    for file in on_disk:
        row = applied.get(file.version)
        if row is not None:
            if row["checksum"] != file.checksum:
                raise MigrationError(
                    f"{source.component}/{file.name} was changed after it was applied "
                    "(migrations are forward-only: add a new file instead)"
                )
            continue
        async with conn.transaction():
            await conn.execute(file.sql)
            await conn.execute(
                "insert into schema_migrations (component, version, name, checksum) values ($1, $2, $3, $4)",
                source.component,
                file.version,
                file.name,
                file.checksum,
            )
        log.info("migration_applied", component=source.component, migration=file.name)
        done.append(f"{source.component}/{file.name}")
    return done
