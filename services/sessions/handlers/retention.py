"""Retention: a closed process's content is crypto-shredded when its provider's period ends.

Shredding destroys the process's wrapped data key, so every copy of its ciphertext (rows,
replicas, backups) becomes unreadable; the frame — process, sessions, attendance — stays.

The worker's retention job (:mod:`services.sessions.jobs.retention`) calls :func:`shred_due` for
each tenant with closed processes; the shredding runs in an ordinary tenant transaction as the app role.
"""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg

from services.sessions.domain.audit import Action, Outcome
from services.sessions.store import audit as audit_store
from services.sessions.store import content as store
from shared.auth.principal import PROVIDER_ADMIN, Principal
from shared.db.tenant import tenant_transaction
from shared.errors import Forbidden
from shared.logging import get_logger

__all__ = [
    "RETENTION_ACTOR",
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
