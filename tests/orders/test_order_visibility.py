"""Who sees whom in an order (issue 12 item 10), and who accepted a declared conflict, when (issue 13
item 11).

Who takes part in individual supervision is the cost centre's approver's and the participant's own
to know, not every buyer admin's (domain.md, who may see what; sessions decides it the same way);
pair supervision's participants are the buyer's to see. The provider's side sees its own orders'
participants.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg
import msgspec
import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient

from shared.contracts import orders as events
from shared.db.provision import DatabaseLayout
from shared.testing.issuer import TestIssuer
from tests.orders.support import (
    Headers,
    Scene,
    events_of,
    known_supervisor,
    offered,
    ok,
    scene,
)

Client = AsyncTestClient[Litestar]


@pytest_asyncio.fixture
async def world(orders_pool: asyncpg.Pool, issuer: TestIssuer) -> Scene:
    return await scene(orders_pool, issuer)


async def _declared(client: Client, world: Scene, pool: asyncpg.Pool, **overrides: Any) -> tuple[str, int]:
    """An offered order whose assigned supervisor declares a prior relationship with people[0]."""
    path = await offered(client, world, **overrides)
    supervisor = await known_supervisor(pool, world.provider, "story_training")
    provider_admin = world.provider.as_("provider_admin")
    ok(
        await client.post(
            f"{path}/assign-supervisor", json={"supervisorId": str(supervisor)}, headers=provider_admin
        )
    )
    body = {"relatedParticipants": [str(world.people[0])]}
    as_supervisor = world.provider.as_("supervisor", person=supervisor)
    declared = ok(await client.post(f"{path}/declare-conflict", json=body, headers=as_supervisor))
    return path, declared["version"]


async def _seen(client: Client, path: str, headers: Headers) -> tuple[Any, Any]:
    one = ok(await client.get(path, headers=headers))
    listed = ok(await client.get("/orders/orders", params={"limit": 100}, headers=headers))["items"]
    (same,) = [item for item in listed if item["id"] == one["id"]]
    assert same == one
    return one["participants"], [a["by"] for a in one["conflictAcceptances"]]


async def test_individual_participants_are_the_approvers_and_their_own_not_every_buyer_admins(
    client: Client, world: Scene, orders_pool: asyncpg.Pool
) -> None:
    participant = world.people[0]
    path, _ = await _declared(client, world, orders_pool)
    ok(await client.post(f"{path}/accept-conflict", headers=world.approver_headers()))
    ok(await client.post(f"{path}/accept-conflict", headers=world.buyer.as_("employee", person=participant)))

    everyone = [str(participant)]
    both = [str(world.approver), str(participant)]
    assert await _seen(client, path, world.approver_headers()) == (everyone, both)
    assert await _seen(client, path, world.buyer.as_("employee", person=participant)) == (everyone, both)
    assert await _seen(client, path, world.provider.as_("provider_admin")) == (everyone, both)
    # The buyer's admin reads the order, but not who takes part — nor who accepted as a participant.
    buyer_admin = world.buyer.as_("buyer_admin")
    assert await _seen(client, path, buyer_admin) == (None, [str(world.approver), None])
    response = await client.get(path, headers=buyer_admin)
    assert str(participant) not in response.text
    listed = await client.get("/orders/orders", headers=buyer_admin)
    assert str(participant) not in listed.text


async def test_pair_participants_are_the_buyers_to_see(
    client: Client, world: Scene, orders_pool: asyncpg.Pool
) -> None:
    pair = [str(world.people[0]), str(world.people[1])]
    path = await offered(client, world, form="pair", participants=pair)
    participants, _ = await _seen(client, path, world.buyer.as_("buyer_admin"))
    assert participants == pair


async def test_who_accepted_a_declared_conflict_and_when_is_kept_and_announced(
    client: Client, world: Scene, orders_pool: asyncpg.Pool, layout: DatabaseLayout
) -> None:
    participant = world.people[0]
    path, version = await _declared(client, world, orders_pool)
    before = dt.datetime.now(dt.UTC)
    by_buyer = ok(
        await client.post(
            f"{path}/accept-conflict", headers=world.approver_headers(**{"If-Match": f'"{version}"'})
        )
    )
    (acceptance,) = by_buyer["conflictAcceptances"]
    assert (acceptance["by"], acceptance["party"]) == (str(world.approver), "approver")
    at = dt.datetime.fromisoformat(acceptance["at"])
    assert before <= at <= dt.datetime.now(dt.UTC)
    # A second approval of the buyer's changes nothing; the participant's is recorded after it.
    again = ok(await client.post(f"{path}/accept-conflict", headers=world.approver_headers()))
    assert again["version"] == by_buyer["version"]
    as_participant = world.buyer.as_("employee", person=participant)
    both = ok(await client.post(f"{path}/accept-conflict", headers=as_participant))
    assert [(a["by"], a["party"]) for a in both["conflictAcceptances"]] == [
        (str(world.approver), "approver"),
        (str(participant), "participant"),
    ]

    sent = [
        e
        for e in await events_of(layout, path.rsplit("/", 1)[1])
        if e.type == events.OrderConflictAccepted.event_type
    ]
    facts = [e.event_as(events.OrderConflictAccepted) for e in sent]
    assert [(f.accepted_by, f.accepted_as) for f in facts] == [
        (world.approver, "approver"),
        (participant, "participant"),
    ]
    assert facts[0].accepted_at == at
    assert all(f.accepted_at is not None and f.accepted_at.tzinfo is not None for f in facts)
    assert (
        ok(await client.post(f"{path}/accept", headers=world.provider.as_("provider_admin")))["status"]
        == "accepted"
    )


def test_events_written_before_the_acceptance_fields_still_decode() -> None:
    old = events.OrderConflictAccepted(
        order_id=uuid.uuid4(),
        buyer_id=uuid.uuid4(),
        provider_id=uuid.uuid4(),
        cost_centre_id=uuid.uuid4(),
        agreement_id=uuid.uuid4(),
        lot="L",
        form="individual",
        participants=[uuid.uuid4()],
        planned_sessions=1,
        duration_minutes=90,
        starts_on=dt.date(2027, 1, 1),
        ends_on=dt.date(2027, 2, 1),
        mode="remote",
        selection="ranking",
        status="offered",
    )
    raw = msgspec.json.decode(msgspec.json.encode(old))
    for key in ("acceptedBy", "acceptedAs", "acceptedAt", "orderNumber"):
        raw.pop(key, None)
    decoded = msgspec.json.decode(msgspec.json.encode(raw), type=events.OrderConflictAccepted)
    assert (decoded.accepted_by, decoded.accepted_at) == (None, None)
