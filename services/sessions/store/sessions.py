"""SQL over ``sessions``: one function per query."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
import msgspec

from services.sessions.domain.processes import Process
from services.sessions.domain.sessions import Session

__all__ = [
    "Overlap",
    "fetch_session",
    "insert_session",
    "list_sessions",
    "overlapping_session_of_supervisor",
    "sessions_of",
    "update_session",
]


def _args(process: Process, session: Session) -> tuple[object, ...]:
    return (
        process.buyer_id,
        session.session_id,
        session.process_id,
        process.provider_id,
        session.status.value,
        session.starts_at,
        session.duration_minutes,
        session,  # jsonb: the pool's codec encodes it with msgspec
        session.version,
    )


async def insert_session(conn: asyncpg.Connection, process: Process, session: Session) -> None:
    await conn.execute(
        """
        insert into sessions
          (tenant_id, id, process_id, provider_id, status, starts_at, duration_minutes, doc, version)
        values ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9)
        """,
        *_args(process, session),
    )


async def update_session(
    conn: asyncpg.Connection, process: Process, session: Session, *, expected_version: int
) -> bool:
    """Write ``session`` over the row at ``expected_version``; ``False`` if it moved meanwhile."""
    status = await conn.execute(
        """
        update sessions
        set status = $5, starts_at = $6, duration_minutes = $7, doc = $8::jsonb, version = $9,
            updated_at = now()
        where tenant_id = $1 and id = $2 and process_id = $3 and provider_id = $4 and version = $10
        """,
        *_args(process, session),
        expected_version,
    )
    return bool(status == "UPDATE 1")


async def fetch_session(
    conn: asyncpg.Connection, session_id: uuid.UUID, *, for_update: bool = False
) -> Session | None:
    lock = " for update" if for_update else ""
    doc = await conn.fetchval(f"select doc::text from sessions where id = $1{lock}", session_id)
    return msgspec.json.decode(doc, type=Session) if doc is not None else None


async def sessions_of(conn: asyncpg.Connection, process_id: uuid.UUID) -> list[Session]:
    """Every session of the process (for the count and trial rules)."""
    rows = await conn.fetch(
        "select doc::text as doc from sessions where process_id = $1 order by starts_at, id", process_id
    )
    return [msgspec.json.decode(row["doc"], type=Session) for row in rows]


async def list_sessions(
    conn: asyncpg.Connection,
    process_id: uuid.UUID,
    *,
    after: tuple[dt.datetime, uuid.UUID] | None,
    limit: int,
) -> list[Session]:
    """A page of the process's sessions by start time."""
    after_at, after_id = after if after is not None else (None, None)
    rows = await conn.fetch(
        "select doc::text as doc from sessions where process_id = $1"
        " and ($2::timestamptz is null or (starts_at, id) > ($2, $3::uuid))"
        " order by starts_at, id limit $4",
        process_id,
        after_at,
        after_id,
        limit,
    )
    return [msgspec.json.decode(row["doc"], type=Session) for row in rows]


class Overlap(msgspec.Struct, frozen=True, kw_only=True):
    session_id: uuid.UUID
    starts_at: dt.datetime


async def overlapping_session_of_supervisor(
    conn: asyncpg.Connection, supervisor_id: uuid.UUID, session: Session
) -> Overlap | None:
    """The first live session of this supervisor (any of her processes) that overlaps ``session``."""
    row = await conn.fetchrow(
        """
        select s.id, s.starts_at from sessions s join processes p on p.id = s.process_id
        where p.supervisor_id = $1 and s.id <> $2 and s.status <> 'cancelled'
          and tstzrange(s.starts_at, s.starts_at + make_interval(mins => s.duration_minutes))
              && tstzrange($3::timestamptz, $3::timestamptz + make_interval(mins => $4::int))
        order by s.starts_at, s.id limit 1
        """,
        supervisor_id,
        session.session_id,
        session.starts_at,
        session.duration_minutes,
    )
    return Overlap(session_id=row["id"], starts_at=row["starts_at"]) if row is not None else None
