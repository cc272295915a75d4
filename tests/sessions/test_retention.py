"""Retention: a closed process's content is crypto-shredded when its provider's period ends."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable

import asyncpg
import msgspec
import pytest
import structlog

from services.sessions.handlers import retention
from services.sessions.handlers.retention import RETENTION_ACTOR
from services.sessions.jobs import RetentionJob, retention_pass
from services.sessions.worker import create_worker
from shared.config import ServiceSettings
from shared.db.provision import DatabaseLayout
from shared.db.tenant import tenant_transaction
from shared.testing.issuer import TestIssuer
from tests.sessions.support import (
    Client,
    World,
    body_of,
    close_process,
    new_world,
    use_keyring,
    write,
)

NOW = dt.datetime.now(dt.UTC)


def _months_ago(months: int) -> dt.datetime:
    return NOW - dt.timedelta(days=31 * months)


async def _pass(pool: asyncpg.Pool, layout: DatabaseLayout, now: dt.datetime) -> list[uuid.UUID]:
    return await retention_pass(pool, layout.relay_url, default_months=12, now=now)


async def _closed_world_with_content(
    client: Client, pool: asyncpg.Pool, issuer: TestIssuer, closed_at: dt.datetime
) -> tuple[World, dict[str, object]]:
    world = await new_world(pool, issuer)
    item = await write(client, world, world.supervisor(), "shared_note", "kept until the period ends")
    await write(client, world, world.participant(), "reflection", "mine")
    await close_process(pool, world, closed_at)
    return world, item


async def _queued(layout: DatabaseLayout, world: World) -> bool:
    conn = await asyncpg.connect(layout.relay_url)
    try:
        return bool(
            await conn.fetchval(
                "select count(*) from content_retention_queue where process_id = $1", world.process_id
            )
        )
    finally:
        await conn.close()


async def test_after_the_period_nothing_decrypts_and_the_frame_stays(
    client: Client, sessions_pool: asyncpg.Pool, issuer: TestIssuer, layout: DatabaseLayout
) -> None:
    keyring = use_keyring(client)
    world, item = await _closed_world_with_content(client, sessions_pool, issuer, _months_ago(13))
    assert await _queued(layout, world)
    # Before the job runs the content is still there.
    body_of(await client.get(f"{world.base}/content/{item['id']}", headers=world.participant()), 200)

    shredded = await _pass(sessions_pool, layout, NOW)
    assert world.process_id in shredded

    for headers in (world.supervisor(), world.participant()):
        gone = await client.get(f"{world.base}/content/{item['id']}", headers=headers)
        assert gone.status_code == 410
        assert "kept until" not in gone.text
        assert (await client.get(f"{world.base}/content", headers=headers)).status_code == 410
    again = await client.post(
        f"{world.base}/content", json={"kind": "shared_note", "body": "x"}, headers=world.supervisor()
    )
    assert again.status_code == 410
    status = body_of(await client.get(f"{world.base}/content-status", headers=world.supervisor()), 200)
    assert status["shredded"] is True
    # The frame remains: the process is still read by its supervisor.
    frame = body_of(
        await client.get(f"/sessions/processes/{world.process_id}", headers=world.supervisor()), 200
    )
    assert frame["status"] == "closed"
    async with tenant_transaction(sessions_pool, world.parties.provider_id) as conn:
        key = await conn.fetchrow("select * from content_keys where process_id = $1", world.process_id)
        ciphertexts = await conn.fetchval(
            "select count(*) from content_items where process_id = $1", world.process_id
        )
        audit = await conn.fetch(
            "select actor, action from content_audit"
            " where tenant_id = $1 and process_id = $2 and action = 'shred'",
            world.parties.provider_id,
            world.process_id,
        )
    assert key["wrapped_key"] is None
    assert key["shredded_at"] is not None
    assert ciphertexts == 2  # still stored, and unreadable by anyone
    assert [(a["actor"], a["action"]) for a in audit] == [(RETENTION_ACTOR, "shred")]
    assert key["key_id"] in keyring.key_ids  # the record of which key it was stays
    assert not await _queued(layout, world)


async def test_within_the_period_nothing_is_shredded(
    client: Client, sessions_pool: asyncpg.Pool, issuer: TestIssuer, layout: DatabaseLayout
) -> None:
    use_keyring(client)
    world, item = await _closed_world_with_content(client, sessions_pool, issuer, _months_ago(11))
    open_world = await new_world(sessions_pool, issuer)
    await write(client, open_world, open_world.supervisor(), "shared_note", "an open process")
    shredded = await _pass(sessions_pool, layout, NOW)
    assert world.process_id not in shredded
    assert open_world.process_id not in shredded
    body_of(await client.get(f"{world.base}/content/{item['id']}", headers=world.supervisor()), 200)
    assert await _queued(layout, world)


async def test_a_provider_sets_its_own_period(
    client: Client, sessions_pool: asyncpg.Pool, issuer: TestIssuer, layout: DatabaseLayout
) -> None:
    use_keyring(client)
    world, item = await _closed_world_with_content(client, sessions_pool, issuer, _months_ago(3))
    admin = world.headers(world.parties.provider_id, "8f9c3c3e-0000-7000-8000-000000000001", "provider_admin")
    refused = await client.put("/sessions/content-retention", json={"months": 2}, headers=world.supervisor())
    assert refused.status_code == 403
    assert (
        await client.put("/sessions/content-retention", json={"months": 0}, headers=admin)
    ).status_code == 400
    assert body_of(
        await client.put("/sessions/content-retention", json={"months": 2}, headers=admin), 200
    ) == {"months": 2}
    assert world.process_id in await _pass(sessions_pool, layout, NOW)
    gone = await client.get(f"{world.base}/content/{item['id']}", headers=world.supervisor())
    assert gone.status_code == 410


async def test_the_sessions_worker_runs_the_retention_job(
    client: Client,
    sessions_pool: asyncpg.Pool,
    issuer: TestIssuer,
    settings_for: Callable[[str], ServiceSettings],
) -> None:
    use_keyring(client)
    world, item = await _closed_world_with_content(client, sessions_pool, issuer, _months_ago(30))
    worker = create_worker(settings_for("sessions"))
    assert any(isinstance(job, RetentionJob) for job in worker.jobs)
    tasks = await worker.start()
    try:
        assert any(t.get_name() == "sessions-retention" for t in tasks)
        for _ in range(100):
            response = await client.get(f"{world.base}/content/{item['id']}", headers=world.supervisor())
            if response.status_code == 410:
                break
            await asyncio.sleep(0.1)
        assert response.status_code == 410
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await worker.close()


async def test_one_tenants_failure_does_not_stop_the_pass_for_the_others(
    client: Client,
    sessions_pool: asyncpg.Pool,
    issuer: TestIssuer,
    layout: DatabaseLayout,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_keyring(client)
    broken, _ = await _closed_world_with_content(client, sessions_pool, issuer, _months_ago(30))
    healthy, item = await _closed_world_with_content(client, sessions_pool, issuer, _months_ago(30))
    real = retention.shred_due

    async def failing_for_one_tenant(
        pool: asyncpg.Pool, tenant_id: uuid.UUID, *, default_months: int, now: dt.datetime
    ) -> list[uuid.UUID]:
        if tenant_id == broken.parties.provider_id:
            raise RuntimeError("this tenant's pass fails")
        return await real(pool, tenant_id, default_months=default_months, now=now)

    monkeypatch.setattr(retention, "shred_due", failing_for_one_tenant)
    with structlog.testing.capture_logs() as logs:
        shredded = await _pass(sessions_pool, layout, NOW)
    assert healthy.process_id in shredded
    assert broken.process_id not in shredded
    assert (
        await client.get(f"{healthy.base}/content/{item['id']}", headers=healthy.supervisor())
    ).status_code == 410
    failed = [e for e in logs if e["event"] == "retention_tenant_failed"]
    assert failed == [
        {
            "event": "retention_tenant_failed",
            "log_level": "warning",
            "tenant_id": str(broken.parties.provider_id),
            "error_type": "RuntimeError",
        }
    ]
    assert await _queued(layout, broken)  # still queued: the next pass tries it again


async def test_the_sessions_worker_refuses_to_start_without_the_relay_database(
    settings_for: Callable[[str], ServiceSettings],
) -> None:
    settings = msgspec.structs.replace(settings_for("sessions"), relay_database_url="")
    with pytest.raises(RuntimeError, match="RELAY_DATABASE_URL"):
        await create_worker(settings).start()
