"""The approver directory: a service's own read model of who approves on which cost centre.

Orders, sessions and billing each scope what an approver sees to the cost centres they hold; the
table, its versioned upsert and its event handlers live here once, applied to each of their
databases like :mod:`shared.tenancy`.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import asyncpg

from shared.contracts.organisations import ApproverAssigned, ApproverRemoved
from shared.db.migrate import MigrationSource
from shared.events.consumer import On, on
from shared.events.envelope import Envelope

__all__ = [
    "APPROVER_HANDLERS",
    "MIGRATIONS",
    "apply_approver_assigned",
    "apply_approver_removed",
    "assigned_cost_centres",
    "set_approver",
]

MIGRATIONS = MigrationSource("approvers", Path(__file__).parent / "migrations")


async def set_approver(
    conn: asyncpg.Connection,
    tenant_id: uuid.UUID,
    cost_centre_id: uuid.UUID,
    person_id: uuid.UUID,
    *,
    assigned: bool,
    version: int,
) -> None:
    """Record an assignment or a removal unless a newer one of the same pair is known."""
    await conn.execute(
        """
        insert into approver_directory (tenant_id, cost_centre_id, person_id, assigned, version)
        values ($1, $2, $3, $4, $5)
        on conflict (tenant_id, cost_centre_id, person_id) do update
          set assigned = excluded.assigned, version = excluded.version
          where approver_directory.version < excluded.version
        """,
        tenant_id,
        cost_centre_id,
        person_id,
        assigned,
        version,
    )


async def assigned_cost_centres(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, person_id: uuid.UUID
) -> frozenset[uuid.UUID]:
    """The cost centres the person is currently an assigned approver of."""
    rows = await conn.fetch(
        "select cost_centre_id from approver_directory where tenant_id = $1 and person_id = $2 and assigned",
        tenant_id,
        person_id,
    )
    return frozenset(row["cost_centre_id"] for row in rows)


async def _record(
    conn: asyncpg.Connection, envelope: Envelope, event: ApproverAssigned | ApproverRemoved, *, assigned: bool
) -> None:
    # Approver events carry the cost centre's version: it orders them per (cost centre, person).
    tenant_id, version = envelope.tenant_ids[0], envelope.version
    await set_approver(
        conn, tenant_id, event.cost_centre_id, event.person_id, assigned=assigned, version=version
    )


async def apply_approver_assigned(
    conn: asyncpg.Connection, envelope: Envelope, event: ApproverAssigned
) -> None:
    await _record(conn, envelope, event, assigned=True)


async def apply_approver_removed(
    conn: asyncpg.Connection, envelope: Envelope, event: ApproverRemoved
) -> None:
    await _record(conn, envelope, event, assigned=False)


APPROVER_HANDLERS: tuple[On[Any], ...] = (
    on(ApproverAssigned, apply_approver_assigned),
    on(ApproverRemoved, apply_approver_removed),
)
"""What keeps the approver directory current, for a subscription on organisations' cost centre events."""
