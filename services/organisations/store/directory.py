"""SQL of what lives inside a tenant: org units, cost centres, approvers, people, supervisor profiles.

Every query names the tenant even though row-level security already scopes it: the tenant
leads every key, so the condition is also what the indexes are for. Updates are optimistic:
they name the version they replace and report whether it was still current.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection, Sequence

import asyncpg
import msgspec

from services.organisations.domain.directory import (
    CostCentre,
    DeliveryMode,
    OrgUnit,
    Person,
    Qualification,
    Role,
    SupervisionForm,
    SupervisorProfile,
)

__all__ = [
    "ApproverRow",
    "add_approver",
    "ancestors_of_org_unit",
    "bump_cost_centre_versions",
    "delete_org_unit",
    "fetch_cost_centre",
    "fetch_org_unit",
    "fetch_people",
    "fetch_person",
    "fetch_supervisor_profile",
    "insert_cost_centre",
    "insert_org_unit",
    "insert_person",
    "insert_supervisor_profile",
    "list_approvers",
    "list_cost_centres",
    "list_org_units",
    "list_people",
    "list_supervisor_profiles",
    "remove_approver",
    "remove_approver_everywhere",
    "update_cost_centre",
    "update_org_unit",
    "update_person",
    "update_supervisor_profile",
]


def _updated(status: str) -> bool:
    return status == "UPDATE 1"


# --- org units ---

_ORG_UNIT = "org_unit_id, name, parent_org_unit_id, version"


def _org_unit(row: asyncpg.Record) -> OrgUnit:
    return OrgUnit(
        org_unit_id=row["org_unit_id"],
        name=row["name"],
        parent_id=row["parent_org_unit_id"],
        version=row["version"],
    )


async def insert_org_unit(conn: asyncpg.Connection, tenant_id: uuid.UUID, unit: OrgUnit) -> None:
    await conn.execute(
        "insert into org_units (tenant_id, org_unit_id, name, parent_org_unit_id, version)"
        " values ($1, $2, $3, $4, $5)",
        tenant_id,
        unit.org_unit_id,
        unit.name,
        unit.parent_id,
        unit.version,
    )


async def fetch_org_unit(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, org_unit_id: uuid.UUID
) -> OrgUnit | None:
    row = await conn.fetchrow(
        f"select {_ORG_UNIT} from org_units where tenant_id = $1 and org_unit_id = $2", tenant_id, org_unit_id
    )
    return _org_unit(row) if row else None


async def list_org_units(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, *, after: uuid.UUID | None, limit: int
) -> list[OrgUnit]:
    rows = await conn.fetch(
        f"""
        select {_ORG_UNIT} from org_units
        where tenant_id = $1 and ($2::uuid is null or org_unit_id > $2)
        order by org_unit_id limit $3
        """,
        tenant_id,
        after,
        limit,
    )
    return [_org_unit(row) for row in rows]


async def ancestors_of_org_unit(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, org_unit_id: uuid.UUID
) -> list[uuid.UUID]:
    """The unit's parent, its parent's parent, and so on (the tree has no cycles to begin with)."""
    rows = await conn.fetch(
        """
        with recursive up (org_unit_id, parent_org_unit_id, depth) as (
          select org_unit_id, parent_org_unit_id, 0 from org_units where tenant_id = $1 and org_unit_id = $2
          union all
          select o.org_unit_id, o.parent_org_unit_id, up.depth + 1
          from org_units o join up on o.org_unit_id = up.parent_org_unit_id
          where o.tenant_id = $1
        )
        select org_unit_id from up where depth > 0 order by depth
        """,
        tenant_id,
        org_unit_id,
    )
    return [row["org_unit_id"] for row in rows]


async def update_org_unit(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, unit: OrgUnit, *, expected_version: int
) -> bool:
    status: str = await conn.execute(
        """
        update org_units set name = $3, parent_org_unit_id = $4, version = $5, updated_at = now()
        where tenant_id = $1 and org_unit_id = $2 and version = $6
        """,
        tenant_id,
        unit.org_unit_id,
        unit.name,
        unit.parent_id,
        unit.version,
        expected_version,
    )
    return _updated(status)


async def delete_org_unit(conn: asyncpg.Connection, tenant_id: uuid.UUID, org_unit_id: uuid.UUID) -> bool:
    """Raises ``ForeignKeyViolationError`` while sub-units or cost centres still sit under it."""
    status: str = await conn.execute(
        "delete from org_units where tenant_id = $1 and org_unit_id = $2", tenant_id, org_unit_id
    )
    return status == "DELETE 1"


# --- cost centres ---

_COST_CENTRE = "cost_centre_id, org_unit_id, code, name, yearly_budget_cents, active, version"


def _cost_centre(row: asyncpg.Record) -> CostCentre:
    return CostCentre(
        cost_centre_id=row["cost_centre_id"],
        org_unit_id=row["org_unit_id"],
        code=row["code"],
        name=row["name"],
        yearly_budget_cents=row["yearly_budget_cents"],
        active=row["active"],
        version=row["version"],
    )


async def insert_cost_centre(conn: asyncpg.Connection, tenant_id: uuid.UUID, cost_centre: CostCentre) -> None:
    await conn.execute(
        f"insert into cost_centres (tenant_id, {_COST_CENTRE}) values ($1, $2, $3, $4, $5, $6, $7, $8)",
        tenant_id,
        cost_centre.cost_centre_id,
        cost_centre.org_unit_id,
        cost_centre.code,
        cost_centre.name,
        cost_centre.yearly_budget_cents,
        cost_centre.active,
        cost_centre.version,
    )


async def fetch_cost_centre(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, cost_centre_id: uuid.UUID
) -> CostCentre | None:
    row = await conn.fetchrow(
        f"select {_COST_CENTRE} from cost_centres where tenant_id = $1 and cost_centre_id = $2",
        tenant_id,
        cost_centre_id,
    )
    return _cost_centre(row) if row else None


async def list_cost_centres(
    conn: asyncpg.Connection,
    tenant_id: uuid.UUID,
    *,
    after: uuid.UUID | None,
    limit: int,
    active: bool | None,
) -> list[CostCentre]:
    rows = await conn.fetch(
        f"""
        select {_COST_CENTRE} from cost_centres
        where tenant_id = $1 and ($2::uuid is null or cost_centre_id > $2)
          and ($4::boolean is null or active = $4)
        order by cost_centre_id limit $3
        """,
        tenant_id,
        after,
        limit,
        active,
    )
    return [_cost_centre(row) for row in rows]


async def update_cost_centre(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, cost_centre: CostCentre, *, expected_version: int
) -> bool:
    status: str = await conn.execute(
        """
        update cost_centres
        set org_unit_id = $3, code = $4, name = $5, yearly_budget_cents = $6, active = $7, version = $8,
            updated_at = now()
        where tenant_id = $1 and cost_centre_id = $2 and version = $9
        """,
        tenant_id,
        cost_centre.cost_centre_id,
        cost_centre.org_unit_id,
        cost_centre.code,
        cost_centre.name,
        cost_centre.yearly_budget_cents,
        cost_centre.active,
        cost_centre.version,
        expected_version,
    )
    return _updated(status)


async def bump_cost_centre_versions(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, cost_centre_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """Count a change to the cost centres' approvers; their new versions by id."""
    rows = await conn.fetch(
        """
        update cost_centres set version = version + 1, updated_at = now()
        where tenant_id = $1 and cost_centre_id = any($2::uuid[])
        returning cost_centre_id, version
        """,
        tenant_id,
        list(cost_centre_ids),
    )
    return {row["cost_centre_id"]: row["version"] for row in rows}


# --- approvers ---


class ApproverRow(msgspec.Struct, frozen=True, kw_only=True):
    person_id: uuid.UUID
    name: str
    assigned_at: dt.datetime


async def add_approver(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, cost_centre_id: uuid.UUID, person_id: uuid.UUID
) -> bool:
    """True when the person was not an approver of the cost centre yet."""
    status: str = await conn.execute(
        """
        insert into cost_centre_approvers (tenant_id, cost_centre_id, person_id) values ($1, $2, $3)
        on conflict do nothing
        """,
        tenant_id,
        cost_centre_id,
        person_id,
    )
    return status == "INSERT 0 1"


async def remove_approver(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, cost_centre_id: uuid.UUID, person_id: uuid.UUID
) -> bool:
    status: str = await conn.execute(
        "delete from cost_centre_approvers where tenant_id = $1 and cost_centre_id = $2 and person_id = $3",
        tenant_id,
        cost_centre_id,
        person_id,
    )
    return status == "DELETE 1"


async def remove_approver_everywhere(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, person_id: uuid.UUID
) -> list[uuid.UUID]:
    """Remove the person from every cost centre they approve on; those cost centres' ids."""
    rows = await conn.fetch(
        "delete from cost_centre_approvers where tenant_id = $1 and person_id = $2 returning cost_centre_id",
        tenant_id,
        person_id,
    )
    return sorted(row["cost_centre_id"] for row in rows)


async def list_approvers(
    conn: asyncpg.Connection,
    tenant_id: uuid.UUID,
    cost_centre_id: uuid.UUID,
    *,
    after: uuid.UUID | None,
    limit: int,
) -> list[ApproverRow]:
    rows = await conn.fetch(
        """
        select a.person_id, p.name, a.assigned_at
        from cost_centre_approvers a
        join people p on p.tenant_id = a.tenant_id and p.person_id = a.person_id
        where a.tenant_id = $1 and a.cost_centre_id = $2 and ($3::uuid is null or a.person_id > $3)
        order by a.person_id limit $4
        """,
        tenant_id,
        cost_centre_id,
        after,
        limit,
    )
    return [ApproverRow(person_id=r["person_id"], name=r["name"], assigned_at=r["assigned_at"]) for r in rows]


# --- people ---

_PERSON = "person_id, name, email, roles, hr_employee_number, active, version"


def _person(row: asyncpg.Record) -> Person:
    return Person(
        person_id=row["person_id"],
        name=row["name"],
        email=row["email"],
        roles=tuple(Role(role) for role in row["roles"]),
        hr_employee_number=row["hr_employee_number"],
        active=row["active"],
        version=row["version"],
    )


async def insert_person(conn: asyncpg.Connection, tenant_id: uuid.UUID, person: Person) -> None:
    await conn.execute(
        f"insert into people (tenant_id, {_PERSON}) values ($1, $2, $3, $4, $5, $6, $7, $8)",
        tenant_id,
        person.person_id,
        person.name,
        person.email,
        [role.value for role in person.roles],
        person.hr_employee_number,
        person.active,
        person.version,
    )


async def fetch_person(conn: asyncpg.Connection, tenant_id: uuid.UUID, person_id: uuid.UUID) -> Person | None:
    row = await conn.fetchrow(
        f"select {_PERSON} from people where tenant_id = $1 and person_id = $2", tenant_id, person_id
    )
    return _person(row) if row else None


async def fetch_people(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, person_ids: Collection[uuid.UUID]
) -> list[Person]:
    rows = await conn.fetch(
        f"select {_PERSON} from people where tenant_id = $1 and person_id = any($2::uuid[])",
        tenant_id,
        list(person_ids),
    )
    return [_person(row) for row in rows]


async def list_people(
    conn: asyncpg.Connection,
    tenant_id: uuid.UUID,
    *,
    after: uuid.UUID | None,
    limit: int,
    role: Role | None,
    active: bool | None,
) -> list[Person]:
    rows = await conn.fetch(
        f"""
        select {_PERSON} from people
        where tenant_id = $1 and ($2::uuid is null or person_id > $2)
          and ($4::text is null or roles @> array[$4::text])
          and ($5::boolean is null or active = $5)
        order by person_id limit $3
        """,
        tenant_id,
        after,
        limit,
        role.value if role else None,
        active,
    )
    return [_person(row) for row in rows]


async def update_person(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, person: Person, *, expected_version: int
) -> bool:
    status: str = await conn.execute(
        """
        update people
        set name = $3, email = $4, roles = $5, hr_employee_number = $6, active = $7, version = $8,
            updated_at = now()
        where tenant_id = $1 and person_id = $2 and version = $9
        """,
        tenant_id,
        person.person_id,
        person.name,
        person.email,
        [role.value for role in person.roles],
        person.hr_employee_number,
        person.active,
        person.version,
        expected_version,
    )
    return _updated(status)


# --- supervisor profiles ---

_PROFILE = "person_id, forms, languages, regions, delivery_modes, available, qualifications, version"


def _profile(row: asyncpg.Record) -> SupervisorProfile:
    return SupervisorProfile(
        person_id=row["person_id"],
        forms=tuple(SupervisionForm(form) for form in row["forms"]),
        languages=tuple(row["languages"]),
        regions=tuple(row["regions"]),
        delivery_modes=tuple(DeliveryMode(mode) for mode in row["delivery_modes"]),
        available=row["available"],
        qualifications=msgspec.convert(row["qualifications"], tuple[Qualification, ...]),
        version=row["version"],
    )


def _values(values: Sequence[str]) -> list[str]:
    return [str(value) for value in values]


async def insert_supervisor_profile(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, profile: SupervisorProfile
) -> None:
    await conn.execute(
        f"insert into supervisor_profiles (tenant_id, {_PROFILE})"
        " values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        tenant_id,
        profile.person_id,
        _values(profile.forms),
        _values(profile.languages),
        _values(profile.regions),
        _values(profile.delivery_modes),
        profile.available,
        profile.qualifications,
        profile.version,
    )


async def fetch_supervisor_profile(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, person_id: uuid.UUID
) -> SupervisorProfile | None:
    row = await conn.fetchrow(
        f"select {_PROFILE} from supervisor_profiles where tenant_id = $1 and person_id = $2",
        tenant_id,
        person_id,
    )
    return _profile(row) if row else None


async def list_supervisor_profiles(
    conn: asyncpg.Connection,
    tenant_id: uuid.UUID,
    *,
    after: uuid.UUID | None,
    limit: int,
    available: bool | None,
) -> list[SupervisorProfile]:
    rows = await conn.fetch(
        f"""
        select {_PROFILE} from supervisor_profiles
        where tenant_id = $1 and ($2::uuid is null or person_id > $2)
          and ($4::boolean is null or available = $4)
        order by person_id limit $3
        """,
        tenant_id,
        after,
        limit,
        available,
    )
    return [_profile(row) for row in rows]


async def update_supervisor_profile(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, profile: SupervisorProfile, *, expected_version: int
) -> bool:
    status: str = await conn.execute(
        """
        update supervisor_profiles
        set forms = $3, languages = $4, regions = $5, delivery_modes = $6, available = $7,
            qualifications = $8, version = $9, updated_at = now()
        where tenant_id = $1 and person_id = $2 and version = $10
        """,
        tenant_id,
        profile.person_id,
        _values(profile.forms),
        _values(profile.languages),
        _values(profile.regions),
        _values(profile.delivery_modes),
        profile.available,
        profile.qualifications,
        profile.version,
        expected_version,
    )
    return _updated(status)
