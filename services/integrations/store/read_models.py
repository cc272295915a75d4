"""Read models of people and cost centres (for HR numbers and codes), and the tenant's settings."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg

__all__ = [
    "cost_centre_codes",
    "employee_numbers",
    "reason_code",
    "set_person_inactive",
    "set_reason_code",
    "upsert_cost_centre",
    "upsert_person",
]


# --- read models ---


async def upsert_person(
    conn: asyncpg.Connection,
    *,
    tenant_id: uuid.UUID,
    person_id: uuid.UUID,
    hr_employee_number: str | None,
    active: bool,
    version: int,
) -> None:
    await conn.execute(
        """
        insert into hr_people (tenant_id, person_id, hr_employee_number, active, version)
        values ($1, $2, $3, $4, $5)
        on conflict (tenant_id, person_id) do update
          set hr_employee_number = excluded.hr_employee_number, active = excluded.active,
              version = excluded.version
          where hr_people.version < excluded.version
        """,
        tenant_id,
        person_id,
        hr_employee_number,
        active,
        version,
    )


async def set_person_inactive(
    conn: asyncpg.Connection, *, tenant_id: uuid.UUID, person_id: uuid.UUID, version: int
) -> None:
    await conn.execute(
        """
        update hr_people set active = false, version = $3
        where tenant_id = $1 and person_id = $2 and version < $3
        """,
        tenant_id,
        person_id,
        version,
    )


async def upsert_cost_centre(
    conn: asyncpg.Connection, *, tenant_id: uuid.UUID, cost_centre_id: uuid.UUID, code: str, version: int
) -> None:
    await conn.execute(
        """
        insert into cost_centre_codes (tenant_id, cost_centre_id, code, version) values ($1, $2, $3, $4)
        on conflict (tenant_id, cost_centre_id) do update set code = excluded.code, version = excluded.version
          where cost_centre_codes.version < excluded.version
        """,
        tenant_id,
        cost_centre_id,
        code,
        version,
    )


async def employee_numbers(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, person_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str | None]:
    rows = await conn.fetch(
        "select person_id, hr_employee_number from hr_people where tenant_id = $1 and person_id = any($2)",
        tenant_id,
        list(person_ids),
    )
    return {r["person_id"]: r["hr_employee_number"] for r in rows}


async def cost_centre_codes(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, cost_centre_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    rows = await conn.fetch(
        "select cost_centre_id, code from cost_centre_codes"
        " where tenant_id = $1 and cost_centre_id = any($2)",
        tenant_id,
        list(cost_centre_ids),
    )
    return {r["cost_centre_id"]: r["code"] for r in rows}


async def reason_code(conn: asyncpg.Connection, tenant_id: uuid.UUID) -> str | None:
    code: str | None = await conn.fetchval(
        "select working_time_reason_code from tenant_settings where tenant_id = $1", tenant_id
    )
    return code


async def set_reason_code(conn: asyncpg.Connection, tenant_id: uuid.UUID, code: str) -> None:
    await conn.execute(
        """
        insert into tenant_settings (tenant_id, working_time_reason_code) values ($1, $2)
        on conflict (tenant_id) do update set working_time_reason_code = excluded.working_time_reason_code,
          version = tenant_settings.version + 1, updated_at = now()
        """,
        tenant_id,
        code,
    )
