"""The integrations worker: a consumer on every stream, and the webhook delivery job."""

from __future__ import annotations

from services.integrations import SERVICE
from services.integrations.consumers import SUBSCRIPTIONS
from services.integrations.jobs import WebhookDeliveryJob
from services.integrations.settings import integrations_settings
from shared.config import ServiceSettings
from shared.events.worker import Worker

__all__ = ["create_worker"]


def create_worker(settings: ServiceSettings) -> Worker:
    assert settings.service == SERVICE
    options = integrations_settings(settings)
    return Worker(options, publishes=False, subscriptions=SUBSCRIPTIONS, jobs=[WebhookDeliveryJob(options)])
