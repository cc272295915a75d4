"""Create a service's database and its owner, app and relay roles (idempotent).

The statements live in ``deploy/postgres/roles.sql`` so operators and the embedded stack
share one definition; this module only fills in quoted names and runs them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

__all__ = ["DatabaseLayout", "drop_database", "provision_database"]

ROLES_SQL = Path(__file__).resolve().parents[2] / "deploy" / "postgres" / "roles.sql"


@dataclass(frozen=True)
class DatabaseLayout:
    """A service's database and role names on one cluster, and URLs to reach them."""

    admin_url: str
    service: str
    prefix: str = "tila_"
    secret: str = "tila-dev"  # noqa: S105 (the local default; `tila run` keeps a random one)
    """Each role's password is derived from this one-way, so one leaked role password reveals
    neither the others nor the secret."""

    @property
    def database(self) -> str:
        return f"{self.prefix}{self.service}"

    @property
    def owner(self) -> str:
        return f"{self.database}_owner"

    @property
    def app(self) -> str:
        return f"{self.database}_app"

    @property
    def relay(self) -> str:
        return f"{self.database}_relay"

    def password(self, role: str) -> str:
        return hashlib.sha256(f"{self.secret}:{role}".encode()).hexdigest()[:32]

    def url(self, role: str) -> str:
        """The URL for ``role`` on this service's database, on the admin URL's host."""
        parts = urlsplit(self.admin_url)
        host = parts.hostname or "127.0.0.1"
        netloc = f"{quote(role)}:{quote(self.password(role))}@{host}:{parts.port or 5432}"
        return urlunsplit((parts.scheme, netloc, f"/{self.database}", "", ""))

    @property
    def app_url(self) -> str:
        return self.url(self.app)

    @property
    def owner_url(self) -> str:
        return self.url(self.owner)

    @property
    def relay_url(self) -> str:
        return self.url(self.relay)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _sections(layout: DatabaseLayout) -> tuple[str, str]:
    text = ROLES_SQL.read_text()
    cluster, _, database = text.partition("-- section: database")
    database = database.partition("\n")[2]  # the rest of the marker line is a comment
    values = {
        "db": _ident(layout.database),
        "owner": _ident(layout.owner),
        "app": _ident(layout.app),
        "relay": _ident(layout.relay),
        "owner_password": _literal(layout.password(layout.owner)),
        "app_password": _literal(layout.password(layout.app)),
        "relay_password": _literal(layout.password(layout.relay)),
    }
    return cluster.format(**values), database.format(**values)


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


async def provision_database(layout: DatabaseLayout) -> None:
    """Create the roles and database if missing, then (re)apply ``roles.sql``."""
    cluster_sql, database_sql = _sections(layout)
    admin = await asyncpg.connect(layout.admin_url)
    try:
        for role in (layout.owner, layout.app, layout.relay):
            if not await admin.fetchval("select 1 from pg_roles where rolname = $1", role):
                await admin.execute(f"create role {_ident(role)}")
        if not await admin.fetchval("select 1 from pg_database where datname = $1", layout.database):
            await admin.execute(f"create database {_ident(layout.database)}")
        await admin.execute(cluster_sql)
    finally:
        await admin.close()
    conn = await asyncpg.connect(_with_database(layout.admin_url, layout.database))
    try:
        await conn.execute(database_sql)
    finally:
        await conn.close()


async def drop_database(layout: DatabaseLayout) -> None:
    """Remove the database and its roles (used by tests against an external server)."""
    admin = await asyncpg.connect(layout.admin_url)
    try:
        await admin.execute(f"drop database if exists {_ident(layout.database)} with (force)")
        for role in (layout.owner, layout.app, layout.relay):
            await admin.execute(f"drop role if exists {_ident(role)}")
    finally:
        await admin.close()
