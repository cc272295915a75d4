"""The tenant's public event feed, ordered by commit."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg

from services.integrations.store.records import FeedEntry

__all__ = [
    "fetch_feed_page",
    "insert_feed_entry",
]


# --- the feed ---


async def insert_feed_entry(
    conn: asyncpg.Connection,
    *,
    tenant_id: uuid.UUID,
    event_id: uuid.UUID,
    type_: str,
    subject: str,
    occurred_at: dt.datetime,
    body: str,
) -> int | None:
    """The new entry's position, or None when the tenant's feed already has the event."""
    if await conn.fetchval(
        "select 1 from event_feed where tenant_id = $1 and event_id = $2", tenant_id, event_id
    ):
        return None
    # The head row's lock orders this tenant's positions by commit (see the 0001 migration).
    position: int | None = await conn.fetchval(
        """
        with head as (
          insert into feed_heads (tenant_id, position) values ($1, 1)
          on conflict (tenant_id) do update set position = feed_heads.position + 1
          returning position
        )
        insert into event_feed (tenant_id, position, event_id, type, subject, occurred_at, body)
        select $1, head.position, $2, $3, $4, $5, $6 from head
        on conflict (tenant_id, event_id) do nothing
        returning position
        """,
        tenant_id,
        event_id,
        type_,
        subject,
        occurred_at,
        body,
    )
    return position


async def fetch_feed_page(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, *, after: int, limit: int
) -> list[FeedEntry]:
    rows = await conn.fetch(
        "select position, body from event_feed where tenant_id = $1 and position > $2"
        " order by position limit $3",
        tenant_id,
        after,
        limit,
    )
    return [FeedEntry(position=r["position"], body=r["body"]) for r in rows]
