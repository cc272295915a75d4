"""SQL over ``processes``: one function per query. RLS admits the buyer and the provider."""

from __future__ import annotations

import uuid

import asyncpg
import msgspec

from services.sessions.domain.processes import Process

__all__ = [
    "fetch_process",
    "fetch_process_by_order",
    "insert_process",
    "list_processes",
    "update_process",
]


def _args(process: Process) -> tuple[object, ...]:
    return (
        process.buyer_id,
        process.process_id,
        process.order_id,
        process.provider_id,
        process.supervisor_id,
        list(process.participants),
        process.cost_centre_id,
        process.agreement_id,
        process.form,
        process.planned_sessions,
        process.status.value,
        process.outcome,
        process.closed_at,
        process,  # jsonb: the pool's codec encodes it with msgspec
        process.version,
    )


async def insert_process(conn: asyncpg.Connection, process: Process) -> bool:
    """``False`` when the order already has its process (a repeated acceptance)."""
    status = await conn.execute(
        """
        insert into processes
          (tenant_id, id, order_id, provider_id, supervisor_id, participants, cost_centre_id,
           agreement_id, form, planned_sessions, status, outcome, closed_at, doc, version)
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::jsonb, $15)
        on conflict (order_id) do nothing
        """,
        *_args(process),
    )
    return bool(status == "INSERT 0 1")


async def update_process(conn: asyncpg.Connection, process: Process, *, expected_version: int) -> bool:
    """Write ``process`` over the row at ``expected_version``; ``False`` if it moved meanwhile."""
    status = await conn.execute(
        """
        update processes
        set supervisor_id = $5, participants = $6, cost_centre_id = $7, agreement_id = $8, form = $9,
            planned_sessions = $10, status = $11, outcome = $12, closed_at = $13, doc = $14::jsonb,
            version = $15, updated_at = now()
        where tenant_id = $1 and id = $2 and order_id = $3 and provider_id = $4 and version = $16
        """,
        *_args(process),
        expected_version,
    )
    return bool(status == "UPDATE 1")


def _lock(for_update: bool) -> str:
    return " for update" if for_update else ""


async def fetch_process(
    conn: asyncpg.Connection, process_id: uuid.UUID, *, for_update: bool = False
) -> Process | None:
    doc = await conn.fetchval(f"select doc::text from processes where id = $1{_lock(for_update)}", process_id)
    return msgspec.json.decode(doc, type=Process) if doc is not None else None


async def fetch_process_by_order(
    conn: asyncpg.Connection, order_id: uuid.UUID, *, for_update: bool = False
) -> Process | None:
    doc = await conn.fetchval(
        f"select doc::text from processes where order_id = $1{_lock(for_update)}", order_id
    )
    return msgspec.json.decode(doc, type=Process) if doc is not None else None


async def list_processes(
    conn: asyncpg.Connection,
    *,
    after: uuid.UUID | None,
    limit: int,
    supervisor_id: uuid.UUID | None = None,
    participant_id: uuid.UUID | None = None,
    status: str | None = None,
) -> list[Process]:
    """Processes the current tenant shares (RLS), by id; narrowed to a supervisor's or a participant's."""
    rows = await conn.fetch(
        "select doc::text as doc from processes"
        " where ($1::uuid is null or id > $1) and ($2::uuid is null or supervisor_id = $2)"
        " and ($3::uuid is null or $3 = any(participants)) and ($4::text is null or status = $4)"
        " order by id limit $5",
        after,
        supervisor_id,
        participant_id,
        status,
        limit,
    )
    return [msgspec.json.decode(row["doc"], type=Process) for row in rows]
