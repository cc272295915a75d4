"""The integrations worker: a consumer on every stream; it publishes nothing of its own."""

from __future__ import annotations

from services.integrations import SERVICE
from services.integrations.consumers import SUBSCRIPTIONS
from shared.config import ServiceSettings
from shared.events.worker import Worker

__all__ = ["create_worker"]


def create_worker(settings: ServiceSettings) -> Worker:
    assert settings.service == SERVICE
    return Worker(settings, publishes=False, subscriptions=SUBSCRIPTIONS)
