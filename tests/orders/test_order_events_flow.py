"""An order's life over HTTP heard end to end: draft → accepted → active → extended → completed;
the real orders outbox relay publishes to the ORDERS stream, and a durable consumer there hears
every step once, in version order.

Also: the provider cannot accept before it assigned the supervisor and the supervisor declared
prior relationships.
The scene (tenants, cost centre, approver, active agreement) is seeded by tests/orders/support.py.
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient

from shared.contracts import Event, events_of
from shared.contracts import orders as events
from shared.db.provision import DatabaseLayout
from shared.events import (
    STREAMS,
    ConsumerSpec,
    Envelope,
    EventConsumer,
    OutboxRelay,
    connect_nats,
    ensure_stream,
)
from shared.events.consumer import on
from shared.testing.issuer import TestIssuer
from shared.testing.plugin import Stack
from tests.orders.support import (
    PROBLEM_JSON,
    Scene,
    known_supervisor,
    ok,
    scene,
    submitted,
)

Client = AsyncTestClient[Litestar]
Heard = tuple[str, tuple[uuid.UUID, ...], int]


@pytest_asyncio.fixture
async def world(orders_pool: asyncpg.Pool, issuer: TestIssuer) -> Scene:
    return await scene(orders_pool, issuer)


async def offered(client: Client, world: Scene) -> str:
    """A submitted order taken through approve and offer by the buyer's approver."""
    path = await submitted(client, world)
    for action in ("approve", "offer"):
        ok(await client.post(f"{path}/{action}", headers=world.approver_headers()))
    return path


async def test_an_order_goes_from_draft_to_completed_and_a_consumer_hears_every_step_once_in_order(
    client: Client, world: Scene, layout: DatabaseLayout, orders_pool: asyncpg.Pool, stack: Stack
) -> None:
    nc = await connect_nats(stack.nats_url, name="orders-flow-test")
    js = nc.jetstream()
    await ensure_stream(js, STREAMS["orders"])
    spec = ConsumerSpec(
        consumer=f"flowtest{uuid.uuid4().hex[:8]}",
        producer="orders",
        filter_subjects=("orders.order.>",),
        ack_wait_seconds=5,
        nak_backoff_seconds=(0.05, 0.1),
    )
    heard: list[Heard] = []
    extended: list[events.OrderExtended] = []
    order_id: list[str] = []  # known once the draft exists; events before that are not ours

    async def record(conn: asyncpg.Connection, envelope: Envelope, data: Event) -> None:
        if order_id and envelope.subject == order_id[0]:
            heard.append((envelope.type, envelope.tenant_ids, envelope.version))
            if envelope.type == events.OrderExtended.event_type:
                extended.append(envelope.event_as(events.OrderExtended))

    relay = OutboxRelay(service="orders", dsn=layout.relay_url, nats=nc, poll_interval=0.1)
    consumer = EventConsumer(
        spec=spec,
        pool=orders_pool,
        nats=nc,
        handlers=[on(cls, record) for cls in events_of("orders")],
        fetch_timeout=0.2,
    )
    tasks = [asyncio.create_task(relay.run()), asyncio.create_task(consumer.run())]
    try:
        draft = ok(
            await client.post("/orders/orders", json=world.body(), headers=world.approver_headers()), 201
        )
        order_id.append(draft["id"])
        path = f"/orders/orders/{draft['id']}"
        for version, action in enumerate(("submit", "approve", "offer"), start=1):
            headers = world.approver_headers(**{"If-Match": f'"{version}"'})
            ok(await client.post(f"{path}/{action}", headers=headers))
        provider_admin = world.provider.as_("provider_admin")
        supervisor_id = await known_supervisor(orders_pool, world.provider, "story_training")
        body = {"supervisorId": str(supervisor_id)}
        headers = {**provider_admin, "If-Match": '"4"'}
        ok(await client.post(f"{path}/assign-supervisor", json=body, headers=headers))
        supervisor = world.provider.as_("supervisor", person=supervisor_id)
        declared = ok(
            await client.post(
                f"{path}/declare-conflict",
                json={"relatedParticipants": []},
                headers={**supervisor, "If-Match": '"5"'},
            )
        )
        assert declared["conflict"] == "none"
        accepted = ok(await client.post(f"{path}/accept", headers={**provider_admin, "If-Match": '"6"'}))
        assert (accepted["status"], accepted["version"]) == ("accepted", 7)

        # The process runs: started, extended by 2 sessions on a new approval, completed.
        steps: list[tuple[str, dict[str, str], dict[str, int] | None]] = [
            ("start", provider_admin, None),
            ("request-extension", provider_admin, {"additionalSessions": 2}),
            ("approve-extension", world.approver_headers(), None),
            ("complete", provider_admin, None),
        ]
        for version, (action, who, step_body) in enumerate(steps, start=7):
            headers = {**who, "If-Match": f'"{version}"'}
            moved = ok(await client.post(f"{path}/{action}", json=step_body, headers=headers))
        assert (moved["status"], moved["plannedSessions"], moved["version"]) == ("completed", 12, 11)

        async with asyncio.timeout(20):
            while events.OrderCompleted.event_type not in [kind for kind, _, _ in heard]:
                for task in tasks:
                    if task.done():
                        task.result()  # a relay or consumer that died says why
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # room for a stray second delivery to show up
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await js.delete_consumer(spec.stream, spec.durable)
        await nc.close()

    buyer, both = (world.buyer.id,), (world.buyer.id, world.provider.id)
    assert heard == [
        (events.OrderSubmitted.event_type, buyer, 2),
        (events.OrderApproved.event_type, buyer, 3),
        (events.OrderOffered.event_type, both, 4),
        (events.OrderSupervisorAssigned.event_type, both, 5),
        (events.OrderConflictDeclared.event_type, both, 6),
        (events.OrderAccepted.event_type, both, 7),
        (events.OrderStarted.event_type, both, 8),
        (events.OrderExtensionRequested.event_type, both, 9),
        (events.OrderExtended.event_type, both, 10),
        (events.OrderCompleted.event_type, both, 11),
    ]
    [extension] = extended
    assert (extension.additional_sessions, extension.planned_sessions, extension.status) == (2, 12, "active")
    assert consumer.dead_lettered == 0


async def test_accepting_without_declaring_prior_relationships_is_refused(
    client: Client, world: Scene, orders_pool: asyncpg.Pool
) -> None:
    path = await offered(client, world)
    provider_admin = world.provider.as_("provider_admin")
    supervisor_id = await known_supervisor(orders_pool, world.provider, "story_training")
    body = {"supervisorId": str(supervisor_id)}
    ok(await client.post(f"{path}/assign-supervisor", json=body, headers=provider_admin))
    response = await client.post(f"{path}/accept", headers=provider_admin)
    assert response.status_code in (409, 422), response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert "not declared prior relationships" in response.text, problem
    assert [error["field"] for error in problem.get("errors") or []] == ["order.conflict"]

    still = ok(await client.get(path, headers=provider_admin))
    assert (still["status"], still["version"], still["conflict"]) == ("offered", 5, "undeclared")


async def test_accepting_before_the_provider_assigns_the_supervisor_is_refused(
    client: Client, world: Scene
) -> None:
    """The supervisor named at creation is the orderer's wish; they cannot declare or accept for the
    provider until the provider's admin assigns them."""
    path = await offered(client, world)
    wished = world.provider.as_("supervisor", person=world.supervisor)
    response = await client.post(f"{path}/declare-conflict", json={"relatedParticipants": []}, headers=wished)
    # Not yet theirs to read either: the answer of a random id (no existence oracle).
    assert response.status_code == 404, response.text
    provider_admin = world.provider.as_("provider_admin")
    response = await client.post(f"{path}/accept", headers=provider_admin)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert [error["field"] for error in response.json()["errors"]] == ["order.supervisorId"]
    still = ok(await client.get(path, headers=provider_admin))
    assert (still["status"], still["version"], still["supervisorId"]) == ("offered", 4, str(world.supervisor))
    assert still["supervisorAssigned"] is False
