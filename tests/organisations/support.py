"""Helpers the organisations tests share (test modules import these, never each other)."""

from __future__ import annotations

import base64
import uuid

import asyncpg

from shared.db.provision import DatabaseLayout


def with_wrong_check_digit(valid: str) -> str:
    return f"{valid[:-1]}{(int(valid[-1]) + 1) % 10}"


async def outbox_payloads(layout: DatabaseLayout, tenant_id: uuid.UUID | None = None) -> list[bytes]:
    """The outbox as the relay sees it (the app role may only insert there)."""
    conn = await asyncpg.connect(layout.relay_url)
    try:
        if tenant_id is None:
            rows = await conn.fetch("select payload from outbox order by created_at")
        else:
            rows = await conn.fetch(
                "select payload from outbox where tenant_id = $1 order by created_at", tenant_id
            )
    finally:
        await conn.close()
    return [bytes(row["payload"]) for row in rows]


def basic_auth(client_id: str, secret: str) -> dict[str, str]:
    """HTTP Basic credentials of an OAuth client."""
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}
