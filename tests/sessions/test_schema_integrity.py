"""The schema itself keeps a session or content row on a process of its own tenants, and content of
a session on that session's process: a row naming another tenant's process is refused even when
written straight into the database (the check runs as the table owner, past row level security)."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from shared.db.tenant import tenant_transaction
from shared.testing.issuer import TestIssuer
from tests.sessions.support import Client, new_world, use_keyring, write


async def test_a_session_cannot_hang_on_another_tenants_process(
    sessions_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    theirs = await new_world(sessions_pool, issuer)
    mine = await new_world(sessions_pool, issuer)
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        async with tenant_transaction(sessions_pool, mine.parties.buyer_id) as conn:
            await conn.execute(
                "insert into sessions (tenant_id, id, process_id, provider_id, status, starts_at,"
                " duration_minutes, doc, version)"
                " values ($1, $2, $3, $4, 'scheduled', now(), 90, '{}'::jsonb, 1)",
                mine.parties.buyer_id,
                uuid.uuid4(),
                theirs.process_id,
                mine.parties.provider_id,
            )


async def test_content_cannot_hang_on_another_tenants_process_or_another_process_session(
    client: Client, sessions_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    use_keyring(client)
    theirs = await new_world(sessions_pool, issuer)
    mine = await new_world(sessions_pool, issuer)
    await write(client, mine, mine.supervisor(), "private_note", "mine")
    await write(client, theirs, theirs.supervisor(), "private_note", "theirs")
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        async with tenant_transaction(sessions_pool, mine.parties.provider_id) as conn:
            await conn.execute(
                "insert into content_keys (tenant_id, process_id, buyer_id, key_id, wrapped_key)"
                " values ($1, $2, $3, 'k1', '\\x00'::bytea)",
                mine.parties.provider_id,
                uuid.uuid4(),
                mine.parties.buyer_id,
            )
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        async with tenant_transaction(sessions_pool, mine.parties.provider_id) as conn:
            await conn.execute(
                "insert into content_items (tenant_id, buyer_id, id, process_id, kind, owner_id, body)"
                " values ($1, $2, $3, $4, 'private_note', $5, '\\x01'::bytea)",
                mine.parties.provider_id,
                mine.parties.buyer_id,
                uuid.uuid4(),
                theirs.process_id,
                mine.parties.supervisor_id,
            )
    # a session of the other process, written onto content of this one
    starts = "2027-01-15T09:00:00Z"
    response = await client.post(
        f"/sessions/processes/{theirs.process_id}/sessions",
        json={"startsAt": starts, "durationMinutes": 90, "mode": "remote"},
        headers=theirs.supervisor(),
    )
    assert response.status_code == 201, response.text
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        async with tenant_transaction(sessions_pool, mine.parties.provider_id) as conn:
            await conn.execute(
                "update content_items set session_id = $2 where process_id = $1",
                mine.process_id,
                uuid.UUID(response.json()["id"]),
            )
