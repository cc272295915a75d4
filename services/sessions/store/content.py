"""SQL of the content wall: data keys, encrypted items, consents and retention.

Reads of items repeat the visibility rule in the query (a :class:`ReadScope` and the caller's
membership of the process), so a row the caller may not see never leaves the database.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import asyncpg

from services.sessions.domain.visibility import ContentKind, ProcessParties, ReadScope, Relation

__all__ = [
    "ItemRow",
    "KeyRow",
    "add_approval",
    "clear_goal_consents",
    "dequeue_shredded",
    "due_for_shredding",
    "fetch_item_meta",
    "fetch_key",
    "fetch_parties",
    "fetch_retention_months",
    "fetch_visible_item",
    "insert_item",
    "insert_key",
    "keys_not_wrapped_by",
    "list_visible_items",
    "rewrap_key",
    "session_in_process",
    "set_goal_consent",
    "set_retention_months",
    "set_shared_with_supervisor",
    "shred_key",
    "tenants_with_closures",
    "update_item_body",
]


@dataclass(frozen=True)
class KeyRow:
    tenant_id: uuid.UUID
    process_id: uuid.UUID
    key_id: str
    wrapped_key: bytes | None
    goal_consents: frozenset[uuid.UUID]
    shredded_at: dt.datetime | None


@dataclass(frozen=True)
class ItemRow:
    id: uuid.UUID
    process_id: uuid.UUID
    kind: str
    phase: str | None
    owner_id: uuid.UUID
    shared_with_supervisor: bool
    approved_by: frozenset[uuid.UUID]
    body: bytes
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    session_id: uuid.UUID | None = None


async def fetch_parties(conn: asyncpg.Connection, process_id: uuid.UUID) -> ProcessParties | None:
    row = await conn.fetchrow(
        "select id, tenant_id, provider_id, supervisor_id, participants, cost_centre_id"
        " from processes where id = $1",
        process_id,
    )
    if row is None:
        return None
    return ProcessParties(
        process_id=row["id"],
        buyer_id=row["tenant_id"],
        provider_id=row["provider_id"],
        supervisor_id=row["supervisor_id"],
        participants=frozenset(row["participants"]),
        cost_centre_id=row["cost_centre_id"],
    )


def _key(row: asyncpg.Record) -> KeyRow:
    return KeyRow(
        tenant_id=row["tenant_id"],
        process_id=row["process_id"],
        key_id=row["key_id"],
        wrapped_key=row["wrapped_key"],
        goal_consents=frozenset(row["goal_consents"]),
        shredded_at=row["shredded_at"],
    )


async def fetch_key(conn: asyncpg.Connection, process_id: uuid.UUID, *, lock: bool = False) -> KeyRow | None:
    row = await conn.fetchrow(
        "select tenant_id, process_id, key_id, wrapped_key, goal_consents, shredded_at"
        " from content_keys where process_id = $1" + (" for update" if lock else ""),
        process_id,
    )
    return _key(row) if row else None


async def insert_key(
    conn: asyncpg.Connection,
    *,
    tenant_id: uuid.UUID,
    process_id: uuid.UUID,
    buyer_id: uuid.UUID,
    key_id: str,
    wrapped_key: bytes,
) -> None:
    """Store a process's wrapped data key unless another request stored one first."""
    await conn.execute(
        "insert into content_keys (tenant_id, process_id, buyer_id, key_id, wrapped_key)"
        " values ($1, $2, $3, $4, $5) on conflict (process_id) do nothing",
        tenant_id,
        process_id,
        buyer_id,
        key_id,
        wrapped_key,
    )


async def rewrap_key(
    conn: asyncpg.Connection, process_id: uuid.UUID, key_id: str, wrapped_key: bytes
) -> None:
    await conn.execute(
        "update content_keys set key_id = $2, wrapped_key = $3, rewrapped_at = now()"
        " where process_id = $1 and shredded_at is null",
        process_id,
        key_id,
        wrapped_key,
    )


async def keys_not_wrapped_by(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, key_id: str, *, limit: int
) -> list[KeyRow]:
    """The tenant's live data keys still wrapped by an older keyring key than ``key_id``."""
    rows = await conn.fetch(
        "select tenant_id, process_id, key_id, wrapped_key, goal_consents, shredded_at from content_keys"
        " where tenant_id = $1 and key_id <> $2 and shredded_at is null order by process_id limit $3"
        " for update",
        tenant_id,
        key_id,
        limit,
    )
    return [_key(r) for r in rows]


async def shred_key(conn: asyncpg.Connection, parties: ProcessParties, at: dt.datetime) -> bool:
    """Destroy the process's wrapped data key; the key id and times stay as the record of it.

    A process that never had content gets a shredded record too, so nothing can be written later.
    """
    status = await conn.execute(
        "insert into content_keys as k (tenant_id, process_id, buyer_id, key_id, wrapped_key, shredded_at)"
        " values ($1, $2, $3, '', null, $4)"
        " on conflict (process_id) do update set wrapped_key = null, shredded_at = excluded.shredded_at"
        " where k.shredded_at is null",
        parties.provider_id,
        parties.process_id,
        parties.buyer_id,
        at,
    )
    return bool(status == "INSERT 0 1")


async def clear_goal_consents(conn: asyncpg.Connection, process_id: uuid.UUID) -> None:
    """The goals changed: the participants consented to other goals, so they consent again."""
    await conn.execute("update content_keys set goal_consents = '{}' where process_id = $1", process_id)


async def set_goal_consent(
    conn: asyncpg.Connection, process_id: uuid.UUID, person_id: uuid.UUID, consent: bool
) -> frozenset[uuid.UUID]:
    sql = (
        "update content_keys set goal_consents = array_append(array_remove(goal_consents, $2), $2)"
        if consent
        else "update content_keys set goal_consents = array_remove(goal_consents, $2)"
    )
    value = await conn.fetchval(sql + " where process_id = $1 returning goal_consents", process_id, person_id)
    return frozenset(value or [])


_ITEM_COLUMNS = (
    "i.id, i.process_id, i.kind, i.phase, i.owner_id, i.shared_with_supervisor, i.approved_by, i.body,"
    " i.version, i.created_at, i.updated_at, i.session_id"
)


def _item(row: asyncpg.Record) -> ItemRow:
    return ItemRow(
        id=row["id"],
        process_id=row["process_id"],
        kind=row["kind"],
        phase=row["phase"],
        owner_id=row["owner_id"],
        shared_with_supervisor=row["shared_with_supervisor"],
        approved_by=frozenset(row["approved_by"]),
        body=row["body"],
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        session_id=row["session_id"],
    )


async def session_in_process(conn: asyncpg.Connection, session_id: uuid.UUID, process_id: uuid.UUID) -> bool:
    return bool(
        await conn.fetchval(
            "select 1 from sessions where id = $1 and process_id = $2", session_id, process_id
        )
    )


async def insert_item(
    conn: asyncpg.Connection,
    *,
    item_id: uuid.UUID,
    parties: ProcessParties,
    kind: ContentKind,
    phase: str | None,
    owner_id: uuid.UUID,
    body: bytes,
    at: dt.datetime,
    session_id: uuid.UUID | None = None,
) -> ItemRow:
    row = await conn.fetchrow(
        "insert into content_items as i (tenant_id, buyer_id, id, process_id, kind, phase, owner_id, body,"
        " created_at, updated_at, session_id) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10)"
        f" returning {_ITEM_COLUMNS}",
        parties.provider_id,
        parties.buyer_id,
        item_id,
        parties.process_id,
        kind.value,
        phase,
        owner_id,
        body,
        at,
        session_id,
    )
    assert row is not None
    return _item(row)


# The visibility rule as SQL: which items (by kind and owner) and the caller's membership of the
# process, both checked against the process row itself. Parameters from $2 on, see _scope_args.
_VISIBLE = """
  (i.kind = any($2::text[])
   or (i.kind = any($3::text[]) and i.owner_id = $4)
   or ($5 and i.kind = 'reflection' and i.shared_with_supervisor)
   or ($6 and i.kind = 'goal' and cardinality(p.participants) > 0 and p.participants <@ k.goal_consents)
   or ($7 and i.kind = 'summary' and cardinality(p.participants) > 0 and p.participants <@ i.approved_by)
   or ($8 = 'participant' and i.kind = 'goal' and i.owner_id = p.supervisor_id))
  and (($8 = 'supervisor' and p.supervisor_id = $4 and p.provider_id = $9)
       or ($8 = 'participant' and $4 = any(p.participants) and p.tenant_id = $9)
       or ($8 = 'employer' and p.tenant_id = $9 and not ($4 = any(p.participants)))
       or ($8 = 'approver' and p.tenant_id = $9 and not ($4 = any(p.participants))
           and exists (select 1 from approver_directory a where a.tenant_id = p.tenant_id
                       and a.cost_centre_id = p.cost_centre_id and a.person_id = $4 and a.assigned)))
"""


def _scope_args(
    scope: ReadScope,
    relation: Relation,
    person_id: uuid.UUID,
    tenant_id: uuid.UUID,
    employer_tenant_wide: bool,
) -> tuple[object, ...]:
    # The employer is the buyer's admin (tenant-wide) or an approver of the process's cost centre,
    # which the query checks against the approvers' read model itself.
    as_relation = "approver" if relation is Relation.EMPLOYER and not employer_tenant_wide else relation.value
    return (
        sorted(k.value for k in scope.all_kinds),
        sorted(k.value for k in scope.own_kinds),
        person_id,
        scope.shared_reflections,
        scope.consented_goals,
        scope.approved_summaries,
        as_relation,
        tenant_id,
    )


async def fetch_visible_item(
    conn: asyncpg.Connection,
    process_id: uuid.UUID,
    item_id: uuid.UUID,
    *,
    scope: ReadScope,
    relation: Relation,
    person_id: uuid.UUID,
    tenant_id: uuid.UUID,
    employer_tenant_wide: bool = False,
    lock: bool = False,
) -> ItemRow | None:
    row = await conn.fetchrow(
        f"select {_ITEM_COLUMNS} from content_items i"
        " join content_keys k on k.process_id = i.process_id"
        " join processes p on p.id = i.process_id"
        f" where i.process_id = $1 and i.id = $10 and {_VISIBLE}" + (" for update of i" if lock else ""),
        process_id,
        *_scope_args(scope, relation, person_id, tenant_id, employer_tenant_wide),
        item_id,
    )
    return _item(row) if row else None


async def list_visible_items(
    conn: asyncpg.Connection,
    process_id: uuid.UUID,
    *,
    scope: ReadScope,
    relation: Relation,
    person_id: uuid.UUID,
    tenant_id: uuid.UUID,
    kind: ContentKind | None,
    after: tuple[dt.datetime, uuid.UUID] | None,
    limit: int,
    session_id: uuid.UUID | None = None,
    employer_tenant_wide: bool = False,
) -> list[ItemRow]:
    after_at, after_id = after if after else (None, None)
    rows = await conn.fetch(
        f"select {_ITEM_COLUMNS} from content_items i"
        " join content_keys k on k.process_id = i.process_id"
        " join processes p on p.id = i.process_id"
        f" where i.process_id = $1 and {_VISIBLE}"
        " and ($10::text is null or i.kind = $10)"
        " and ($11::timestamptz is null or (i.created_at, i.id) > ($11, $12::uuid))"
        " and ($14::uuid is null or i.session_id = $14)"
        " order by i.created_at, i.id limit $13",
        process_id,
        *_scope_args(scope, relation, person_id, tenant_id, employer_tenant_wide),
        kind.value if kind else None,
        after_at,
        after_id,
        limit,
        session_id,
    )
    return [_item(r) for r in rows]


async def fetch_item_meta(
    conn: asyncpg.Connection, process_id: uuid.UUID, item_id: uuid.UUID
) -> tuple[str, uuid.UUID] | None:
    """An item's kind and owner, without its body: to tell a refusal from a missing item in the audit."""
    row = await conn.fetchrow(
        "select kind, owner_id from content_items where process_id = $1 and id = $2", process_id, item_id
    )
    return (row["kind"], row["owner_id"]) if row else None


async def update_item_body(
    conn: asyncpg.Connection, item_id: uuid.UUID, body: bytes, *, reset_approvals: bool, at: dt.datetime
) -> ItemRow:
    row = await conn.fetchrow(
        "update content_items as i set body = $2, version = version + 1, updated_at = $3,"
        " approved_by = case when $4 then '{}'::uuid[] else approved_by end"
        f" where id = $1 returning {_ITEM_COLUMNS}",
        item_id,
        body,
        at,
        reset_approvals,
    )
    assert row is not None
    return _item(row)


async def set_shared_with_supervisor(conn: asyncpg.Connection, item_id: uuid.UUID, shared: bool) -> ItemRow:
    row = await conn.fetchrow(
        "update content_items as i set shared_with_supervisor = $2, version = version + 1, updated_at = now()"
        f" where id = $1 returning {_ITEM_COLUMNS}",
        item_id,
        shared,
    )
    assert row is not None
    return _item(row)


async def add_approval(conn: asyncpg.Connection, item_id: uuid.UUID, person_id: uuid.UUID) -> ItemRow:
    row = await conn.fetchrow(
        "update content_items as i set approved_by = array_append(array_remove(approved_by, $2), $2)"
        f" where id = $1 returning {_ITEM_COLUMNS}",
        item_id,
        person_id,
    )
    assert row is not None
    return _item(row)


async def fetch_retention_months(conn: asyncpg.Connection, tenant_id: uuid.UUID) -> int | None:
    value = await conn.fetchval("select months from content_retention where tenant_id = $1", tenant_id)
    return int(value) if value is not None else None


async def set_retention_months(conn: asyncpg.Connection, tenant_id: uuid.UUID, months: int) -> None:
    await conn.execute(
        "insert into content_retention (tenant_id, months) values ($1, $2)"
        " on conflict (tenant_id) do update set months = excluded.months, updated_at = now()",
        tenant_id,
        months,
    )


async def due_for_shredding(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, *, months: int, now: dt.datetime
) -> list[uuid.UUID]:
    """The tenant's closed processes (as their provider) whose retention period has ended and
    whose content key has not been shredded yet."""
    rows = await conn.fetch(
        "select p.id from processes p left join content_keys k on k.process_id = p.id"
        " where p.provider_id = $1 and p.status = 'closed' and p.closed_at is not null"
        " and p.closed_at + make_interval(months => $2) <= $3 and k.shredded_at is null"
        " order by p.closed_at, p.id",
        tenant_id,
        months,
        now,
    )
    return [r["id"] for r in rows]


# --- the retention queue (read and emptied through the relay role, across tenants) ---


async def tenants_with_closures(relay: asyncpg.Connection, *, now: dt.datetime) -> list[uuid.UUID]:
    """The tenants with a queued process closed a month or more before ``now``: no retention
    period is shorter than a month, so younger closures are not looked at."""
    rows = await relay.fetch(
        "select distinct tenant_id from content_retention_queue"
        " where closed_at <= $1::timestamptz - make_interval(months => 1)",
        now,
    )
    return [row["tenant_id"] for row in rows]


async def dequeue_shredded(relay: asyncpg.Connection, process_ids: list[uuid.UUID]) -> None:
    await relay.execute("delete from content_retention_queue where process_id = any($1)", process_ids)
