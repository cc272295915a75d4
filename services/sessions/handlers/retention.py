"""Retention: a closed process's content is crypto-shredded when its provider's period ends.

Shredding destroys the process's wrapped data key, so every copy of its ciphertext (rows,
replicas, backups) becomes unreadable; the frame — process, sessions, attendance — stays.

Which tenants to look at comes from ``content_retention_queue`` (a closing process enqueues
itself), read through the relay role, the worker's narrow cross-tenant role; the shredding itself
runs per tenant in ordinary tenant transactions as the app role.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import asyncpg

from services.sessions.domain.audit import Action, Outcome
from services.sessions.settings import sessions_settings
from services.sessions.store import audit as audit_store
from services.sessions.store import content as store
from shared.auth.principal import PROVIDER_ADMIN, Principal
from shared.db.tenant import tenant_transaction
from shared.errors import Forbidden
from shared.events.worker import Worker
from shared.logging import get_logger

__all__ = [
    "RETENTION_ACTOR",
    "RetentionJob",
    "RetentionWorker",
    "retention_months",
    "set_retention_months",
    "shred_due",
]

RETENTION_ACTOR = "system:retention"
log = get_logger(__name__)


async def retention_months(pool: asyncpg.Pool, tenant_id: uuid.UUID, *, default: int) -> int:
    async with tenant_transaction(pool, tenant_id) as conn:
        return await store.fetch_retention_months(conn, tenant_id) or default


async def set_retention_months(pool: asyncpg.Pool, principal: Principal, months: int) -> int:
    """A provider admin sets how long their closed processes' content is kept."""
    if not principal.has_role(PROVIDER_ADMIN) or principal.is_client:
        raise Forbidden("only a provider admin sets the content retention period")
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        await store.set_retention_months(conn, principal.tenant_id, months)
    return months


async def shred_due(
    pool: asyncpg.Pool, tenant_id: uuid.UUID, *, default_months: int, now: dt.datetime
) -> list[uuid.UUID]:
    """Shred every process of ``tenant_id`` (as provider) whose retention ended by ``now``."""
    async with tenant_transaction(pool, tenant_id) as conn:
        months = await store.fetch_retention_months(conn, tenant_id) or default_months
        due = await store.due_for_shredding(conn, tenant_id, months=months, now=now)
        for process_id in due:
            parties = await store.fetch_parties(conn, process_id)
            assert parties is not None
            await store.shred_key(conn, parties, now)
            await audit_store.append_entry(
                conn,
                tenant_id,
                actor=RETENTION_ACTOR,
                process_id=process_id,
                item_id=None,
                kind=None,
                action=Action.SHRED.value,
                outcome=Outcome.ALLOWED.value,
            )
    if due:
        log.info("content_shredded", tenant_id=str(tenant_id), processes=len(due))
    return due


class RetentionJob:
    """One pass finds the tenants with closed processes and shreds what is due."""

    def __init__(self, pool: asyncpg.Pool, relay_dsn: str, *, default_months: int, interval: float) -> None:
        self.pool = pool
        self.relay_dsn = relay_dsn
        self.default_months = default_months
        self.interval = interval

    async def run_once(self, now: dt.datetime | None = None) -> list[uuid.UUID]:
        now = now or dt.datetime.now(dt.UTC)
        relay = await asyncpg.connect(self.relay_dsn)
        try:
            # No retention period is shorter than a month: younger closures are not looked at.
            tenants = await relay.fetch(
                "select distinct tenant_id from content_retention_queue"
                " where closed_at <= $1::timestamptz - make_interval(months => 1)",
                now,
            )
            shredded: list[uuid.UUID] = []
            for row in tenants:
                try:
                    shredded += await shred_due(
                        self.pool, row["tenant_id"], default_months=self.default_months, now=now
                    )
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # one tenant's failure does not hold back the others
                    log.warning(
                        "retention_tenant_failed",
                        tenant_id=str(row["tenant_id"]),
                        error_type=type(exc).__qualname__,
                    )
            if shredded:
                await relay.execute(
                    "delete from content_retention_queue where process_id = any($1)", shredded
                )
            return shredded
        finally:
            await relay.close()

    async def run(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the next pass retries; never log anything but the type
                log.warning("retention_pass_failed", error_type=type(exc).__qualname__)
            await asyncio.sleep(self.interval)


class RetentionWorker(Worker):
    """The sessions worker: the relay and consumers of :class:`Worker`, and the retention job."""

    retention: RetentionJob | None = None

    async def start(self) -> list[asyncio.Task[None]]:
        if not self.settings.relay_database_url:
            # Without it content would never be shredded, silently: refuse to start instead.
            raise RuntimeError(
                "the sessions worker needs TILA_RELAY_DATABASE_URL: the retention job reads through it"
            )
        tasks = await super().start()
        assert self.pool is not None
        options = sessions_settings(self.settings)
        self.retention = RetentionJob(
            self.pool,
            self.settings.relay_database_url,
            default_months=options.content_retention_months,
            interval=options.retention_interval_seconds,
        )
        tasks.append(asyncio.create_task(self.retention.run(), name=f"{self.settings.service}-retention"))
        return tasks
