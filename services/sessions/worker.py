"""The sessions worker: its outbox relay, its consumers and the retention job."""

from __future__ import annotations

from services.sessions import SERVICE
from services.sessions.consumers import SUBSCRIPTIONS
from services.sessions.jobs import RetentionJob
from shared.config import ServiceSettings
from shared.events.worker import Worker

__all__ = ["create_worker"]


def create_worker(settings: ServiceSettings) -> Worker:
    assert settings.service == SERVICE
    return Worker(settings, publishes=True, subscriptions=SUBSCRIPTIONS, jobs=[RetentionJob()])
