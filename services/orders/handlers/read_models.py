"""Use cases of orders' read models: what organisations' events tell of cost centres, approvers,
people, supervisors and provider tenants, and the buyer's cost centres as orders knows them."""

from __future__ import annotations

import uuid

import asyncpg

from services.orders import store
from services.orders.store import KnownCostCentre
from shared import approvers
from shared.auth.principal import APPROVER, BUYER_ADMIN, Principal
from shared.contracts.organisations import (
    ApproverAssigned,
    ApproverRemoved,
    CostCentreDeactivated,
    CostCentreFacts,
    PersonDeactivated,
    PersonFacts,
    SupervisorProfileFacts,
    TenantDeactivated,
    TenantFacts,
)
from shared.db.tenant import tenant_transaction
from shared.errors import Forbidden
from shared.events.consumer import NotYetApplicable
from shared.events.envelope import Envelope
from shared.http.pagination import decode_cursor, encode_cursor

__all__ = [
    "KnownCostCentre",
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
    "apply_tenant_deactivated",
    "apply_tenant_facts",
    "list_cost_centres",
]


class NotYetKnown(NotYetApplicable):
    """An event about a cost centre, person or supervisor arrived before its creation: retried."""


# --- read models fed by organisations events (aggregate versions never move backwards) ---


async def apply_cost_centre_created(
    conn: asyncpg.Connection, envelope: Envelope, event: CostCentreFacts
) -> None:
    tenant_id, version = envelope.tenant_ids[0], envelope.version
    await store.upsert_cost_centre(conn, tenant_id, event, version=version)


async def _require_cost_centre(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, cost_centre_id: uuid.UUID
) -> None:
    if await store.fetch_cost_centre_version(conn, tenant_id, cost_centre_id) is None:
        raise NotYetKnown(f"cost centre {cost_centre_id}")  # the consumer naks it with backoff


async def apply_cost_centre_updated(
    conn: asyncpg.Connection, envelope: Envelope, event: CostCentreFacts
) -> None:
    tenant_id, version = envelope.tenant_ids[0], envelope.version
    await _require_cost_centre(conn, tenant_id, event.cost_centre_id)
    await store.upsert_cost_centre(conn, tenant_id, event, version=version)  # known: an update


async def apply_cost_centre_deactivated(
    conn: asyncpg.Connection, envelope: Envelope, event: CostCentreDeactivated
) -> None:
    tenant_id, version = envelope.tenant_ids[0], envelope.version
    await _require_cost_centre(conn, tenant_id, event.cost_centre_id)
    await store.deactivate_cost_centre(conn, tenant_id, event.cost_centre_id, version=version)


async def apply_approver_assigned(
    conn: asyncpg.Connection, envelope: Envelope, event: ApproverAssigned
) -> None:
    await _require_cost_centre(conn, envelope.tenant_ids[0], event.cost_centre_id)
    await approvers.apply_approver_assigned(conn, envelope, event)


async def apply_approver_removed(
    conn: asyncpg.Connection, envelope: Envelope, event: ApproverRemoved
) -> None:
    await _require_cost_centre(conn, envelope.tenant_ids[0], event.cost_centre_id)
    await approvers.apply_approver_removed(conn, envelope, event)


async def apply_person_created(conn: asyncpg.Connection, envelope: Envelope, event: PersonFacts) -> None:
    tenant_id, version = envelope.tenant_ids[0], envelope.version
    await store.upsert_person(conn, tenant_id, event, version=version)


async def _require_person(conn: asyncpg.Connection, tenant_id: uuid.UUID, person_id: uuid.UUID) -> None:
    if await store.fetch_person_version(conn, tenant_id, person_id) is None:
        raise NotYetKnown(f"person {person_id}")


async def apply_person_updated(conn: asyncpg.Connection, envelope: Envelope, event: PersonFacts) -> None:
    tenant_id, version = envelope.tenant_ids[0], envelope.version
    await _require_person(conn, tenant_id, event.person_id)
    await store.upsert_person(conn, tenant_id, event, version=version)  # known: an update


async def apply_person_deactivated(
    conn: asyncpg.Connection, envelope: Envelope, event: PersonDeactivated
) -> None:
    tenant_id, version = envelope.tenant_ids[0], envelope.version
    await _require_person(conn, tenant_id, event.person_id)
    await store.deactivate_person(conn, tenant_id, event.person_id, version=version)


async def apply_supervisor_created(
    conn: asyncpg.Connection, envelope: Envelope, event: SupervisorProfileFacts
) -> None:
    tenant_id, version = envelope.tenant_ids[0], envelope.version
    await store.upsert_supervisor(conn, tenant_id, event, version=version)


async def apply_supervisor_updated(
    conn: asyncpg.Connection, envelope: Envelope, event: SupervisorProfileFacts
) -> None:
    tenant_id, version = envelope.tenant_ids[0], envelope.version
    if await store.fetch_supervisor_version(conn, tenant_id, event.person_id) is None:
        raise NotYetKnown(f"supervisor profile {event.person_id}")
    await store.upsert_supervisor(conn, tenant_id, event, version=version)  # known: an update


# --- reads ---


async def list_cost_centres(
    pool: asyncpg.Pool, principal: Principal, *, cursor: str | None, limit: int
) -> tuple[list[KnownCostCentre], str | None]:
    """The caller's tenant's cost centres as orders knows them; one more row means a next page."""
    # Budgets and approvers are the buyer's admins' and approvers' (the route's guard), never a
    # machine client's, whatever roles its token claims.
    if principal.is_client or not principal.has_role(BUYER_ADMIN, APPROVER):
        raise Forbidden("insufficient role")
    after: uuid.UUID | None = decode_cursor(cursor, uuid.UUID)[0] if cursor else None
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        rows = await store.list_cost_centres(conn, principal.tenant_id, after=after, limit=limit + 1)
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].cost_centre_id)


async def apply_tenant_facts(conn: asyncpg.Connection, envelope: Envelope, event: TenantFacts) -> None:
    """A provider tenant joined or changed: keep the catalogue buyers pick providers from."""
    version = envelope.version
    if event.kind == "provider":
        await store.upsert_provider(conn, event.tenant_id, name=event.name, active=True, version=version)


async def apply_tenant_deactivated(
    conn: asyncpg.Connection, envelope: Envelope, event: TenantDeactivated
) -> None:
    await store.deactivate_provider(conn, event.tenant_id, version=envelope.version)
