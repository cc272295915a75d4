"""The integrations worker's jobs: what it does on its own, beside consuming events."""

from services.integrations.jobs.webhooks import CONTENT_TYPE, DeliveryLoop, WebhookDeliveryJob, sign

__all__ = ["CONTENT_TYPE", "DeliveryLoop", "WebhookDeliveryJob", "sign"]
