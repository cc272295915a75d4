"""SQL of the integrations service."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg

__all__ = ["FeedRow", "fetch_feed_page", "insert_feed_entry"]

FeedRow = asyncpg.Record


async def insert_feed_entry(
    conn: asyncpg.Connection,
    *,
    tenant_id: uuid.UUID,
    event_id: uuid.UUID,
    type_: str,
    subject: str,
    occurred_at: dt.datetime,
) -> None:
    # The head row's lock orders this tenant's positions by commit (see the migration).
    await conn.execute(
        """
        with head as (
          insert into feed_heads (tenant_id, position) values ($1, 1)
          on conflict (tenant_id) do update set position = feed_heads.position + 1
          returning position
        )
        insert into event_feed (tenant_id, position, event_id, type, subject, occurred_at)
        select $1, head.position, $2, $3, $4, $5 from head
        on conflict (tenant_id, event_id) do nothing
        """,
        tenant_id,
        event_id,
        type_,
        subject,
        occurred_at,
    )


async def fetch_feed_page(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, *, after: int, limit: int
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        select position, event_id, type, subject, occurred_at from event_feed
        where tenant_id = $1 and position > $2 order by position limit $3
        """,
        tenant_id,
        after,
        limit,
    )
    return rows
