"""SQL of refresh tokens and machine clients."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg

from services.organisations.domain.tokens import Grant, RefreshState

__all__ = [
    "fetch_client",
    "fetch_refresh",
    "fetch_standing",
    "insert_client",
    "insert_refresh",
    "list_clients",
    "mark_refresh_used",
    "revoke_client",
    "revoke_family",
]


async def insert_refresh(
    conn: asyncpg.Connection,
    *,
    token_hash: bytes,
    family_id: uuid.UUID,
    grant: Grant,
    expires_at: dt.datetime,
) -> None:
    await conn.execute(
        """
        insert into refresh_tokens (tenant_id, token_hash, family_id, subject, roles, scopes, expires_at)
        values ($1, $2, $3, $4, $5, $6, $7)
        """,
        grant.tenant_id,
        token_hash,
        family_id,
        grant.subject,
        list(grant.roles),
        list(grant.scopes),
        expires_at,
    )


async def fetch_refresh(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, token_hash: bytes
) -> tuple[RefreshState, Grant] | None:
    """The token's state and grant, locked until the transaction ends (a token is spent once)."""
    row = await conn.fetchrow(
        """
        select family_id, subject, roles, scopes, expires_at, used_at, revoked_at
        from refresh_tokens where tenant_id = $1 and token_hash = $2
        for update
        """,
        tenant_id,
        token_hash,
    )
    if row is None:
        return None
    state = RefreshState(
        family_id=row["family_id"],
        expires_at=row["expires_at"],
        used_at=row["used_at"],
        revoked_at=row["revoked_at"],
    )
    grant = Grant(
        tenant_id=tenant_id, subject=row["subject"], roles=tuple(row["roles"]), scopes=tuple(row["scopes"])
    )
    return state, grant


async def fetch_standing(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, person_id: uuid.UUID
) -> tuple[bool, tuple[str, ...]] | None:
    """Whether the person (and their tenant) may still act, and the roles they hold now."""
    row = await conn.fetchrow(
        """
        select t.active and p.active as active, p.roles from people p
        join tenants t on t.tenant_id = p.tenant_id
        where p.tenant_id = $1 and p.person_id = $2
        """,
        tenant_id,
        person_id,
    )
    return (bool(row["active"]), tuple(row["roles"])) if row else None


async def mark_refresh_used(conn: asyncpg.Connection, tenant_id: uuid.UUID, token_hash: bytes) -> None:
    await conn.execute(
        "update refresh_tokens set used_at = now() where tenant_id = $1 and token_hash = $2",
        tenant_id,
        token_hash,
    )


async def revoke_family(conn: asyncpg.Connection, tenant_id: uuid.UUID, family_id: uuid.UUID) -> int:
    result: str = await conn.execute(
        "update refresh_tokens set revoked_at = now()"
        " where tenant_id = $1 and family_id = $2 and revoked_at is null",
        tenant_id,
        family_id,
    )
    return int(result.split()[-1])


async def insert_client(
    conn: asyncpg.Connection,
    *,
    tenant_id: uuid.UUID,
    client_id: uuid.UUID,
    name: str,
    secret_hash: bytes,
    scopes: tuple[str, ...],
    created_by: str,
) -> None:
    await conn.execute(
        """
        insert into machine_clients (tenant_id, client_id, name, secret_hash, scopes, created_by)
        values ($1, $2, $3, $4, $5, $6)
        """,
        tenant_id,
        client_id,
        name,
        secret_hash,
        list(scopes),
        created_by,
    )


async def fetch_client(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, client_id: uuid.UUID
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        """
        select client_id, name, secret_hash, scopes, created_at, revoked_at
        from machine_clients where tenant_id = $1 and client_id = $2
        """,
        tenant_id,
        client_id,
    )
    return row


async def list_clients(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, *, after: uuid.UUID | None, limit: int
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        select client_id, name, scopes, created_at, revoked_at from machine_clients
        where tenant_id = $1 and ($2::uuid is null or client_id > $2)
        order by client_id limit $3
        """,
        tenant_id,
        after,
        limit,
    )
    return rows


async def revoke_client(conn: asyncpg.Connection, tenant_id: uuid.UUID, client_id: uuid.UUID) -> bool:
    result: str = await conn.execute(
        "update machine_clients set revoked_at = coalesce(revoked_at, now())"
        " where tenant_id = $1 and client_id = $2",
        tenant_id,
        client_id,
    )
    return result.split()[-1] != "0"
