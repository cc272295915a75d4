"""The tenant's standing (deactivated tenants answer 403) and its settings (the working-time
reason code). One transaction each."""

from __future__ import annotations

import re
import uuid

import asyncpg

from services.integrations import store
from services.integrations.domain import catalogue
from shared.auth.principal import Principal
from shared.db.tenant import tenant_transaction
from shared.errors import DomainError, FieldError, Forbidden
from shared.tenancy import fetch_known_tenant

__all__ = [
    "check_tenant_active",
    "read_reason_code",
    "set_reason_code",
    "tenant_active",
]

# --- tenants ---


async def tenant_active(conn: asyncpg.Connection, tenant_id: uuid.UUID) -> bool:
    """False once organisations announced the tenant's deactivation (final: the contracts have
    no reactivation). A tenant this service has not heard of yet counts as active."""
    known = await fetch_known_tenant(conn, tenant_id)
    return known is None or known.active


async def check_tenant_active(pool: asyncpg.Pool, principal: Principal) -> None:
    """Every route of a deactivated tenant answers 403, also to its tokens issued before."""
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        active = await tenant_active(conn, principal.tenant_id)
    if not active:
        raise Forbidden("the tenant is deactivated")


# --- settings ---

_REASON_CODE = re.compile(r"^[A-Za-z0-9_\-]{1,32}$")


async def read_reason_code(pool: asyncpg.Pool, principal: Principal) -> str:
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        return await store.reason_code(conn, principal.tenant_id) or catalogue.DEFAULT_REASON_CODE


async def set_reason_code(pool: asyncpg.Pool, principal: Principal, code: str) -> str:
    if not _REASON_CODE.match(code):
        raise DomainError(
            "invalid reason code",
            errors=[FieldError("body.workingTimeReasonCode", "1–32 letters, digits, - or _")],
        )
    async with tenant_transaction(pool, principal.tenant_id) as conn:
        await store.set_reason_code(conn, principal.tenant_id, code)
    return code
