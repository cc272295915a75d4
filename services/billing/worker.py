"""The billing worker: its outbox relay and its consumers."""

from __future__ import annotations

from services.billing import SERVICE
from services.billing.consumers import SUBSCRIPTIONS
from shared.config import ServiceSettings
from shared.events.worker import Worker

__all__ = ["create_worker"]


def create_worker(settings: ServiceSettings) -> Worker:
    assert settings.service == SERVICE
    return Worker(settings, publishes=True, subscriptions=SUBSCRIPTIONS)
