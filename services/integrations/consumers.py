"""The integrations service hears every stream and records each event in the tenants' feeds;
a second consumer on organisations' tenant events keeps its tenant directory (deactivations)."""

from __future__ import annotations

from services.integrations import SERVICE, handlers
from shared.contracts import events_of
from shared.events.consumer import on
from shared.events.streams import STREAMS, ConsumerSpec
from shared.events.worker import Subscription
from shared.tenancy import tenant_subscription

__all__ = ["SUBSCRIPTIONS", "TENANTS_CONSUMER"]

TENANTS_CONSUMER = f"{SERVICE}-tenants"
"""A durable of its own (from the stream's start), so tenants created before integrations kept a
directory are known too."""

SUBSCRIPTIONS: list[Subscription] = [
    Subscription(
        spec=ConsumerSpec(consumer=SERVICE, producer=producer),
        handlers=[on(cls, handlers.record_in_feed) for cls in events_of(producer)],
    )
    for producer in STREAMS
] + [tenant_subscription(TENANTS_CONSUMER)]
