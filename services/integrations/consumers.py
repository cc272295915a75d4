"""The integrations service hears every stream and records each event in the tenants' feeds."""

from __future__ import annotations

import asyncpg

from services.integrations import SERVICE, store
from shared.db.tenant import set_tenant
from shared.events.envelope import Envelope
from shared.events.streams import STREAMS, ConsumerSpec
from shared.events.worker import Subscription

__all__ = ["SUBSCRIPTIONS", "record_in_feed"]


async def record_in_feed(conn: asyncpg.Connection, envelope: Envelope) -> None:
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


SUBSCRIPTIONS: list[Subscription] = [
    Subscription(spec=ConsumerSpec(consumer=SERVICE, producer=producer), handlers=record_in_feed)
    for producer in STREAMS
]
