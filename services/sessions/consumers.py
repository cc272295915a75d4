"""Reactions of the sessions service to other services' events."""

from __future__ import annotations

from services.sessions import SERVICE
from shared.events.worker import Subscription
from shared.tenancy import tenant_subscription

__all__ = ["SUBSCRIPTIONS"]

SUBSCRIPTIONS: list[Subscription] = [tenant_subscription(SERVICE)]
