"""The sessions worker: its outbox relay and its consumers."""

from __future__ import annotations

from services.sessions import SERVICE
from services.sessions.consumers import SUBSCRIPTIONS
from services.sessions.handlers.retention import RetentionWorker
from shared.config import ServiceSettings
from shared.events.worker import Worker

__all__ = ["create_worker"]


def create_worker(settings: ServiceSettings) -> Worker:
    assert settings.service == SERVICE
    return RetentionWorker(settings, publishes=True, subscriptions=SUBSCRIPTIONS)  # + the retention job
