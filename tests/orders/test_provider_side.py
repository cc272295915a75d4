"""The provider's side of an order decides by what the order snapshotted at approval, in the
provider's own tenant scope: the ranking a decline passes the offer on by, and the qualifications an
assigned supervisor needs. The one write a provider makes of a row it then no longer sees (passing a
ranking offer on) goes through the ``pass_order_offer`` database function, which refuses any other use.
"""

from __future__ import annotations

import uuid

import asyncpg
import msgspec
import pytest
import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient

from services.orders import store
from services.orders.domain.orders import ConflictDeclaration, Order
from shared.db.tenant import tenant_transaction
from shared.testing.issuer import TestIssuer
from tests.orders.support import (
    Org,
    Scene,
    agreement,
    known_supervisor,
    known_tenant,
    ok,
    problem_fields,
    scene,
    submitted,
)

Client = AsyncTestClient[Litestar]


@pytest_asyncio.fixture
async def world(orders_pool: asyncpg.Pool, issuer: TestIssuer) -> Scene:
    return await scene(orders_pool, issuer)


async def ranked_offer(client: Client, world: Scene, pool: asyncpg.Pool) -> tuple[str, Org]:
    """An order offered under ranking to the first of two admitted providers."""
    second = await known_tenant(pool, world.buyer.issuer, "provider")
    ranked = await agreement(pool, world.buyer, world.provider, second)
    path = await submitted(client, world, agreementId=str(ranked), selection="ranking", justification=None)
    for action in ("approve", "offer"):
        ok(await client.post(f"{path}/{action}", headers=world.approver_headers()))
    return path, second


async def test_the_provider_side_decides_by_the_snapshot_not_the_buyers_agreement_now(
    client: Client, world: Scene, orders_pool: asyncpg.Pool
) -> None:
    path, second = await ranked_offer(client, world, orders_pool)
    order_id = uuid.UUID(path.rsplit("/", 1)[1])
    # After the approval the buyer's agreement changes: no providers, other qualifications.
    async with tenant_transaction(orders_pool, world.buyer.id) as conn:
        await conn.execute(
            "update framework_agreements set lots = jsonb_build_array(lots -> 0 || jsonb_build_object("
            "'providers', '[]'::jsonb, 'required_qualifications', '[\"valvira_registration\"]'::jsonb))"
            " where tenant_id = $1",
            world.buyer.id,
        )
    passed = ok(await client.post(f"{path}/decline", headers=world.provider.as_("provider_admin")))
    assert (passed["status"], passed["providerId"]) == ("offered", str(second.id))
    supervisor = await known_supervisor(orders_pool, second, "story_training")
    assigned = ok(
        await client.post(
            f"{path}/assign-supervisor",
            json={"supervisorId": str(supervisor)},
            headers=second.as_("provider_admin"),
        )
    )
    assert assigned["supervisorId"] == str(supervisor)
    async with tenant_transaction(orders_pool, second.id) as conn:
        order = await store.fetch_order(conn, order_id)
    assert order is not None
    assert order.declined_by_providers == (world.provider.id,)


async def test_an_unqualified_supervisor_is_refused_by_the_snapshot(
    client: Client, world: Scene, orders_pool: asyncpg.Pool
) -> None:
    path, _ = await ranked_offer(client, world, orders_pool)
    unqualified = await known_supervisor(orders_pool, world.provider, "other")
    response = await client.post(
        f"{path}/assign-supervisor",
        json={"supervisorId": str(unqualified)},
        headers=world.provider.as_("provider_admin"),
    )
    assert problem_fields(response, 422) == ["body.supervisorId"]
    assert "story_training" in response.json()["detail"]


async def _passed_on(pool: asyncpg.Pool, holder: Org, order_id: uuid.UUID, to: uuid.UUID) -> Order:
    """The order as the provider holding it would pass it on to ``to`` (what ``decline`` changes)."""
    async with tenant_transaction(pool, holder.id) as conn:
        order = await store.fetch_order(conn, order_id)
    assert order is not None
    return msgspec.structs.replace(
        order,
        provider_id=to,
        supervisor_id=None,
        supervisor_assigned=False,
        conflict=ConflictDeclaration(),
        declined_by_providers=(holder.id,),
        version=order.version + 1,
    )


async def test_pass_order_offer_moves_only_an_offer_the_caller_holds_to_an_admitted_provider(
    client: Client, world: Scene, orders_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    path, second = await ranked_offer(client, world, orders_pool)
    order_id = uuid.UUID(path.rsplit("/", 1)[1])
    call = "select pass_order_offer($1, $2, $3::jsonb)"

    # Another provider, not holding the offer: nothing to move.
    doc = await _passed_on(orders_pool, world.provider, order_id, second.id)
    async with tenant_transaction(orders_pool, second.id) as conn:
        assert await conn.fetchval(call, order_id, 4, doc) is False
    # The holder at a stale version: nothing moves.
    async with tenant_transaction(orders_pool, world.provider.id) as conn:
        assert await conn.fetchval(call, order_id, 3, doc) is False
    # The holder passing it to a provider not admitted to the lot: refused.
    outsider = await known_tenant(orders_pool, issuer, "provider")
    doc = await _passed_on(orders_pool, world.provider, order_id, outsider.id)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with tenant_transaction(orders_pool, world.provider.id) as conn:
            await conn.fetchval(call, order_id, 4, doc)
    # The holder passing it on without being recorded as having declined it: refused.
    unrecorded = msgspec.structs.replace(
        await _passed_on(orders_pool, world.provider, order_id, second.id), declined_by_providers=()
    )
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with tenant_transaction(orders_pool, world.provider.id) as conn:
            await conn.fetchval(call, order_id, 4, unrecorded)
    # The buyer cannot use it to move an order it has not offered to itself.
    doc = await _passed_on(orders_pool, world.provider, order_id, second.id)
    async with tenant_transaction(orders_pool, world.buyer.id) as conn:
        assert await conn.fetchval(call, order_id, 4, doc) is False
    unmoved = ok(await client.get(path, headers=world.approver_headers()))
    assert unmoved["providerId"] == str(world.provider.id)
    # The holder passing it on as a decline would: moved, and the caller's scope is its own again.
    async with tenant_transaction(orders_pool, world.provider.id) as conn:
        assert await conn.fetchval(call, order_id, 4, doc) is True
        assert await conn.fetchval("select current_setting('app.tenant_id')") == str(world.provider.id)
        assert await store.fetch_order(conn, order_id) is None  # no longer theirs to see
    assert ok(await client.get(path, headers=second.as_("provider_admin")))["version"] == 5


async def test_pass_order_offer_refuses_a_passed_document_that_changes_anything_a_decline_does_not(
    client: Client, world: Scene, orders_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    path, second = await ranked_offer(client, world, orders_pool)
    order_id = uuid.UUID(path.rsplit("/", 1)[1])
    call = "select pass_order_offer($1, $2, $3::jsonb)"
    honest = await _passed_on(orders_pool, world.provider, order_id, second.id)
    assert honest.price is not None
    forged = [
        msgspec.structs.replace(
            honest,
            price=msgspec.structs.replace(honest.price, net_price_cents=honest.price.net_price_cents * 3),
        ),
        msgspec.structs.replace(honest, planned_sessions=honest.planned_sessions + 10),
        msgspec.structs.replace(honest, participants=(uuid.uuid4(),)),
        msgspec.structs.replace(honest, declined_by_providers=(world.provider.id, uuid.uuid4())),
        msgspec.structs.replace(honest, supervisor_id=uuid.uuid4(), supervisor_assigned=True),
        msgspec.structs.replace(honest, conflict=ConflictDeclaration(accepted_by_buyer=uuid.uuid4())),
        msgspec.structs.replace(honest, version=honest.version + 5),
    ]
    for doc in forged:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with tenant_transaction(orders_pool, world.provider.id) as conn:
                await conn.fetchval(call, order_id, 4, doc)
    # a field the document does not otherwise carry is refused too
    padded = msgspec.json.decode(msgspec.json.encode(honest)) | {"paid": True}
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with tenant_transaction(orders_pool, world.provider.id) as conn:
            await conn.fetchval(call, order_id, 4, padded)
    assert ok(await client.get(path, headers=world.approver_headers()))["providerId"] == str(
        world.provider.id
    )
    async with tenant_transaction(orders_pool, world.provider.id) as conn:
        assert await conn.fetchval(call, order_id, 4, honest) is True


async def test_pass_order_offer_passes_only_to_the_first_ranked_provider_who_has_not_declined(
    client: Client, world: Scene, orders_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    second = await known_tenant(orders_pool, world.buyer.issuer, "provider")
    third = await known_tenant(orders_pool, world.buyer.issuer, "provider")
    ranked = await agreement(orders_pool, world.buyer, world.provider, second, third)
    path = await submitted(client, world, agreementId=str(ranked), selection="ranking", justification=None)
    for action in ("approve", "offer"):
        ok(await client.post(f"{path}/{action}", headers=world.approver_headers()))
    order_id = uuid.UUID(path.rsplit("/", 1)[1])
    skipping = await _passed_on(orders_pool, world.provider, order_id, third.id)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with tenant_transaction(orders_pool, world.provider.id) as conn:
            await conn.fetchval("select pass_order_offer($1, $2, $3::jsonb)", order_id, 4, skipping)
    passed = ok(await client.post(f"{path}/decline", headers=world.provider.as_("provider_admin")))
    assert passed["providerId"] == str(second.id)
    again = ok(await client.post(f"{path}/decline", headers=second.as_("provider_admin")))
    assert again["providerId"] == str(third.id)


async def test_pass_order_offer_resolves_names_in_pg_catalog_first_and_pg_temp_last(
    orders_pool: asyncpg.Pool,
) -> None:
    async with orders_pool.acquire() as conn:
        config = await conn.fetchval("select proconfig from pg_proc where proname = 'pass_order_offer'")
    assert config == ["search_path=pg_catalog, public, pg_temp"]
