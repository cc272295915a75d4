"""Use cases of the integrations service."""

from __future__ import annotations

import asyncpg

from services.integrations import store
from shared.auth.principal import Principal
from shared.db.tenant import set_tenant, tenant_transaction
from shared.errors import DomainError, FieldError
from shared.events.envelope import Envelope
from shared.http.pagination import decode_cursor, encode_cursor

__all__ = ["read_feed", "record_in_feed"]

_MAX_POSITION = 2**63 - 1


async def record_in_feed(conn: asyncpg.Connection, envelope: Envelope) -> None:
    """Consumer use case, inside the consumer's transaction: add the event to its tenants' feeds."""
    # An event shared by a buyer and a provider appears in both feeds, each under its own RLS scope.
    for tenant_id in envelope.tenant_ids:
        await set_tenant(conn, tenant_id)
        await store.insert_feed_entry(
            conn,
            tenant_id=tenant_id,
            event_id=envelope.id,
            type_=envelope.type,
            subject=envelope.subject,
            occurred_at=envelope.occurred_at,
        )


async def read_feed(
    pool: asyncpg.Pool, principal: Principal, *, cursor: str | None, limit: int
) -> tuple[list[asyncpg.Record], str | None]:
    after = decode_cursor(cursor, int)[0] if cursor else 0
    if not 0 <= after <= _MAX_POSITION:
        raise DomainError(
            "malformed cursor", errors=[FieldError("query.cursor", "not a cursor from this API")]
        )
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        rows = await store.fetch_feed_page(conn, principal.tenant_id, after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1]["position"]) if more else None
