"""Order numbers people read and say (issue 13 item 10): ``TO-<year of creation in Helsinki>-<six
digits>``, unique and gapless per buyer under concurrent creates, in the API and on the events, and
never changed once given.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import uuid
from zoneinfo import ZoneInfo

import asyncpg
import pytest
import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient

from shared.contracts import orders as events
from shared.db.provision import DatabaseLayout
from shared.db.tenant import tenant_transaction
from shared.testing.issuer import TestIssuer
from tests.orders.support import Scene, events_of, ok, scene

Client = AsyncTestClient[Litestar]
NUMBER = re.compile(r"^TO-(\d{4})-(\d{6})$")


@pytest_asyncio.fixture
async def world(orders_pool: asyncpg.Pool, issuer: TestIssuer) -> Scene:
    return await scene(orders_pool, issuer)


async def _create(client: Client, world: Scene) -> dict[str, object]:
    headers = world.approver_headers(**{"Idempotency-Key": uuid.uuid4().hex})
    return ok(await client.post("/orders/orders", json=world.body(), headers=headers), 201)


async def test_numbers_are_unique_and_gapless_per_buyer_under_concurrent_creates(
    client: Client, world: Scene, orders_pool: asyncpg.Pool, issuer: TestIssuer, layout: DatabaseLayout
) -> None:
    other = await scene(orders_pool, issuer)
    made = await asyncio.gather(*(_create(client, w) for w in [world] * 12 + [other] * 5))
    year = dt.datetime.now(ZoneInfo("Europe/Helsinki")).year
    ours = sorted(str(o["orderNumber"]) for o in made if o["buyerId"] == str(world.buyer.id))
    theirs = sorted(str(o["orderNumber"]) for o in made if o["buyerId"] == str(other.buyer.id))
    assert ours == [f"TO-{year}-{n:06d}" for n in range(1, 13)]
    assert theirs == [f"TO-{year}-{n:06d}" for n in range(1, 6)]

    first = made[0]
    path = f"/orders/orders/{first['id']}"
    assert ok(await client.get(path, headers=world.approver_headers()))["orderNumber"] == first["orderNumber"]
    listed = ok(await client.get("/orders/orders", params={"limit": 100}, headers=world.approver_headers()))
    assert sorted(item["orderNumber"] for item in listed["items"]) == ours
    # The number travels on every order event from the first on.
    ok(await client.post(f"{path}/submit", headers=world.approver_headers()))
    (submitted,) = await events_of(layout, str(first["id"]))
    assert submitted.event_as(events.OrderSubmitted).order_number == first["orderNumber"]
    assert NUMBER.match(str(first["orderNumber"]))


async def test_a_replayed_create_answers_the_same_number_and_takes_none(client: Client, world: Scene) -> None:
    headers = world.approver_headers(**{"Idempotency-Key": uuid.uuid4().hex})
    once = ok(await client.post("/orders/orders", json=world.body(), headers=headers), 201)
    again = ok(await client.post("/orders/orders", json=world.body(), headers=headers), 201)
    assert again["orderNumber"] == once["orderNumber"]
    refused = await client.post(
        "/orders/orders", json=world.body(durationMinutes=61), headers=world.approver_headers()
    )
    assert refused.status_code == 422
    nxt = await _create(client, world)
    match_once, match_next = NUMBER.match(str(once["orderNumber"])), NUMBER.match(str(nxt["orderNumber"]))
    assert match_once
    assert match_next
    assert int(match_next.group(2)) == int(match_once.group(2)) + 1  # neither a replay nor a refusal took one


async def test_an_order_keeps_its_number(client: Client, world: Scene, orders_pool: asyncpg.Pool) -> None:
    made = await _create(client, world)
    async with tenant_transaction(orders_pool, world.buyer.id) as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with conn.transaction():
                await conn.execute(
                    "update supervision_orders set order_number = 'TO-1999-000001' where order_id = $1",
                    uuid.UUID(str(made["id"])),
                )
