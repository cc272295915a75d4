"""Webhook deliveries as their owner reads them, and the replay of a dead-lettered one."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg

from services.integrations import store
from shared.auth.principal import Principal
from shared.db.tenant import tenant_transaction
from shared.errors import Conflict, FieldError, NotFound
from shared.http.pagination import decode_cursor, encode_cursor

__all__ = [
    "list_deliveries",
    "replay_delivery",
]

# --- deliveries ---


async def list_deliveries(
    pool: asyncpg.Pool,
    principal: Principal,
    endpoint_id: uuid.UUID,
    *,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[store.Delivery], str | None]:
    after = None
    if cursor:
        at, delivery = decode_cursor(cursor, dt.datetime, uuid.UUID)
        after = (at, delivery)
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        if await store.fetch_endpoint(conn, principal.tenant_id, endpoint_id) is None:
            raise NotFound("no such webhook endpoint")
        rows = await store.list_deliveries(
            conn, principal.tenant_id, endpoint_id, status=status, after=after, limit=limit + 1
        )
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if rows else None
    return rows, encode_cursor(last.created_at, last.delivery_id) if more and last else None


async def replay_delivery(
    pool: asyncpg.Pool, principal: Principal, endpoint_id: uuid.UUID, delivery_id: uuid.UUID
) -> store.Delivery:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        replayed = await store.replay_delivery(conn, principal.tenant_id, endpoint_id, delivery_id)
        if replayed is None:
            if await store.fetch_delivery(conn, principal.tenant_id, endpoint_id, delivery_id) is None:
                raise NotFound("no such delivery")
            raise Conflict(
                "only a dead-lettered delivery can be replayed",
                errors=[FieldError("path.deliveryId", "the delivery is not dead-lettered")],
            )
        row, position = replayed
        # Back in its event-time place: the ones behind it wait for it again.
        await store.restart_windows_behind(
            conn, principal.tenant_id, endpoint_id, event_time=row.event_time, position=position
        )
        await store.refresh_schedule(conn, principal.tenant_id, endpoint_id)
    return row
