"""The tenant transaction: every query of a request runs inside one, scoped by row-level security."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

__all__ = ["set_tenant", "tenant_transaction"]


async def set_tenant(conn: asyncpg.Connection, tenant_id: uuid.UUID) -> None:
    """Scope the open transaction to one tenant (transaction-local, so pooling cannot leak it)."""
    await conn.execute("select set_config('app.tenant_id', $1, true)", str(tenant_id))


@asynccontextmanager
async def tenant_transaction(pool: asyncpg.Pool, tenant_id: uuid.UUID) -> AsyncIterator[asyncpg.Connection]:
    """Acquire a connection, open a transaction and set ``app.tenant_id`` for it.

    Policies read ``nullif(current_setting('app.tenant_id', true), '')::uuid``; outside
    this block no tenant is set and tenant tables show no rows.
    """
    async with pool.acquire() as conn, conn.transaction():
        await set_tenant(conn, tenant_id)
        yield conn
