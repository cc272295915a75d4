"""SQL of orders' read models (cost centres and approvers, people, supervisors, the provider catalogue),
fed by organisations' events."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg
import msgspec

from shared.contracts.organisations import CostCentreFacts, PersonFacts, SupervisorProfileFacts

__all__ = [
    "KnownCostCentre",
    "active_people",
    "approver_cost_centres",
    "deactivate_cost_centre",
    "deactivate_person",
    "deactivate_provider",
    "fetch_active_providers",
    "fetch_cost_centre_budget",
    "fetch_cost_centre_version",
    "fetch_person_version",
    "fetch_supervisor_version",
    "list_cost_centres",
    "supervisor_qualifications",
    "upsert_cost_centre",
    "upsert_person",
    "upsert_provider",
    "upsert_supervisor",
]


class KnownCostCentre(msgspec.Struct, frozen=True, kw_only=True):
    cost_centre_id: uuid.UUID
    code: str
    name: str
    yearly_budget_cents: int
    active: bool
    approver_ids: list[uuid.UUID]


# --- cost centres and approvers ---


async def upsert_cost_centre(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, facts: CostCentreFacts, *, version: int
) -> None:
    await conn.execute(
        """
        insert into known_cost_centres
          (tenant_id, cost_centre_id, code, name, yearly_budget_cents, active, version)
        values ($1, $2, $3, $4, $5, $6, $7)
        on conflict (tenant_id, cost_centre_id) do update
          set code = excluded.code, name = excluded.name,
              yearly_budget_cents = excluded.yearly_budget_cents, active = excluded.active,
              version = excluded.version, updated_at = now()
          where known_cost_centres.version < excluded.version
        """,
        tenant_id,
        facts.cost_centre_id,
        facts.code,
        facts.name,
        facts.yearly_budget_cents,
        facts.active,
        version,
    )


async def fetch_cost_centre_version(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, cost_centre_id: uuid.UUID
) -> int | None:
    version: int | None = await conn.fetchval(
        "select version from known_cost_centres where tenant_id = $1 and cost_centre_id = $2 for update",
        tenant_id,
        cost_centre_id,
    )
    return version


async def deactivate_cost_centre(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, cost_centre_id: uuid.UUID, *, version: int
) -> None:
    await conn.execute(
        """
        update known_cost_centres set active = false, version = $3, updated_at = now()
        where tenant_id = $1 and cost_centre_id = $2 and version < $3
        """,
        tenant_id,
        cost_centre_id,
        version,
    )


async def list_cost_centres(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, *, after: uuid.UUID | None, limit: int
) -> list[KnownCostCentre]:
    rows = await conn.fetch(
        """
        select c.cost_centre_id, c.code, c.name, c.yearly_budget_cents, c.active,
               array(select a.person_id from approver_directory a
                     where a.tenant_id = c.tenant_id and a.cost_centre_id = c.cost_centre_id
                       and a.assigned
                     order by a.person_id) as approver_ids
        from known_cost_centres c
        where c.tenant_id = $1 and ($2::uuid is null or c.cost_centre_id > $2)
        order by c.cost_centre_id limit $3
        """,
        tenant_id,
        after,
        limit,
    )
    return [
        KnownCostCentre(
            cost_centre_id=row["cost_centre_id"],
            code=row["code"],
            name=row["name"],
            yearly_budget_cents=row["yearly_budget_cents"],
            active=row["active"],
            approver_ids=list(row["approver_ids"]),
        )
        for row in rows
    ]


# --- people ---


async def upsert_person(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, facts: PersonFacts, *, version: int
) -> None:
    await conn.execute(
        """
        insert into known_people (tenant_id, person_id, roles, hr_employee_number, active, version)
        values ($1, $2, $3, $4, $5, $6)
        on conflict (tenant_id, person_id) do update
          set roles = excluded.roles, hr_employee_number = excluded.hr_employee_number,
              active = excluded.active, version = excluded.version, updated_at = now()
          where known_people.version < excluded.version
        """,
        tenant_id,
        facts.person_id,
        list(facts.roles),
        facts.hr_employee_number,
        facts.active,
        version,
    )


async def fetch_person_version(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, person_id: uuid.UUID
) -> int | None:
    version: int | None = await conn.fetchval(
        "select version from known_people where tenant_id = $1 and person_id = $2 for update",
        tenant_id,
        person_id,
    )
    return version


async def active_people(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, person_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Those of ``person_ids`` who are active people of ``tenant_id`` as orders knows them."""
    rows = await conn.fetch(
        "select person_id from known_people where tenant_id = $1 and person_id = any($2::uuid[]) and active",
        tenant_id,
        list(person_ids),
    )
    return {row["person_id"] for row in rows}


async def deactivate_person(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, person_id: uuid.UUID, *, version: int
) -> None:
    await conn.execute(
        """
        update known_people set active = false, version = $3, updated_at = now()
        where tenant_id = $1 and person_id = $2 and version < $3
        """,
        tenant_id,
        person_id,
        version,
    )


# --- supervisors ---


def _supervisor_args(facts: SupervisorProfileFacts) -> Sequence[object]:
    return (
        list(facts.forms),
        list(facts.languages),
        list(facts.regions),
        list(facts.delivery_modes),
        facts.available,
        list(facts.qualifications),
    )


async def upsert_supervisor(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, facts: SupervisorProfileFacts, *, version: int
) -> None:
    await conn.execute(
        """
        insert into known_supervisors
          (tenant_id, person_id, forms, languages, regions, delivery_modes, available, qualifications,
           version)
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        on conflict (tenant_id, person_id) do update
          set forms = excluded.forms, languages = excluded.languages, regions = excluded.regions,
              delivery_modes = excluded.delivery_modes, available = excluded.available,
              qualifications = excluded.qualifications, version = excluded.version, updated_at = now()
          where known_supervisors.version < excluded.version
        """,
        tenant_id,
        facts.person_id,
        *_supervisor_args(facts),
        version,
    )


async def fetch_supervisor_version(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, person_id: uuid.UUID
) -> int | None:
    version: int | None = await conn.fetchval(
        "select version from known_supervisors where tenant_id = $1 and person_id = $2 for update",
        tenant_id,
        person_id,
    )
    return version


# --- the provider catalogue (provider tenants buyers admit to agreements) ---


async def upsert_provider(
    conn: asyncpg.Connection, provider_id: uuid.UUID, *, name: str, active: bool, version: int
) -> None:
    await conn.execute(
        """
        insert into provider_catalogue (provider_id, name, active, version) values ($1, $2, $3, $4)
        on conflict (provider_id) do update
          set name = excluded.name, active = excluded.active, version = excluded.version, updated_at = now()
          where provider_catalogue.version < excluded.version
        """,
        provider_id,
        name,
        active,
        version,
    )


async def deactivate_provider(conn: asyncpg.Connection, provider_id: uuid.UUID, *, version: int) -> None:
    await conn.execute(
        "update provider_catalogue set active = false, version = $2, updated_at = now()"
        " where provider_id = $1 and version < $2",
        provider_id,
        version,
    )


async def fetch_active_providers(conn: asyncpg.Connection, provider_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    rows = await conn.fetch(
        "select provider_id from provider_catalogue where provider_id = any($1::uuid[]) and active",
        provider_ids,
    )
    return {row["provider_id"] for row in rows}


# --- what the order rules ask of the read models ---


async def approver_cost_centres(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, person_id: uuid.UUID
) -> frozenset[uuid.UUID]:
    """The active cost centres the person is an assigned approver of."""
    rows = await conn.fetch(
        """
        select a.cost_centre_id from approver_directory a
        join known_cost_centres c on c.tenant_id = a.tenant_id and c.cost_centre_id = a.cost_centre_id
        where a.tenant_id = $1 and a.person_id = $2 and a.assigned and c.active
        """,
        tenant_id,
        person_id,
    )
    return frozenset(row["cost_centre_id"] for row in rows)


async def fetch_cost_centre_budget(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, cost_centre_id: uuid.UUID
) -> int | None:
    """The yearly budget of an active cost centre; ``None`` if unknown or deactivated."""
    budget: int | None = await conn.fetchval(
        "select yearly_budget_cents from known_cost_centres"
        " where tenant_id = $1 and cost_centre_id = $2 and active",
        tenant_id,
        cost_centre_id,
    )
    return budget


async def supervisor_qualifications(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, person_id: uuid.UUID
) -> frozenset[str] | None:
    """The supervisor's qualification kinds if their profile is visible in ``tenant_id``, else ``None``."""
    row = await conn.fetchrow(
        "select array(select q ->> 'type' from jsonb_array_elements(qualifications) q) as kinds"
        " from known_supervisors where tenant_id = $1 and person_id = $2",
        tenant_id,
        person_id,
    )
    return frozenset(row["kinds"]) if row is not None else None
