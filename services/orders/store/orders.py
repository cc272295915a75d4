"""SQL of supervision orders (rows shared by the buyer and, once offered, the provider)."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
import msgspec

from services.orders.domain.orders import Order, OrderStatus, committed_cents

__all__ = [
    "committed_on_cost_centre",
    "fetch_order",
    "insert_order",
    "list_orders",
    "next_order_number",
    "pass_offer",
    "provider_tenant",
    "update_order",
]


# --- supervision orders (rows shared by the buyer and, once offered, the provider) ---

_OFFERED_ON = frozenset(
    {
        OrderStatus.OFFERED,
        OrderStatus.ACCEPTED,
        OrderStatus.DECLINED,
        OrderStatus.ACTIVE,
        OrderStatus.COMPLETED,
        OrderStatus.INTERRUPTED,
    }
)
COMMITTED_STATUSES = ("approved", "offered", "accepted", "active", "completed", "interrupted")
"""Statuses whose snapshotted cost holds budget (a declined or cancelled order releases it)."""


def provider_tenant(order: Order) -> uuid.UUID | None:
    """The provider sees the row only once it is offered to them (also when cancelled after that)."""
    if order.status in _OFFERED_ON:
        return order.provider_id
    if order.status is OrderStatus.CANCELLED and order.cancelled_from in _OFFERED_ON:
        return order.provider_id
    return None


def _order_args(order: Order) -> tuple[object, ...]:
    return (
        order.buyer_tenant_id,
        order.order_id,
        provider_tenant(order),
        order.cost_centre_id,
        order.status.value,
        order.starts_on,
        committed_cents(order) if order.status.value in COMMITTED_STATUSES else None,
        order,  # jsonb: the pool's codec encodes it with msgspec
        order.version,
    )


async def insert_order(conn: asyncpg.Connection, order: Order) -> None:
    await conn.execute(
        """
        insert into supervision_orders
          (tenant_id, order_id, provider_tenant_id, cost_centre_id, status, starts_on, committed_cents,
           doc, version, order_number)
        values ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10)
        """,
        *_order_args(order),
        order.order_number,
    )


async def next_order_number(conn: asyncpg.Connection, buyer_id: uuid.UUID, year: int) -> int:
    """The buyer's next order number of ``year``; the counter row stays locked until the creating
    transaction ends, so concurrent creates wait their turn and a rollback leaves no gap (0011)."""
    number: int = await conn.fetchval(
        """
        insert into order_number_counters (tenant_id, year, last_number) values ($1, $2, 1)
        on conflict (tenant_id, year) do update set last_number = order_number_counters.last_number + 1
        returning last_number
        """,
        buyer_id,
        year,
    )
    return number


async def update_order(conn: asyncpg.Connection, order: Order, *, expected_version: int) -> bool:
    """Write ``order`` over the row at ``expected_version``; ``False`` if it moved meanwhile."""
    status = await conn.execute(
        """
        update supervision_orders
        set provider_tenant_id = $3, cost_centre_id = $4, status = $5, starts_on = $6,
            committed_cents = $7, doc = $8::jsonb, version = $9, updated_at = now()
        where tenant_id = $1 and order_id = $2 and version = $10
        """,
        *_order_args(order),
        expected_version,
    )
    return bool(status == "UPDATE 1")


async def pass_offer(conn: asyncpg.Connection, order: Order, *, expected_version: int) -> bool:
    """The provider holding the offer passes it to the next-ranked provider (``order.provider_id``).

    Through ``pass_order_offer`` (migration 0007), the one write a provider makes of a row it will no
    longer see; ``False`` if the row moved meanwhile.
    """
    passed: bool = await conn.fetchval(
        "select pass_order_offer($1, $2, $3::jsonb)", order.order_id, expected_version, order
    )
    return passed


async def fetch_order(
    conn: asyncpg.Connection, order_id: uuid.UUID, *, for_update: bool = False
) -> Order | None:
    """The order if the current tenant is its buyer or the provider it was offered to (RLS)."""
    lock = " for update" if for_update else ""
    raw: str | None = await conn.fetchval(
        f"select doc::text from supervision_orders where order_id = $1{lock}", order_id
    )
    return msgspec.json.decode(raw, type=Order) if raw is not None else None


async def list_orders(
    conn: asyncpg.Connection,
    *,
    after: uuid.UUID | None,
    limit: int,
    status: OrderStatus | None = None,
    cost_centre_id: uuid.UUID | None = None,
    supervisor_id: uuid.UUID | None = None,
    period_from: dt.date | None = None,
    period_to: dt.date | None = None,
) -> list[Order]:
    """Orders the current tenant sees (as buyer or provider), by id.

    ``period_from``/``period_to``: orders whose period (start to end day) overlaps the given days.
    """
    rows = await conn.fetch(
        "select doc::text as doc from supervision_orders"
        " where ($1::uuid is null or order_id > $1) and ($2::text is null or status = $2)"
        " and ($3::uuid is null or cost_centre_id = $3)"
        " and ($4::uuid is null or doc ->> 'supervisor_id' = $4::text)"
        " and ($5::date is null or (doc ->> 'ends_on')::date >= $5)"
        " and ($6::date is null or starts_on <= $6)"
        " order by order_id limit $7",
        after,
        status.value if status else None,
        cost_centre_id,
        supervisor_id,
        period_from,
        period_to,
        limit,
    )
    return [msgspec.json.decode(row["doc"], type=Order) for row in rows]


async def committed_on_cost_centre(
    conn: asyncpg.Connection,
    tenant_id: uuid.UUID,
    cost_centre_id: uuid.UUID,
    *,
    year: int,
    other_than: uuid.UUID,
) -> int:
    """The snapshotted costs of the cost centre's other approved orders starting in ``year``."""
    total: int = await conn.fetchval(
        """
        select coalesce(sum(committed_cents), 0)::bigint from supervision_orders
        where tenant_id = $1 and cost_centre_id = $2 and order_id <> $3
          and status = any($4::text[]) and extract(year from starts_on) = $5
        """,
        tenant_id,
        cost_centre_id,
        other_than,
        list(COMMITTED_STATUSES),
        year,
    )
    return total
