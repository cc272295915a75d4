"""The orders service's use cases: the only code that writes its tables."""

from __future__ import annotations

import uuid

import asyncpg

from services.orders import store
from services.orders.store import KnownCostCentre
from shared.auth.principal import Principal
from shared.contracts.organisations import (
    ApproverAssigned,
    ApproverRemoved,
    CostCentreDeactivated,
    CostCentreFacts,
    PersonDeactivated,
    PersonFacts,
    SupervisorProfileFacts,
)
from shared.db.tenant import tenant_transaction
from shared.http.pagination import decode_cursor, encode_cursor

__all__ = [
    "NotYetKnown",
    "apply_approver_assigned",
    "apply_approver_removed",
    "apply_cost_centre_created",
    "apply_cost_centre_deactivated",
    "apply_cost_centre_updated",
    "apply_person_created",
    "apply_person_deactivated",
    "apply_person_updated",
    "apply_supervisor_created",
    "apply_supervisor_updated",
    "list_cost_centres",
]


class NotYetKnown(Exception):
    """An event about a cost centre, person or supervisor arrived before its creation: retried."""


# --- read models fed by organisations events (aggregate versions never move backwards) ---


async def apply_cost_centre_created(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, event: CostCentreFacts, *, version: int
) -> None:
    await store.upsert_cost_centre(conn, tenant_id, event, version=version)


async def _require_cost_centre(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, cost_centre_id: uuid.UUID
) -> None:
    if await store.fetch_cost_centre_version(conn, tenant_id, cost_centre_id) is None:
        raise NotYetKnown(f"cost centre {cost_centre_id}")  # the consumer naks it with backoff


async def apply_cost_centre_updated(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, event: CostCentreFacts, *, version: int
) -> None:
    await _require_cost_centre(conn, tenant_id, event.cost_centre_id)
    await store.update_cost_centre(conn, tenant_id, event, version=version)


async def apply_cost_centre_deactivated(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, event: CostCentreDeactivated, *, version: int
) -> None:
    await _require_cost_centre(conn, tenant_id, event.cost_centre_id)
    await store.deactivate_cost_centre(conn, tenant_id, event.cost_centre_id, version=version)


async def apply_approver_assigned(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, event: ApproverAssigned, *, version: int
) -> None:
    # Approver events carry the cost centre's version: it orders them per (cost centre, person).
    await _require_cost_centre(conn, tenant_id, event.cost_centre_id)
    await store.set_approver(
        conn, tenant_id, event.cost_centre_id, event.person_id, assigned=True, version=version
    )


async def apply_approver_removed(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, event: ApproverRemoved, *, version: int
) -> None:
    await _require_cost_centre(conn, tenant_id, event.cost_centre_id)
    await store.set_approver(
        conn, tenant_id, event.cost_centre_id, event.person_id, assigned=False, version=version
    )


async def apply_person_created(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, event: PersonFacts, *, version: int
) -> None:
    await store.upsert_person(conn, tenant_id, event, version=version)


async def _require_person(conn: asyncpg.Connection, tenant_id: uuid.UUID, person_id: uuid.UUID) -> None:
    if await store.fetch_person_version(conn, tenant_id, person_id) is None:
        raise NotYetKnown(f"person {person_id}")


async def apply_person_updated(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, event: PersonFacts, *, version: int
) -> None:
    await _require_person(conn, tenant_id, event.person_id)
    await store.update_person(conn, tenant_id, event, version=version)


async def apply_person_deactivated(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, event: PersonDeactivated, *, version: int
) -> None:
    await _require_person(conn, tenant_id, event.person_id)
    await store.deactivate_person(conn, tenant_id, event.person_id, version=version)


async def apply_supervisor_created(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, event: SupervisorProfileFacts, *, version: int
) -> None:
    await store.upsert_supervisor(conn, tenant_id, event, version=version)


async def apply_supervisor_updated(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, event: SupervisorProfileFacts, *, version: int
) -> None:
    if await store.fetch_supervisor_version(conn, tenant_id, event.person_id) is None:
        raise NotYetKnown(f"supervisor profile {event.person_id}")
    await store.update_supervisor(conn, tenant_id, event, version=version)


# --- reads ---


async def list_cost_centres(
    pool: asyncpg.Pool, principal: Principal, *, cursor: str | None, limit: int
) -> tuple[list[KnownCostCentre], str | None]:
    """The caller's tenant's cost centres as orders knows them; one more row means a next page."""
    after: uuid.UUID | None = decode_cursor(cursor, uuid.UUID)[0] if cursor else None
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        rows = await store.list_cost_centres(conn, principal.tenant_id, after=after, limit=limit + 1)
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].cost_centre_id)
