"""The orders worker: its outbox relay and its consumers."""

from __future__ import annotations

from services.orders import SERVICE
from services.orders.consumers import SUBSCRIPTIONS
from shared.config import ServiceSettings
from shared.events.worker import Worker

__all__ = ["create_worker"]


def create_worker(settings: ServiceSettings) -> Worker:
    assert settings.service == SERVICE
    return Worker(settings, publishes=True, subscriptions=SUBSCRIPTIONS)
