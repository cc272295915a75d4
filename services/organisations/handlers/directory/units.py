"""Use cases for a buyer's org units, cost centres and the approvers of a cost centre."""

from __future__ import annotations

import uuid
from typing import TypeVar

import asyncpg
from msgspec import UNSET, UnsetType

from services.organisations.domain.directory import (
    CostCentre,
    CostCentreChanges,
    OrgUnit,
    change_cost_centre,
    change_org_unit,
    check_may_approve,
    deactivate_cost_centre,
    new_cost_centre,
    new_org_unit,
)
from services.organisations.domain.tenants import Tenant, TenantKind
from services.organisations.handlers.directory.common import (
    BUYER_READERS,
    Paged,
    _after,
    _announce_approvers,
    _changed_meanwhile,
    _cost_centre,
    _page,
    _person,
    _tenant,
    _unknown,
)
from services.organisations.handlers.tenants import announce
from services.organisations.store import directory as store
from services.organisations.store.directory import ApproverRow
from shared.auth.principal import Principal
from shared.contracts import organisations as contracts
from shared.db.tenant import tenant_transaction
from shared.errors import (
    Conflict,
    FieldError,
    NotFound,
    check_version,
    fields_at,
)
from shared.ids import new_id

__all__ = [
    "assign_approver",
    "create_cost_centre",
    "create_org_unit",
    "deactivate_cost_centre_by_id",
    "delete_org_unit",
    "get_cost_centre",
    "get_org_unit",
    "list_approvers",
    "list_cost_centres",
    "list_org_units",
    "remove_approver",
    "update_cost_centre",
    "update_org_unit",
]


# --- org units ---


async def create_org_unit(
    pool: asyncpg.Pool, principal: Principal, *, name: str, parent_id: uuid.UUID | None
) -> OrgUnit:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await _tenant(conn, principal, kind=TenantKind.BUYER)
        if parent_id is not None and await store.fetch_org_unit(conn, tenant.tenant_id, parent_id) is None:
            raise _unknown("parentId", "org unit")
        with fields_at("body"):
            unit = new_org_unit(new_id(), name=name, parent_id=parent_id)
        await store.insert_org_unit(conn, tenant.tenant_id, unit)
    return unit


async def list_org_units(
    pool: asyncpg.Pool, principal: Principal, *, cursor: str | None, limit: int
) -> Paged[OrgUnit]:
    after = _after(cursor)
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await _tenant(conn, principal, kind=TenantKind.BUYER, roles=BUYER_READERS, writes=False)
        units = await store.list_org_units(conn, tenant.tenant_id, after=after, limit=limit + 1)
    return _page(units, limit, lambda unit: unit.org_unit_id)


async def get_org_unit(pool: asyncpg.Pool, principal: Principal, org_unit_id: uuid.UUID) -> OrgUnit:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await _tenant(conn, principal, kind=TenantKind.BUYER, roles=BUYER_READERS, writes=False)
        unit = await store.fetch_org_unit(conn, tenant.tenant_id, org_unit_id)
    if unit is None:
        raise NotFound("org unit not found")
    return unit


async def update_org_unit(
    pool: asyncpg.Pool,
    principal: Principal,
    org_unit_id: uuid.UUID,
    *,
    name: str | UnsetType = UNSET,
    parent_id: uuid.UUID | UnsetType | None = UNSET,
    expected_version: int | None = None,
) -> OrgUnit:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await _tenant(conn, principal, kind=TenantKind.BUYER)
        unit = await store.fetch_org_unit(conn, tenant.tenant_id, org_unit_id)
        if unit is None:
            raise NotFound("org unit not found")
        check_version(unit.version, expected_version)
        ancestors: list[uuid.UUID] = []
        if isinstance(parent_id, uuid.UUID):
            if await store.fetch_org_unit(conn, tenant.tenant_id, parent_id) is None:
                raise _unknown("parentId", "org unit")
            ancestors = await store.ancestors_of_org_unit(conn, tenant.tenant_id, parent_id)
        with fields_at("body"):
            changed = change_org_unit(unit, name=name, parent_id=parent_id, ancestors_of_parent=ancestors)
        if changed is unit:
            return unit
        if not await store.update_org_unit(conn, tenant.tenant_id, changed, expected_version=unit.version):
            raise _changed_meanwhile()
    return changed


async def delete_org_unit(
    pool: asyncpg.Pool,
    principal: Principal,
    org_unit_id: uuid.UUID,
    *,
    expected_version: int | None = None,
) -> None:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await _tenant(conn, principal, kind=TenantKind.BUYER)
        if expected_version is not None:
            unit = await store.fetch_org_unit(conn, tenant.tenant_id, org_unit_id)
            if unit is None:
                raise NotFound("org unit not found")
            check_version(unit.version, expected_version)
        try:
            deleted = await store.delete_org_unit(conn, tenant.tenant_id, org_unit_id)
        except asyncpg.ForeignKeyViolationError:
            raise Conflict("the org unit still has sub-units or cost centres") from None
    if not deleted:
        raise NotFound("org unit not found")


# --- cost centres ---

CF = TypeVar("CF", bound=contracts.CostCentreFacts)


def _cost_centre_event(cls: type[CF], cost_centre: CostCentre) -> CF:
    return cls(
        cost_centre_id=cost_centre.cost_centre_id,
        org_unit_id=cost_centre.org_unit_id,
        code=cost_centre.code,
        name=cost_centre.name,
        yearly_budget_cents=cost_centre.yearly_budget_cents,
        active=cost_centre.active,
    )


def _code_taken() -> Conflict:
    return Conflict(
        "another cost centre of this tenant has the code", errors=[FieldError("body.code", "already in use")]
    )


async def create_cost_centre(
    pool: asyncpg.Pool,
    principal: Principal,
    *,
    org_unit_id: uuid.UUID,
    code: str,
    name: str,
    yearly_budget_cents: int,
) -> CostCentre:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await _tenant(conn, principal, kind=TenantKind.BUYER)
        if await store.fetch_org_unit(conn, tenant.tenant_id, org_unit_id) is None:
            raise _unknown("orgUnitId", "org unit")
        with fields_at("body"):
            cost_centre = new_cost_centre(
                new_id(),
                org_unit_id=org_unit_id,
                code=code,
                name=name,
                yearly_budget_cents=yearly_budget_cents,
            )
        try:
            await store.insert_cost_centre(conn, tenant.tenant_id, cost_centre)
        except asyncpg.UniqueViolationError:
            raise _code_taken() from None
        await announce(
            conn,
            tenant.tenant_id,
            _cost_centre_event(contracts.CostCentreCreated, cost_centre),
            subject=cost_centre.cost_centre_id,
            version=cost_centre.version,
        )
    return cost_centre


async def list_cost_centres(
    pool: asyncpg.Pool, principal: Principal, *, cursor: str | None, limit: int, active: bool | None
) -> Paged[CostCentre]:
    after = _after(cursor)
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await _tenant(conn, principal, kind=TenantKind.BUYER, roles=BUYER_READERS, writes=False)
        rows = await store.list_cost_centres(
            conn, tenant.tenant_id, after=after, limit=limit + 1, active=active
        )
    return _page(rows, limit, lambda cost_centre: cost_centre.cost_centre_id)


async def get_cost_centre(pool: asyncpg.Pool, principal: Principal, cost_centre_id: uuid.UUID) -> CostCentre:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await _tenant(conn, principal, kind=TenantKind.BUYER, roles=BUYER_READERS, writes=False)
        return await _cost_centre(conn, tenant, cost_centre_id)


async def _save_cost_centre(
    conn: asyncpg.Connection, tenant: Tenant, before: CostCentre, after: CostCentre
) -> None:
    try:
        saved = await store.update_cost_centre(conn, tenant.tenant_id, after, expected_version=before.version)
    except asyncpg.UniqueViolationError:
        raise _code_taken() from None
    if not saved:
        raise _changed_meanwhile()


async def update_cost_centre(
    pool: asyncpg.Pool,
    principal: Principal,
    cost_centre_id: uuid.UUID,
    changes: CostCentreChanges,
    *,
    expected_version: int | None = None,
) -> CostCentre:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await _tenant(conn, principal, kind=TenantKind.BUYER)
        cost_centre = await _cost_centre(conn, tenant, cost_centre_id)
        check_version(cost_centre.version, expected_version)
        if isinstance(changes.org_unit_id, uuid.UUID) and (
            await store.fetch_org_unit(conn, tenant.tenant_id, changes.org_unit_id) is None
        ):
            raise _unknown("orgUnitId", "org unit")
        with fields_at("body"):
            changed = change_cost_centre(cost_centre, changes)
        if changed is cost_centre:
            return cost_centre
        await _save_cost_centre(conn, tenant, cost_centre, changed)
        await announce(
            conn,
            tenant.tenant_id,
            _cost_centre_event(contracts.CostCentreUpdated, changed),
            subject=changed.cost_centre_id,
            version=changed.version,
        )
    return changed


async def deactivate_cost_centre_by_id(
    pool: asyncpg.Pool,
    principal: Principal,
    cost_centre_id: uuid.UUID,
    *,
    expected_version: int | None = None,
) -> CostCentre:
    """No new orders on it; approvers stay recorded, as history of who could approve."""
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await _tenant(conn, principal, kind=TenantKind.BUYER)
        cost_centre = await _cost_centre(conn, tenant, cost_centre_id)
        check_version(cost_centre.version, expected_version)
        deactivated = deactivate_cost_centre(cost_centre)
        if deactivated is cost_centre:
            return cost_centre
        await _save_cost_centre(conn, tenant, cost_centre, deactivated)
        event = contracts.CostCentreDeactivated(cost_centre_id=cost_centre_id)
        await announce(conn, tenant.tenant_id, event, subject=cost_centre_id, version=deactivated.version)
    return deactivated


# --- approvers ---


async def list_approvers(
    pool: asyncpg.Pool, principal: Principal, cost_centre_id: uuid.UUID, *, cursor: str | None, limit: int
) -> Paged[ApproverRow]:
    after = _after(cursor)
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await _tenant(conn, principal, kind=TenantKind.BUYER, roles=BUYER_READERS, writes=False)
        await _cost_centre(conn, tenant, cost_centre_id)
        rows = await store.list_approvers(
            conn, tenant.tenant_id, cost_centre_id, after=after, limit=limit + 1
        )
    return _page(rows, limit, lambda row: row.person_id)


async def assign_approver(
    pool: asyncpg.Pool,
    principal: Principal,
    cost_centre_id: uuid.UUID,
    person_id: uuid.UUID,
    *,
    expected_version: int | None = None,
) -> int:
    """Idempotent: assigning an approver twice changes nothing and announces nothing. An approver
    change is a change of the cost centre (``expected_version`` is its); its version after."""
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await _tenant(conn, principal, kind=TenantKind.BUYER)
        cost_centre = await _cost_centre(conn, tenant, cost_centre_id)
        check_version(cost_centre.version, expected_version)
        if not cost_centre.active:
            raise Conflict("a deactivated cost centre gets no new approvers")
        person = await _person(conn, tenant, person_id)
        with fields_at("path"):
            check_may_approve(person)
        if not await store.add_approver(conn, tenant.tenant_id, cost_centre_id, person_id):
            return cost_centre.version
        versions = await _announce_approvers(
            conn, tenant, contracts.ApproverAssigned, [cost_centre_id], person_id
        )
    return versions[cost_centre_id]


async def remove_approver(
    pool: asyncpg.Pool,
    principal: Principal,
    cost_centre_id: uuid.UUID,
    person_id: uuid.UUID,
    *,
    expected_version: int | None = None,
) -> int:
    """The cost centre's version after (``expected_version`` is the cost centre's too)."""
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        tenant = await _tenant(conn, principal, kind=TenantKind.BUYER)
        cost_centre = await _cost_centre(conn, tenant, cost_centre_id)
        check_version(cost_centre.version, expected_version)
        if not await store.remove_approver(conn, tenant.tenant_id, cost_centre_id, person_id):
            raise NotFound("the person is not an approver of this cost centre")
        versions = await _announce_approvers(
            conn, tenant, contracts.ApproverRemoved, [cost_centre_id], person_id
        )
    return versions[cost_centre_id]
