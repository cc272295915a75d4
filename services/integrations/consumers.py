"""The integrations service hears every stream and records each event in the tenants' feeds."""

from __future__ import annotations

from services.integrations import SERVICE, handlers
from shared.events.streams import STREAMS, ConsumerSpec
from shared.events.worker import Subscription

__all__ = ["SUBSCRIPTIONS"]

SUBSCRIPTIONS: list[Subscription] = [
    Subscription(spec=ConsumerSpec(consumer=SERVICE, producer=producer), handlers=handlers.record_in_feed)
    for producer in STREAMS
]
