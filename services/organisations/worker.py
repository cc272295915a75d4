"""The organisations worker: relays its outbox; it consumes nothing."""

from __future__ import annotations

from services.organisations import SERVICE
from shared.config import ServiceSettings
from shared.events.worker import Worker

__all__ = ["create_worker"]


def create_worker(settings: ServiceSettings) -> Worker:
    assert settings.service == SERVICE
    return Worker(settings, publishes=True, subscriptions=[])
