"""Webhook endpoints and their sealed secrets."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

import asyncpg

from services.integrations.store.records import Endpoint, endpoint_of

__all__ = [
    "delete_endpoint",
    "fetch_endpoint",
    "insert_endpoint",
    "list_endpoints",
    "rotate_secret",
]


# --- endpoints ---

_ENDPOINT = "endpoint_id, url, event_types, created_at, version, previous_secret_expires_at"


async def insert_endpoint(
    conn: asyncpg.Connection,
    *,
    tenant_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    url: str,
    event_types: Sequence[str],
    secret_key_id: str,
    secret_sealed: bytes,
) -> Endpoint:
    row = await conn.fetchrow(
        f"""
        insert into webhook_endpoints (tenant_id, endpoint_id, url, event_types, secret_key_id, secret_sealed)
        values ($1, $2, $3, $4, $5, $6) returning {_ENDPOINT}
        """,
        tenant_id,
        endpoint_id,
        url,
        list(event_types),
        secret_key_id,
        secret_sealed,
    )
    await conn.execute(
        "insert into webhook_schedule (endpoint_id, tenant_id, due_at) values ($1, $2, null)",
        endpoint_id,
        tenant_id,
    )
    return endpoint_of(row)


async def list_endpoints(conn: asyncpg.Connection, tenant_id: uuid.UUID) -> list[Endpoint]:
    rows = await conn.fetch(
        f"select {_ENDPOINT} from webhook_endpoints where tenant_id = $1 order by created_at, endpoint_id",
        tenant_id,
    )
    return [endpoint_of(row) for row in rows]


async def fetch_endpoint(
    conn: asyncpg.Connection,
    tenant_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    *,
    with_secrets: bool = False,
    for_update: bool = False,
) -> Endpoint | None:
    columns = _ENDPOINT + (", secret_key_id, secret_sealed, previous_secret_sealed" if with_secrets else "")
    lock = " for update" if for_update else ""
    row = await conn.fetchrow(
        f"select {columns} from webhook_endpoints where tenant_id = $1 and endpoint_id = $2{lock}",
        tenant_id,
        endpoint_id,
    )
    return None if row is None else endpoint_of(row)


async def delete_endpoint(conn: asyncpg.Connection, tenant_id: uuid.UUID, endpoint_id: uuid.UUID) -> bool:
    deleted = await conn.fetchval(
        "delete from webhook_endpoints where tenant_id = $1 and endpoint_id = $2 returning true",
        tenant_id,
        endpoint_id,
    )
    return bool(deleted)


async def rotate_secret(
    conn: asyncpg.Connection,
    tenant_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    *,
    secret_key_id: str,
    secret_sealed: bytes,
    previous_sealed: bytes | None,
    previous_expires_at: dt.datetime | None,
) -> Endpoint | None:
    """Both secrets sealed again (under one key) by the caller, the old one for its new column."""
    row = await conn.fetchrow(
        f"""
        update webhook_endpoints
        set secret_key_id = $3, secret_sealed = $4, previous_secret_sealed = $5,
          previous_secret_expires_at = $6, version = version + 1
        where tenant_id = $1 and endpoint_id = $2
        returning {_ENDPOINT}
        """,
        tenant_id,
        endpoint_id,
        secret_key_id,
        secret_sealed,
        previous_sealed,
        previous_expires_at,
    )
    return None if row is None else endpoint_of(row)
