"""A service's worker: its outbox relay and its consumers, supervised in one event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import asyncpg
from nats.aio.client import Client as NATS

from shared.config import ServiceSettings
from shared.db.pool import create_pool
from shared.events.consumer import EventConsumer, EventHandler
from shared.events.nats import connect_nats
from shared.events.outbox import OutboxRelay
from shared.events.streams import STREAMS, ConsumerSpec, ensure_stream
from shared.logging import get_logger

__all__ = ["Subscription", "Worker"]

log = get_logger(__name__)


@dataclass(frozen=True)
class Subscription:
    """A durable consumer on another service's stream and the handlers for its event types."""

    spec: ConsumerSpec
    handlers: Mapping[str, EventHandler] | EventHandler = field(default_factory=dict)


class Worker:
    """Runs the relay (when the service publishes) and every subscription until cancelled."""

    def __init__(
        self, settings: ServiceSettings, *, publishes: bool, subscriptions: Sequence[Subscription]
    ) -> None:
        self.settings = settings
        self.publishes = publishes
        self.subscriptions = subscriptions
        self.relay: OutboxRelay | None = None
        self.consumers: list[EventConsumer] = []
        self.pool: asyncpg.Pool | None = None
        self.nats: NATS | None = None
        self.tasks: list[asyncio.Task[None]] = []
        """The running relay/consumer/job tasks (set by :meth:`start`); the health server watches them."""

    async def start(self) -> list[asyncio.Task[None]]:
        s = self.settings
        self.pool = await create_pool(s.database_url, min_size=1, max_size=4)
        self.nats = await connect_nats(s.nats_url, name=f"{s.service}-worker", service=s.service)
        tasks = self.tasks = []  # subclasses append their own tasks to this same list
        if self.publishes:
            await ensure_stream(self.nats.jetstream(), STREAMS[s.service])
            self.relay = OutboxRelay(
                service=s.service,
                dsn=s.relay_database_url,
                nats=self.nats,
                poll_interval=s.outbox_poll_interval,
            )
            tasks.append(asyncio.create_task(self.relay.run(), name=f"{s.service}-relay"))
        for sub in self.subscriptions:
            consumer = EventConsumer(spec=sub.spec, pool=self.pool, nats=self.nats, handlers=sub.handlers)
            self.consumers.append(consumer)
            tasks.append(asyncio.create_task(consumer.run(), name=sub.spec.durable))
        log.info("worker_started", service=s.service, tasks=[t.get_name() for t in tasks])
        return tasks

    async def run(self) -> None:
        tasks = self.tasks = await self.start()
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.close()

    async def close(self) -> None:
        if self.nats is not None:
            with contextlib.suppress(Exception):
                await self.nats.close()
        if self.pool is not None:
            await self.pool.close()
