"""Every content access is audited, append-only and hash-chained, and tampering is found."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from services.sessions.api.content import CONTENT_KEYRING_STATE_KEY
from services.sessions.handlers import content as content_handlers
from services.sessions.handlers.content import verify_audit
from services.sessions.store import content as content_store
from shared.auth.principal import Principal
from shared.db.provision import DatabaseLayout
from shared.db.tenant import tenant_transaction
from shared.testing.issuer import TestIssuer
from shared.testing.plugin import Stack
from tests.sessions.support import Client, World, body_of, new_world, use_keyring, write
from tila.cli import main

SECRET = "Audit-canary 7f3e: nobody reads this twice"


async def _entries(pool: asyncpg.Pool, tenant_id: uuid.UUID) -> list[asyncpg.Record]:
    async with tenant_transaction(pool, tenant_id) as conn:
        return list(
            await conn.fetch("select * from content_audit where tenant_id = $1 order by seq", tenant_id)
        )


async def _world(client: Client, pool: asyncpg.Pool, issuer: TestIssuer) -> World:
    use_keyring(client)
    return await new_world(pool, issuer)


async def test_reads_and_writes_allowed_or_refused_are_in_the_callers_tenants_chain(
    client: Client, sessions_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    world = await _world(client, sessions_pool, issuer)
    note = await write(client, world, world.supervisor(), "private_note", SECRET)
    body_of(await client.get(f"{world.base}/content/{note['id']}", headers=world.supervisor()), 200)
    refused = await client.get(f"{world.base}/content/{note['id']}", headers=world.buyer_admin())
    assert refused.status_code == 403
    missing = await client.get(f"{world.base}/content/{uuid.uuid4()}", headers=world.participant())
    assert missing.status_code == 404

    provider = [
        (r["action"], r["outcome"], r["item_id"], r["kind"], r["process_id"])
        for r in await _entries(sessions_pool, world.parties.provider_id)
    ]
    assert provider == [
        ("create", "allowed", uuid.UUID(note["id"]), "private_note", world.process_id),
        ("read", "allowed", uuid.UUID(note["id"]), "private_note", world.process_id),
    ]
    buyer = [
        (r["action"], r["outcome"], r["kind"]) for r in await _entries(sessions_pool, world.parties.buyer_id)
    ]
    assert buyer == [("read", "denied", "private_note"), ("read", "not_found", None)]
    buyer_actors = {r["actor"] for r in await _entries(sessions_pool, world.parties.buyer_id)}
    assert str(world.parties.participants[0]) in buyer_actors
    for tenant in (world.parties.provider_id, world.parties.buyer_id):
        check = await verify_audit(sessions_pool, tenant)
        assert check.ok
        for row in await _entries(sessions_pool, tenant):
            assert SECRET not in " ".join(str(v) for v in dict(row).values())


async def test_another_tenants_ids_are_audited_as_not_found(
    client: Client, sessions_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    world = await _world(client, sessions_pool, issuer)
    stranger_tenant = uuid.uuid4()
    headers = world.headers(stranger_tenant, str(uuid.uuid4()), "supervisor")
    assert (await client.get(f"{world.base}/content", headers=headers)).status_code == 404
    [entry] = await _entries(sessions_pool, stranger_tenant)
    assert (entry["action"], entry["outcome"], entry["process_id"]) == ("list", "not_found", world.process_id)


async def test_the_app_role_can_neither_change_nor_remove_an_entry(
    client: Client, sessions_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    world = await _world(client, sessions_pool, issuer)
    await write(client, world, world.supervisor(), "shared_note", "x")
    tenant = world.parties.provider_id
    for statement in (
        "update content_audit set outcome = 'denied' where tenant_id = $1",
        "delete from content_audit where tenant_id = $1",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            async with tenant_transaction(sessions_pool, tenant) as conn:
                await conn.execute(statement, tenant)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with tenant_transaction(sessions_pool, tenant) as conn:
            await conn.execute("truncate content_audit")
    assert len(await _entries(sessions_pool, tenant)) == 1


async def _tamper(stack: Stack, layout: DatabaseLayout, statement: str, *args: object) -> None:
    """What someone with the database superuser could do: bypass the trigger and change history."""
    conn = await asyncpg.connect(stack.pg_admin_url.rsplit("/", 1)[0] + "/" + layout.database)
    try:
        async with conn.transaction():
            await conn.execute("set local session_replication_role = replica")  # triggers off
            await conn.execute(statement, *args)
    finally:
        await conn.close()


async def _chain_of_four(client: Client, world: World) -> None:
    note = await write(client, world, world.supervisor(), "shared_note", "four")
    for _ in range(3):
        body_of(await client.get(f"{world.base}/content/{note['id']}", headers=world.supervisor()), 200)


async def test_verification_finds_an_edited_entry(
    client: Client, sessions_pool: asyncpg.Pool, issuer: TestIssuer, stack: Stack, layout: DatabaseLayout
) -> None:
    world = await _world(client, sessions_pool, issuer)
    await _chain_of_four(client, world)
    tenant = world.parties.provider_id
    assert (await verify_audit(sessions_pool, tenant)).ok
    await _tamper(
        stack,
        layout,
        "update content_audit set actor = 'someone-else' where tenant_id = $1 and seq = 2",
        tenant,
    )
    check = await verify_audit(sessions_pool, tenant)
    assert not check.ok
    assert check.broken_at == 2
    assert check.problem == "its fields were changed"


async def test_verification_finds_a_deleted_entry_and_the_cli_exits_1(
    client: Client, sessions_pool: asyncpg.Pool, issuer: TestIssuer, stack: Stack, layout: DatabaseLayout
) -> None:
    world = await _world(client, sessions_pool, issuer)
    await _chain_of_four(client, world)
    tenant = world.parties.provider_id
    cli = ["audit-verify", "--tenant", str(tenant), "--database-url", layout.app_url]
    assert await asyncio.to_thread(main, cli) == 0  # the CLI runs its own event loop
    await _tamper(stack, layout, "delete from content_audit where tenant_id = $1 and seq = 3", tenant)
    check = await verify_audit(sessions_pool, tenant)
    assert not check.ok
    assert check.broken_at == 4
    assert check.problem == "entry 3 is missing"
    assert await asyncio.to_thread(main, cli) == 1


async def test_concurrent_accesses_keep_one_unbroken_chain(
    client: Client, sessions_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    world = await _world(client, sessions_pool, issuer)
    note = await write(client, world, world.supervisor(), "shared_note", "many")
    url = f"{world.base}/content/{note['id']}"
    responses = await asyncio.gather(*(client.get(url, headers=world.supervisor()) for _ in range(8)))
    assert {r.status_code for r in responses} == {200}
    check = await verify_audit(sessions_pool, world.parties.provider_id)
    assert check.ok
    assert check.entries == 9


async def test_an_unexpected_failure_is_audited_as_failed_and_still_raised(
    client: Client, sessions_pool: asyncpg.Pool, issuer: TestIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = await _world(client, sessions_pool, issuer)
    note = await write(client, world, world.supervisor(), "shared_note", SECRET)

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the query broke")

    monkeypatch.setattr(content_store, "fetch_visible_item", broken)
    principal = Principal(
        subject=str(world.parties.participants[0]),
        tenant_id=world.parties.buyer_id,
        roles=frozenset({"employee"}),
    )
    keyring = client.app.state[CONTENT_KEYRING_STATE_KEY]
    with pytest.raises(RuntimeError, match="the query broke"):
        await content_handlers.get_item(
            sessions_pool, keyring, principal, world.process_id, uuid.UUID(note["id"])
        )
    last = (await _entries(sessions_pool, world.parties.buyer_id))[-1]
    assert (last["action"], last["outcome"], last["item_id"]) == ("read", "failed", uuid.UUID(note["id"]))
    assert (await verify_audit(sessions_pool, world.parties.buyer_id)).ok
