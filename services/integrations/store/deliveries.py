"""Webhook deliveries: the lines per endpoint, the schedule the delivery loop leases, replays.

Every query runs inside a tenant transaction except the scheduler's two (see the 0003 migration)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

import asyncpg

from services.integrations.store.records import Delivery, DueEndpoint, PendingDelivery, delivery_of

__all__ = [
    "act_as_scheduler",
    "drop_pending",
    "extend_lease",
    "fetch_delivery",
    "head_delivery",
    "insert_delivery",
    "lease_endpoints",
    "list_deliveries",
    "lock_due_endpoints",
    "mark_delivered",
    "mark_failed",
    "refresh_schedule",
    "replay_delivery",
    "restart_windows_behind",
    "retry_window_start",
    "subscribed_endpoints",
]


# --- deliveries ---


async def subscribed_endpoints(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, event_type: str
) -> list[uuid.UUID]:
    rows = await conn.fetch(
        "select endpoint_id from webhook_endpoints where tenant_id = $1 and $2 = any(event_types)",
        tenant_id,
        event_type,
    )
    return [r["endpoint_id"] for r in rows]


async def insert_delivery(
    conn: asyncpg.Connection,
    *,
    tenant_id: uuid.UUID,
    delivery_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    event_id: uuid.UUID,
    event_type: str,
    event_time: dt.datetime,
    position: int,
    body: str,
) -> bool:
    """A pending delivery of the event to the endpoint; False when it already has one."""
    inserted = await conn.fetchval(
        """
        insert into webhook_deliveries
          (tenant_id, delivery_id, endpoint_id, event_id, event_type, event_time, position, body)
        values ($1, $2, $3, $4, $5, $6, $7, $8)
        on conflict (endpoint_id, event_id) do nothing
        returning true
        """,
        tenant_id,
        delivery_id,
        endpoint_id,
        event_id,
        event_type,
        event_time,
        position,
        body,
    )
    return bool(inserted)


async def restart_windows_behind(
    conn: asyncpg.Connection,
    tenant_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    *,
    event_time: dt.datetime,
    position: int,
) -> None:
    """A delivery at (event_time, position) has (re)joined the line: the pending ones behind it
    that were already tried now wait for it, so their retry windows start again at their next
    attempt (first_attempt_at still tells when they were first tried)."""
    await conn.execute(
        """
        update webhook_deliveries set window_started_at = null
        where tenant_id = $1 and endpoint_id = $2 and status = 'pending'
          and (event_time, position) > ($3, $4) and window_started_at is not null
        """,
        tenant_id,
        endpoint_id,
        event_time,
        position,
    )


async def retry_window_start(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, delivery_id: uuid.UUID
) -> tuple[dt.datetime | None, bool]:
    """(the delivery's retry window start, whether it heads its line) as they are now; the row
    stays locked until the transaction ends.

    The row is locked by a statement of its own first, so that the read's snapshot, taken after a
    concurrent writer that went ahead of it has committed, sees that writer's delivery: an
    attempt under way when an earlier event arrived does not start the window."""
    await conn.execute(
        "select 1 from webhook_deliveries where tenant_id = $1 and delivery_id = $2 for update",
        tenant_id,
        delivery_id,
    )
    row = await conn.fetchrow(
        """
        select d.window_started_at, not exists (
          select 1 from webhook_deliveries e
          where e.endpoint_id = d.endpoint_id and e.status = 'pending'
            and (e.event_time, e.position) < (d.event_time, d.position)
        ) as heads_line
        from webhook_deliveries d where d.tenant_id = $1 and d.delivery_id = $2
        """,
        tenant_id,
        delivery_id,
    )
    if row is None:
        return None, False
    return row["window_started_at"], bool(row["heads_line"])


async def refresh_schedule(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, endpoint_id: uuid.UUID, *, release: bool = False
) -> None:
    """The endpoint is next due when its head (earliest pending by event time) is; ``release``
    (by the loop that leased it) also ends the lease.

    The row is locked by a statement of its own first, so that the update's snapshot, taken
    after any concurrent writer of the schedule has committed, sees that writer's deliveries:
    a delivery can never be left pending behind an empty schedule."""
    await conn.execute(
        "select 1 from webhook_schedule where tenant_id = $1 and endpoint_id = $2 for update",
        tenant_id,
        endpoint_id,
    )
    await conn.execute(
        """
        update webhook_schedule s set due_at = (
          select d.next_attempt_at from webhook_deliveries d
          where d.endpoint_id = s.endpoint_id and d.status = 'pending'
          order by d.event_time, d.position limit 1
        ),
        leased_until = case when $3 then null else s.leased_until end
        where s.tenant_id = $1 and s.endpoint_id = $2
        """,
        tenant_id,
        endpoint_id,
        release,
    )


async def act_as_scheduler(conn: asyncpg.Connection) -> None:
    """For this transaction, the schedule's policy lets the delivery loop see every tenant's due
    endpoints (and nothing else of theirs)."""
    await conn.execute("select set_config('app.webhook_scheduler', 'on', true)")


async def lock_due_endpoints(
    conn: asyncpg.Connection, *, now: dt.datetime, limit: int, busy: Sequence[uuid.UUID]
) -> list[DueEndpoint]:
    """Scheduler only (app.webhook_scheduler on, no tenant set): due endpoints no other loop
    holds, locked until the transaction ends, earliest due first."""
    rows = await conn.fetch(
        """
        select endpoint_id, tenant_id from webhook_schedule
        where due_at <= $1 and (leased_until is null or leased_until <= $1)
          and endpoint_id <> all($3::uuid[])
        order by due_at limit $2
        for update skip locked
        """,
        now,
        limit,
        list(busy),
    )
    return [DueEndpoint(endpoint_id=r["endpoint_id"], tenant_id=r["tenant_id"]) for r in rows]


async def lease_endpoints(
    conn: asyncpg.Connection, endpoint_ids: Sequence[uuid.UUID], *, until: dt.datetime
) -> None:
    """Scheduler only: the endpoints are not due for others until ``until`` (or until the loop
    that leased them puts them back)."""
    await conn.execute(
        "update webhook_schedule set leased_until = $2 where endpoint_id = any($1::uuid[])",
        list(endpoint_ids),
        until,
    )


async def extend_lease(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, endpoint_id: uuid.UUID, *, until: dt.datetime
) -> None:
    """The loop working on the endpoint keeps it for itself a while longer."""
    await conn.execute(
        "update webhook_schedule set leased_until = $3 where tenant_id = $1 and endpoint_id = $2",
        tenant_id,
        endpoint_id,
        until,
    )


async def head_delivery(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, endpoint_id: uuid.UUID
) -> PendingDelivery | None:
    row = await conn.fetchrow(
        """
        select delivery_id, event_id, body, attempts, first_attempt_at, next_attempt_at
        from webhook_deliveries
        where tenant_id = $1 and endpoint_id = $2 and status = 'pending'
        order by event_time, position limit 1
        for update
        """,
        tenant_id,
        endpoint_id,
    )
    if row is None:
        return None
    return PendingDelivery(
        delivery_id=row["delivery_id"],
        event_id=row["event_id"],
        body=row["body"],
        attempts=row["attempts"],
        first_attempt_at=row["first_attempt_at"],
        next_attempt_at=row["next_attempt_at"],
    )


async def mark_delivered(
    conn: asyncpg.Connection,
    tenant_id: uuid.UUID,
    delivery_id: uuid.UUID,
    *,
    at: dt.datetime,
    status_code: int,
) -> None:
    await conn.execute(
        """
        update webhook_deliveries
        set status = 'delivered', attempts = attempts + 1, first_attempt_at = coalesce(first_attempt_at, $3),
            last_attempt_at = $3, delivered_at = $3, last_status_code = $4, last_error = null
        where tenant_id = $1 and delivery_id = $2
        """,
        tenant_id,
        delivery_id,
        at,
        status_code,
    )


async def drop_pending(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, endpoint_id: uuid.UUID, *, error: str
) -> int:
    """Dead-letter every pending delivery of the endpoint without an attempt; how many."""
    rows = await conn.fetch(
        """
        update webhook_deliveries set status = 'dead', last_error = $3
        where tenant_id = $1 and endpoint_id = $2 and status = 'pending'
        returning delivery_id
        """,
        tenant_id,
        endpoint_id,
        error,
    )
    return len(rows)


async def mark_failed(
    conn: asyncpg.Connection,
    tenant_id: uuid.UUID,
    delivery_id: uuid.UUID,
    *,
    at: dt.datetime,
    window_started_at: dt.datetime | None,
    next_attempt_at: dt.datetime | None,
    status_code: int | None,
    error: str,
) -> None:
    """A failed attempt: retried at ``next_attempt_at``, or dead-lettered when it is None."""
    await conn.execute(
        """
        update webhook_deliveries
        set attempts = attempts + 1, first_attempt_at = coalesce(first_attempt_at, $3),
            window_started_at = $4, last_attempt_at = $3,
            status = case when $5::timestamptz is null then 'dead' else 'pending' end,
            next_attempt_at = coalesce($5, next_attempt_at), last_status_code = $6, last_error = $7
        where tenant_id = $1 and delivery_id = $2
        """,
        tenant_id,
        delivery_id,
        at,
        window_started_at,
        next_attempt_at,
        status_code,
        error,
    )


_DELIVERY = """delivery_id, endpoint_id, event_id, event_type, event_time, status, attempts,
  first_attempt_at, next_attempt_at, last_attempt_at, last_status_code, last_error, delivered_at,
  created_at"""


async def list_deliveries(
    conn: asyncpg.Connection,
    tenant_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    *,
    status: str | None,
    after: tuple[dt.datetime, uuid.UUID] | None,
    limit: int,
) -> list[Delivery]:
    rows = await conn.fetch(
        f"""
        select {_DELIVERY} from webhook_deliveries
        where tenant_id = $1 and endpoint_id = $2 and ($3::text is null or status = $3)
          and ($4::timestamptz is null or (created_at, delivery_id) > ($4, $5::uuid))
        order by created_at, delivery_id limit $6
        """,
        tenant_id,
        endpoint_id,
        status,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [delivery_of(row) for row in rows]


async def fetch_delivery(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, endpoint_id: uuid.UUID, delivery_id: uuid.UUID
) -> Delivery | None:
    row = await conn.fetchrow(
        f"select {_DELIVERY} from webhook_deliveries"
        " where tenant_id = $1 and endpoint_id = $2 and delivery_id = $3",
        tenant_id,
        endpoint_id,
        delivery_id,
    )
    return None if row is None else delivery_of(row)


async def replay_delivery(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, endpoint_id: uuid.UUID, delivery_id: uuid.UUID
) -> tuple[Delivery, int] | None:
    """A dead delivery back in line (in its event-time place) with a fresh retry window; with its
    position in the endpoint's line."""
    row = await conn.fetchrow(
        f"""
        update webhook_deliveries
        set status = 'pending', attempts = 0, first_attempt_at = null, window_started_at = null,
            next_attempt_at = now(),
            last_error = null, last_status_code = null
        where tenant_id = $1 and endpoint_id = $2 and delivery_id = $3 and status = 'dead'
        returning {_DELIVERY}, position
        """,
        tenant_id,
        endpoint_id,
        delivery_id,
    )
    return None if row is None else (delivery_of(row), row["position"])
