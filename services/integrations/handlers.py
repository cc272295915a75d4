"""Use cases of the integrations service."""

from __future__ import annotations

import asyncpg

from services.integrations import store
from shared.auth.principal import Principal
from shared.db.tenant import tenant_transaction
from shared.http.pagination import decode_cursor, encode_cursor

__all__ = ["read_feed"]


async def read_feed(
    pool: asyncpg.Pool, principal: Principal, *, cursor: str | None, limit: int
) -> tuple[list[asyncpg.Record], str | None]:
    after = decode_cursor(cursor, int)[0] if cursor else 0
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        rows = await store.fetch_feed_page(conn, principal.tenant_id, after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1]["position"]) if more else None
