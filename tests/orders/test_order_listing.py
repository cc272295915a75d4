"""Listing orders a page at a time with filters: status, cost centre, supervisor and period."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient

from shared.testing.issuer import TestIssuer
from tests.orders.support import Scene, cost_centre, ok, problem_fields, scene

Client = AsyncTestClient[Litestar]


@pytest_asyncio.fixture
async def world(orders_pool: asyncpg.Pool, issuer: TestIssuer) -> Scene:
    return await scene(orders_pool, issuer)


async def listed(client: Client, world: Scene, **params: Any) -> set[str]:
    """Every order id the approver lists with ``params``, walking the pages one order at a time."""
    ids: list[str] = []
    cursor: str | None = None
    while True:
        page_params = {**params, "limit": 1, **({"cursor": cursor} if cursor else {})}
        page = ok(await client.get("/orders/orders", params=page_params, headers=world.approver_headers()))
        ids += [o["id"] for o in page["items"]]
        cursor = page.get("nextCursor")
        if cursor is None:
            return set(ids)


async def test_orders_are_filtered_by_status_cost_centre_supervisor_and_period(
    client: Client, world: Scene, orders_pool: asyncpg.Pool
) -> None:
    other_centre = await cost_centre(orders_pool, world.buyer, world.approver)
    s1, s2 = uuid.uuid4(), uuid.uuid4()

    async def order(submit: bool, **overrides: Any) -> str:
        body = world.body(**overrides)
        made = ok(await client.post("/orders/orders", json=body, headers=world.approver_headers()), 201)
        if submit:
            ok(await client.post(f"/orders/orders/{made['id']}/submit", headers=world.approver_headers()))
        return str(made["id"])

    a = await order(False, supervisorId=str(s1))  # 2026-12-01 – 2027-06-30
    b = await order(
        True,
        costCentreId=str(other_centre),
        supervisorId=str(s2),
        startsOn="2027-08-01",
        endsOn="2027-12-31",
    )
    c = await order(True, supervisorId=None, startsOn="2026-09-01", endsOn="2026-10-31")

    assert await listed(client, world) == {a, b, c}
    assert await listed(client, world, status="submitted") == {b, c}
    assert await listed(client, world, status="approved") == set()
    assert await listed(client, world, costCentreId=str(other_centre)) == {b}
    assert await listed(client, world, supervisorId=str(s1)) == {a}
    assert await listed(client, world, supervisorId=str(uuid.uuid4())) == set()
    # A period keeps the orders whose own period overlaps it, a day at either end included.
    assert await listed(client, world, periodFrom="2027-06-30") == {a, b}
    assert await listed(client, world, periodFrom="2027-07-01") == {b}
    assert await listed(client, world, periodTo="2026-11-30") == {c}
    assert await listed(client, world, periodFrom="2026-10-31", periodTo="2026-12-01") == {a, c}
    assert await listed(client, world, status="submitted", costCentreId=str(world.cost_centre_id)) == {c}
    assert await listed(client, world, status="submitted", periodFrom="2027-01-01") == {b}


@pytest.mark.parametrize(
    ("params", "status", "fields"),
    [
        ({"periodFrom": "2027-01-02", "periodTo": "2027-01-01"}, 422, ["query.periodTo"]),
        ({"periodFrom": "not-a-date"}, 400, None),
        ({"supervisorId": "nobody"}, 400, None),
        ({"status": "lost"}, 400, None),
    ],
)
async def test_a_bad_filter_is_a_problem(
    client: Client, world: Scene, params: dict[str, str], status: int, fields: list[str] | None
) -> None:
    response = await client.get("/orders/orders", params=params, headers=world.approver_headers())
    if fields is None:
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
    else:
        assert problem_fields(response, status) == fields
