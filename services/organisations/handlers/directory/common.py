"""What every directory use case starts with: the caller's tenant, paging, the usual refusals."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Collection
from typing import TypeVar
from zoneinfo import ZoneInfo

import asyncpg

from services.organisations.domain.directory import (
    ADMIN_ROLE,
    CostCentre,
    Person,
    Role,
)
from services.organisations.domain.tenants import Tenant, TenantKind
from services.organisations.handlers.tenants import announce
from services.organisations.store import directory as store
from services.organisations.store import tenants as tenant_store
from shared.auth.principal import Principal
from shared.contracts import organisations as contracts
from shared.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvariantViolated,
    NotFound,
)
from shared.http.pagination import decode_cursor, encode_cursor

HELSINKI = ZoneInfo("Europe/Helsinki")
BUYER_READERS = (Role.BUYER_ADMIN, Role.APPROVER)
"""Who in a buyer tenant may read its org units and cost centres."""

T = TypeVar("T")
Paged = tuple[list[T], str | None]


# --- what every use case here starts with ---


async def _tenant(
    conn: asyncpg.Connection,
    principal: Principal,
    *,
    kind: TenantKind | None = None,
    roles: Collection[str] | None = None,
    writes: bool = True,
) -> Tenant:
    """The caller's tenant, if the caller may act here; ``roles=None`` means the tenant's admin."""
    tenant = await tenant_store.fetch_tenant(conn, principal.tenant_id)
    if tenant is None:
        raise NotFound("tenant not found")
    if kind is not None and tenant.kind is not kind:
        raise Forbidden(f"only {kind} tenants keep these")
    allowed = roles if roles is not None else (ADMIN_ROLE[tenant.kind],)
    if not principal.has_role(*allowed):
        raise Forbidden("insufficient role")
    if writes and not tenant.active:
        raise Forbidden("the tenant is deactivated")
    return tenant


def _after(cursor: str | None) -> uuid.UUID | None:
    return decode_cursor(cursor, uuid.UUID)[0] if cursor else None


def _page(rows: list[T], limit: int, key: Callable[[T], uuid.UUID]) -> Paged[T]:
    """``rows`` were fetched with ``limit + 1``: one more means there is a next page."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(key(rows[-1]))


def _unknown(field: str, what: str) -> InvariantViolated:
    """A body names a row this tenant does not have (another tenant's rows included)."""
    return InvariantViolated(
        f"no such {what} in this tenant", errors=[FieldError(f"body.{field}", f"no such {what}")]
    )


def _changed_meanwhile() -> Conflict:
    return Conflict("changed by another request meanwhile; read it again and retry")


def _own_person_id(principal: Principal) -> uuid.UUID:
    # Until login links identities, a person's token carries their person id as ``sub``.
    try:
        return uuid.UUID(principal.subject)
    except ValueError:
        raise NotFound("no person record for this caller") from None


def _today() -> dt.date:
    return dt.datetime.now(HELSINKI).date()


async def _cost_centre(conn: asyncpg.Connection, tenant: Tenant, cost_centre_id: uuid.UUID) -> CostCentre:
    cost_centre = await store.fetch_cost_centre(conn, tenant.tenant_id, cost_centre_id)
    if cost_centre is None:
        raise NotFound("cost centre not found")
    return cost_centre


async def _person(conn: asyncpg.Connection, tenant: Tenant, person_id: uuid.UUID) -> Person:
    person = await store.fetch_person(conn, tenant.tenant_id, person_id)
    if person is None:
        raise NotFound("person not found")
    return person


async def _announce_approvers(
    conn: asyncpg.Connection,
    tenant: Tenant,
    cls: type[contracts.ApproverAssigned] | type[contracts.ApproverRemoved],
    cost_centre_ids: Collection[uuid.UUID],
    person_id: uuid.UUID,
) -> dict[uuid.UUID, int]:
    """An approver change is a change of each cost centre: it counts in their versions (returned)."""
    versions = await store.bump_cost_centre_versions(conn, tenant.tenant_id, cost_centre_ids)
    for cost_centre_id in sorted(versions):
        event = cls(cost_centre_id=cost_centre_id, person_id=person_id)
        await announce(
            conn, tenant.tenant_id, event, subject=cost_centre_id, version=versions[cost_centre_id]
        )
    return versions
