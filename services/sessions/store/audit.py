"""SQL of the content audit log: append one entry to a tenant's chain, read a chain back."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import asyncpg

from services.sessions.domain.audit import GENESIS, AuditEntry, chain_hash
from shared.ids import new_id

__all__ = ["append_entry", "fetch_chain"]

_COLUMNS = (
    "tenant_id, seq, id, occurred_at, actor, process_id, item_id, kind, action, outcome, prev_hash, hash"
)


async def append_entry(
    conn: asyncpg.Connection,
    tenant_id: uuid.UUID,
    *,
    actor: str,
    process_id: uuid.UUID | None,
    item_id: uuid.UUID | None,
    kind: str | None,
    action: str,
    outcome: str,
) -> AuditEntry:
    """Append to ``tenant_id``'s chain inside the open (tenant) transaction.

    A transaction-scoped advisory lock per tenant serialises appends, so two requests never
    chain onto the same previous entry.
    """
    await conn.execute("select pg_advisory_xact_lock(hashtextextended($1, 0))", f"content_audit:{tenant_id}")
    last = await conn.fetchrow(
        "select seq, hash from content_audit where tenant_id = $1 order by seq desc limit 1", tenant_id
    )
    seq, prev = (last["seq"] + 1, bytes(last["hash"])) if last else (1, GENESIS)
    entry = AuditEntry(
        tenant_id=tenant_id,
        seq=seq,
        id=new_id(),
        occurred_at=dt.datetime.now(dt.UTC),
        actor=actor,
        process_id=process_id,
        item_id=item_id,
        kind=kind,
        action=action,
        outcome=outcome,
        prev_hash=prev,
    )
    entry = dataclasses.replace(entry, hash=chain_hash(prev, entry))
    await conn.execute(
        f"insert into content_audit ({_COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        entry.tenant_id,
        entry.seq,
        entry.id,
        entry.occurred_at,
        entry.actor,
        entry.process_id,
        entry.item_id,
        entry.kind,
        entry.action,
        entry.outcome,
        entry.prev_hash,
        entry.hash,
    )
    return entry


async def fetch_chain(conn: asyncpg.Connection, tenant_id: uuid.UUID) -> list[AuditEntry]:
    rows = await conn.fetch(
        f"select {_COLUMNS} from content_audit where tenant_id = $1 order by seq", tenant_id
    )
    return [
        AuditEntry(
            tenant_id=r["tenant_id"],
            seq=r["seq"],
            id=r["id"],
            occurred_at=r["occurred_at"],
            actor=r["actor"],
            process_id=r["process_id"],
            item_id=r["item_id"],
            kind=r["kind"],
            action=r["action"],
            outcome=r["outcome"],
            prev_hash=bytes(r["prev_hash"]),
            hash=bytes(r["hash"]),
        )
        for r in rows
    ]
