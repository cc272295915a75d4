"""A service's worker: its outbox relay, its consumers and its jobs, supervised in one event loop.

A service extends its worker one way: ``Worker(jobs=[...])``. A job is a named task beside the relay
and the consumers (a periodic pass such as the sessions retention, or a long-running loop such as the
webhook deliveries); the worker starts, watches and closes it like them, and its health server
reports it by name (:mod:`shared.events.health`).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from nats.aio.client import Client as NATS

from shared.config import ServiceSettings
from shared.db.pool import create_pool
from shared.events.consumer import EventConsumer, On
from shared.events.nats import connect_nats
from shared.events.outbox import OutboxRelay
from shared.events.streams import STREAMS, ConsumerSpec, ensure_stream
from shared.logging import get_logger

__all__ = ["Job", "PeriodicJob", "Subscription", "Worker"]

log = get_logger(__name__)


@dataclass(frozen=True)
class Subscription:
    """A durable consumer on another service's stream and the handlers for its event types."""

    spec: ConsumerSpec
    handlers: Sequence[On[Any]] = field(default_factory=list)
    """Declared with :func:`shared.events.consumer.on`, one per event type (or several, run in order)."""


class Job(abc.ABC):
    """A task a worker runs beside its relay and consumers, under :attr:`name`."""

    name: str

    async def start(self, worker: Worker) -> None:  # noqa: B027 (a hook; most jobs need nothing)
        """Take what the job needs from the started worker (its pool, its settings); raise to
        refuse to start (the worker then closes what it opened)."""

    @abc.abstractmethod
    async def run(self) -> None:
        """Work until cancelled; returning or raising ends the task (the worker is then not live)."""

    async def close(self) -> None:  # noqa: B027
        """Release what :meth:`start` took (the worker calls it when it closes)."""


class PeriodicJob(Job):
    """A job that makes a pass every :attr:`interval` seconds; a failed pass is logged, counted
    and retried at the next one."""

    interval: float
    passes = 0
    failures = 0

    @abc.abstractmethod
    async def run_once(self) -> object:
        """One pass."""

    def pass_failed(self, exc: Exception) -> None:
        log.warning("job_pass_failed", job=self.name, error_type=type(exc).__qualname__)

    async def run(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.failures += 1
                self.pass_failed(exc)
            else:
                self.passes += 1
            await asyncio.sleep(self.interval)


class Worker:
    """Runs the relay (when the service publishes), every subscription and every job until cancelled."""

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        publishes: bool,
        subscriptions: Sequence[Subscription],
        jobs: Sequence[Job] = (),
    ) -> None:
        self.settings = settings
        self.publishes = publishes
        self.subscriptions = subscriptions
        self.jobs = list(jobs)
        self.relay: OutboxRelay | None = None
        self.consumers: list[EventConsumer] = []
        self.pool: asyncpg.Pool | None = None
        self.nats: NATS | None = None
        self.tasks: list[asyncio.Task[None]] = []
        """The running relay/consumer/job tasks (set by :meth:`start`); the health server watches them."""

    async def start(self) -> list[asyncio.Task[None]]:
        try:
            return await self._start()
        except BaseException:
            for task in self.tasks:
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            await self.close()
            raise

    async def _start(self) -> list[asyncio.Task[None]]:
        s = self.settings
        self.pool = await create_pool(s.database_url, min_size=1, max_size=4)
        self.nats = await connect_nats(s.nats_url, name=f"{s.service}-worker", service=s.service)
        tasks = self.tasks = []
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
        for job in self.jobs:
            await job.start(self)
            tasks.append(asyncio.create_task(job.run(), name=job.name))
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
        for job in self.jobs:
            with contextlib.suppress(Exception):
                await job.close()
        if self.nats is not None:
            with contextlib.suppress(Exception):
                await self.nats.close()
        if self.pool is not None:
            await self.pool.close()
