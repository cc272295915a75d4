"""The integrations worker: a consumer on every stream, and the webhook delivery loop."""

from __future__ import annotations

import asyncio

import asyncpg

from services.integrations import SERVICE
from services.integrations.consumers import SUBSCRIPTIONS
from services.integrations.delivery import DeliveryLoop
from services.integrations.settings import IntegrationsSettings, integrations_settings
from shared.config import ServiceSettings
from shared.db.pool import create_pool
from shared.events.worker import Worker

__all__ = ["IntegrationsWorker", "create_worker"]


class IntegrationsWorker(Worker):
    def __init__(self, settings: IntegrationsSettings) -> None:
        super().__init__(settings, publishes=False, subscriptions=SUBSCRIPTIONS)
        self.integrations = settings
        self.delivery_pool: asyncpg.Pool | None = None
        self.delivery: DeliveryLoop | None = None

    async def start(self) -> list[asyncio.Task[None]]:
        tasks = await super().start()
        self.delivery_pool = await create_pool(self.settings.database_url, min_size=1, max_size=6)
        self.delivery = DeliveryLoop(self.delivery_pool, self.integrations)
        tasks.append(asyncio.create_task(self.delivery.run(), name="integrations-webhooks"))
        return tasks

    async def close(self) -> None:
        await super().close()
        if self.delivery_pool is not None:
            await self.delivery_pool.close()


def create_worker(settings: ServiceSettings) -> Worker:
    assert settings.service == SERVICE
    return IntegrationsWorker(integrations_settings(settings))
