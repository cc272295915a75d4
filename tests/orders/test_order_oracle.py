"""No existence oracle between colleagues (issue 12 item 8): on every action route of an order,
someone who may not read it hears exactly what a random id answers — 404 problem+json of the same
type, title and detail — whatever the If-Match says and whatever state the order is in.

Read permission is checked first, then the If-Match version, then the state.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient

from shared.testing.issuer import TestIssuer
from tests.orders.support import PROBLEM_JSON, Headers, Scene, accepted, cost_centre, ok, scene, submitted

Client = AsyncTestClient[Litestar]

ACTIONS: dict[str, dict[str, Any] | None] = {
    "submit": None,
    "approve": None,
    "reject": None,
    "offer": None,
    "accept": None,
    "decline": None,
    "declare-conflict": {"relatedParticipants": []},
    "assign-supervisor": {"supervisorId": str(uuid.uuid4())},
    "accept-conflict": None,
    "start": None,
    "complete": None,
    "interrupt": None,
    "cancel": None,
    "request-extension": {"additionalSessions": 1},
    "approve-extension": None,
    "reject-extension": None,
}


@pytest_asyncio.fixture
async def world(orders_pool: asyncpg.Pool, issuer: TestIssuer) -> Scene:
    return await scene(orders_pool, issuer)


def _shape(response: httpx.Response) -> tuple[Any, ...]:
    body = response.json()
    return (
        response.status_code,
        response.headers["content-type"],
        sorted(body) if isinstance(body, dict) else body,
        body.get("type"),
        body.get("title"),
        body.get("detail"),
        body.get("errors"),
        "etag" in response.headers,
    )


async def _colleagues(world: Scene, pool: asyncpg.Pool) -> list[Headers]:
    """An approver (and employee) of another cost centre of the buyer, and an unassigned supervisor
    of the provider: they pass every route's role guard they can, and may not read the order."""
    other_approver = uuid.uuid4()
    await cost_centre(pool, world.buyer, other_approver)
    return [
        world.buyer.as_("approver", "employee", person=other_approver),
        world.provider.as_("supervisor", person=uuid.uuid4()),
    ]


@pytest.mark.parametrize("state", ["submitted", "accepted"])
async def test_a_colleague_who_may_not_read_an_order_hears_what_a_random_id_answers(
    client: Client, world: Scene, orders_pool: asyncpg.Pool, state: str
) -> None:
    path = await (submitted(client, world) if state == "submitted" else accepted(client, world, orders_pool))
    version = ok(await client.get(path, headers=world.approver_headers()))["version"]
    assert version > 1
    random_path = f"/orders/orders/{uuid.uuid4()}"
    for headers in await _colleagues(world, orders_pool):
        for action, body in ACTIONS.items():
            for if_match in ('"1"', f'"{version}"', None):
                extra = {"If-Match": if_match} if if_match else {}
                real = await client.post(f"{path}/{action}", json=body, headers={**headers, **extra})
                fake = await client.post(f"{random_path}/{action}", json=body, headers={**headers, **extra})
                assert _shape(real) == _shape(fake), (action, if_match, real.text, fake.text)
                assert real.headers["content-type"] == PROBLEM_JSON
                if real.status_code != 403 or "role" not in real.text:  # the route's guard is no oracle
                    assert real.status_code == 404, (action, if_match, real.text)
    # Nothing moved: the order is as it was.
    assert ok(await client.get(path, headers=world.approver_headers()))["version"] == version
