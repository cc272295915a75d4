"""The retention job: each pass shreds the content of closed processes whose period has ended.

Which tenants to look at comes from ``content_retention_queue`` (a closing process enqueues
itself), read through the relay role, the worker's narrow cross-tenant role; the shredding itself
(:func:`services.sessions.handlers.retention.shred_due`) runs per tenant as the app role.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import asyncpg

from services.sessions.handlers import retention
from services.sessions.settings import sessions_settings
from services.sessions.store import content as store
from shared.events.worker import PeriodicJob, Worker
from shared.logging import get_logger

__all__ = ["RetentionJob", "retention_pass"]

log = get_logger(__name__)


async def retention_pass(
    pool: asyncpg.Pool, relay_dsn: str, *, default_months: int, now: dt.datetime | None = None
) -> list[uuid.UUID]:
    """Find the tenants with closed processes and shred what is due; the processes shredded."""
    now = now or dt.datetime.now(dt.UTC)
    relay = await asyncpg.connect(relay_dsn)
    try:
        shredded: list[uuid.UUID] = []
        for tenant_id in await store.tenants_with_closures(relay, now=now):
            try:
                shredded += await retention.shred_due(pool, tenant_id, default_months=default_months, now=now)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one tenant's failure does not hold back the others
                log.warning(
                    "retention_tenant_failed", tenant_id=str(tenant_id), error_type=type(exc).__qualname__
                )
        if shredded:
            await store.dequeue_shredded(relay, shredded)
        return shredded
    finally:
        await relay.close()


class RetentionJob(PeriodicJob):
    """The sessions worker's retention passes, every ``retention_interval_seconds``."""

    name = "sessions-retention"

    def __init__(self) -> None:
        self.pool: asyncpg.Pool | None = None
        self.relay_dsn = ""
        self.default_months = 0

    async def start(self, worker: Worker) -> None:
        if not worker.settings.relay_database_url:
            # Without it content would never be shredded, silently: refuse to start instead.
            raise RuntimeError(
                "the sessions worker needs TILA_RELAY_DATABASE_URL: the retention job reads through it"
            )
        options = sessions_settings(worker.settings)
        self.pool = worker.pool
        self.relay_dsn = worker.settings.relay_database_url
        self.default_months = options.content_retention_months
        self.interval = options.retention_interval_seconds

    async def run_once(self) -> list[uuid.UUID]:
        assert self.pool is not None, "started by its worker"
        return await retention_pass(self.pool, self.relay_dsn, default_months=self.default_months)

    def pass_failed(self, exc: Exception) -> None:
        # The next pass retries; never log anything but the type.
        log.warning("retention_pass_failed", error_type=type(exc).__qualname__)
