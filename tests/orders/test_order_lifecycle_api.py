"""The running part of an order's life over HTTP: start, complete, interrupt, cancel and extensions.

Each transition is shown once with its event, then each refusal (wrong role or relationship 403,
wrong state 409, a bad value 422, a stale If-Match 412, another tenant's order 404), and that a
refused call leaves the order and the outbox as they were. Scenes are seeded by tests/orders/support.py.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient

from shared.contracts import orders as events
from shared.db.provision import DatabaseLayout
from shared.testing.issuer import TestIssuer
from tests.orders.support import (
    Headers,
    Scene,
    accepted,
    cost_centre,
    events_of,
    ok,
    order_id,
    problem_fields,
    scene,
    submitted,
)

Client = AsyncTestClient[Litestar]


@pytest_asyncio.fixture
async def world(orders_pool: asyncpg.Pool, issuer: TestIssuer) -> Scene:
    return await scene(orders_pool, issuer)


async def in_state(client: Client, world: Scene, pool: asyncpg.Pool, state: str) -> str:
    """An order in ``state``; ``extending`` is active with 3 more sessions asked for."""
    if state == "submitted":
        return await submitted(client, world)
    if state == "offered":
        path = await submitted(client, world)
        for action in ("approve", "offer"):
            ok(await client.post(f"{path}/{action}", headers=world.approver_headers()))
        return path
    path = await accepted(client, world, pool)
    if state == "accepted":
        return path
    provider_admin = world.provider.as_("provider_admin")
    ok(await client.post(f"{path}/start", headers=provider_admin))
    if state == "completed":
        ok(await client.post(f"{path}/complete", headers=provider_admin))
    elif state == "extending":
        body = {"additionalSessions": 3}
        ok(await client.post(f"{path}/request-extension", json=body, headers=provider_admin))
    else:
        assert state == "active", state
    return path


async def snapshot(client: Client, world: Scene, layout: DatabaseLayout, path: str) -> tuple[Any, ...]:
    """The order as its approver reads it, with its ETag, and the events sent of it so far."""
    response = await client.get(path, headers=world.approver_headers())
    sent = await events_of(layout, order_id(path))
    return ok(response), response.headers["etag"], [(e.type, e.version) for e in sent]


# --- each transition once, with its event ---


async def test_the_provider_starts_an_accepted_order(
    client: Client, world: Scene, orders_pool: asyncpg.Pool, layout: DatabaseLayout
) -> None:
    path = await accepted(client, world, orders_pool)
    response = await client.post(
        f"{path}/start", headers={**world.provider.as_("provider_admin"), "If-Match": '"7"'}
    )
    started = ok(response)
    assert (started["status"], started["version"], response.headers["etag"]) == ("active", 8, '"8"')
    *_, event = await events_of(layout, order_id(path))
    assert (event.type, event.version) == (events.OrderStarted.event_type, 8)
    assert event.tenant_ids == (world.buyer.id, world.provider.id)
    assert event.event_as(events.OrderStarted).status == "active"


async def test_an_active_order_is_completed(
    client: Client, world: Scene, orders_pool: asyncpg.Pool, layout: DatabaseLayout
) -> None:
    path = await in_state(client, world, orders_pool, "active")
    done = ok(await client.post(f"{path}/complete", headers=world.approver_headers(**{"If-Match": '"8"'})))
    assert (done["status"], done["version"]) == ("completed", 9)
    *_, event = await events_of(layout, order_id(path))
    assert (event.type, event.tenant_ids) == (
        events.OrderCompleted.event_type,
        (world.buyer.id, world.provider.id),
    )


@pytest.mark.parametrize("side", ["buyer", "provider"])
async def test_either_side_interrupts_an_active_order(
    client: Client, world: Scene, orders_pool: asyncpg.Pool, layout: DatabaseLayout, side: str
) -> None:
    path = await in_state(client, world, orders_pool, "active")
    headers = world.approver_headers() if side == "buyer" else world.provider.as_("provider_admin")
    assert ok(await client.post(f"{path}/interrupt", headers=headers))["status"] == "interrupted"
    *_, event = await events_of(layout, order_id(path))
    assert event.type == events.OrderInterrupted.event_type
    assert event.event_as(events.OrderInterrupted).status == "interrupted"


async def test_the_buyer_cancels_an_accepted_order_and_the_provider_hears_of_it(
    client: Client, world: Scene, orders_pool: asyncpg.Pool, layout: DatabaseLayout
) -> None:
    path = await accepted(client, world, orders_pool)
    cancelled = ok(await client.post(f"{path}/cancel", headers=world.approver_headers(**{"If-Match": '"7"'})))
    assert (cancelled["status"], cancelled["version"]) == ("cancelled", 8)
    *_, event = await events_of(layout, order_id(path))
    assert (event.type, event.tenant_ids) == (
        events.OrderCancelled.event_type,
        (world.buyer.id, world.provider.id),
    )
    # The provider it was offered to still reads what became of it.
    seen = ok(await client.get(path, headers=world.provider.as_("provider_admin")))
    assert seen["status"] == "cancelled"


async def test_the_orderer_cancels_their_own_request_before_anyone_else_hears_of_it(
    client: Client, world: Scene, layout: DatabaseLayout
) -> None:
    participant = world.people[1]
    employee = world.buyer.as_("employee", person=participant)
    body = world.body(participants=[str(participant)])
    draft = ok(await client.post("/orders/orders", json=body, headers=employee), 201)
    path = f"/orders/orders/{draft['id']}"
    ok(await client.post(f"{path}/submit", headers=employee))
    assert ok(await client.post(f"{path}/cancel", headers=employee))["status"] == "cancelled"
    sent = await events_of(layout, draft["id"])
    assert [(e.type, e.tenant_ids) for e in sent] == [
        (events.OrderSubmitted.event_type, (world.buyer.id,)),
        (events.OrderCancelled.event_type, (world.buyer.id,)),
    ]
    assert (await client.get(path, headers=world.provider.as_("provider_admin"))).status_code == 404


async def test_an_extension_is_requested_then_approved_as_a_new_approval(
    client: Client, world: Scene, orders_pool: asyncpg.Pool, layout: DatabaseLayout
) -> None:
    path = await in_state(client, world, orders_pool, "active")
    participant = ok(await client.get(path, headers=world.approver_headers()))["participants"][0]
    as_participant = world.buyer.as_("employee", person=uuid.UUID(participant))
    requested = ok(
        await client.post(
            f"{path}/request-extension",
            json={"additionalSessions": 4},
            headers={**as_participant, "If-Match": '"8"'},
        )
    )
    assert (requested["status"], requested["plannedSessions"], requested["pendingExtensionSessions"]) == (
        "active",
        10,
        4,
    )
    *_, event = await events_of(layout, order_id(path))
    asked = event.event_as(events.OrderExtensionRequested)
    assert (asked.additional_sessions, asked.planned_sessions, asked.status) == (4, 10, "active")

    extended = ok(
        await client.post(f"{path}/approve-extension", headers=world.approver_headers(**{"If-Match": '"9"'}))
    )
    assert (extended["plannedSessions"], extended["pendingExtensionSessions"], extended["version"]) == (
        14,
        None,
        10,
    )
    *_, event = await events_of(layout, order_id(path))
    fact = event.event_as(events.OrderExtended)
    assert (fact.additional_sessions, fact.planned_sessions) == (4, 14)
    assert fact.committed_cents == 14 * 12_000
    assert event.tenant_ids == (world.buyer.id, world.provider.id)


async def test_an_extension_beyond_the_budget_needs_an_audited_override(
    client: Client, orders_pool: asyncpg.Pool, issuer: TestIssuer, layout: DatabaseLayout
) -> None:
    world = await scene(orders_pool, issuer, budget=150_000)  # the order holds 120 000
    path = await in_state(client, world, orders_pool, "extending")  # 3 × 12 000 more
    before = await snapshot(client, world, layout, path)
    response = await client.post(f"{path}/approve-extension", headers=world.approver_headers())
    assert problem_fields(response, 422) == ["order.budget"]
    assert await snapshot(client, world, layout, path) == before
    overridden = ok(
        await client.post(
            f"{path}/approve-extension",
            json={"overrideReason": "Jatko välttämätön"},
            headers=world.approver_headers(),
        )
    )
    assert (overridden["plannedSessions"], overridden["budgetOverridden"]) == (13, True)
    *_, event = await events_of(layout, order_id(path))
    assert event.event_as(events.OrderExtended).budget_overridden is True
    assert b"Jatko" not in bytes(event.data)


async def test_a_rejected_extension_leaves_the_planned_sessions(
    client: Client, world: Scene, orders_pool: asyncpg.Pool, layout: DatabaseLayout
) -> None:
    path = await in_state(client, world, orders_pool, "extending")
    rejected = ok(
        await client.post(f"{path}/reject-extension", headers=world.approver_headers(**{"If-Match": '"9"'}))
    )
    assert (rejected["plannedSessions"], rejected["pendingExtensionSessions"]) == (10, None)
    *_, event = await events_of(layout, order_id(path))
    assert event.type == events.OrderExtensionRejected.event_type
    assert event.event_as(events.OrderExtensionRejected).planned_sessions == 10


# --- refusals: each leaves the order and the outbox as they were ---

REFUSALS: list[tuple[str, str, str, dict[str, Any] | None, int, list[str]]] = [
    # action, state, who, body, status, fields (who may not read the order hears 404, as of a random id)
    ("start", "accepted", "buyer_admin", None, 403, []),
    ("start", "accepted", "other_approver", None, 404, []),
    ("start", "offered", "provider_admin", None, 409, []),
    ("complete", "active", "employee", None, 403, []),
    ("complete", "active", "other_provider", None, 404, []),
    ("complete", "accepted", "provider_admin", None, 409, []),
    ("interrupt", "active", "buyer_admin", None, 403, []),
    ("interrupt", "completed", "approver", None, 409, []),
    ("cancel", "accepted", "provider_admin", None, 403, []),
    ("cancel", "accepted", "employee", None, 404, []),
    ("cancel", "accepted", "other_approver", None, 404, []),
    ("cancel", "active", "approver", None, 409, []),
    ("request-extension", "active", "buyer_admin", {"additionalSessions": 2}, 403, []),
    ("request-extension", "active", "employee", {"additionalSessions": 2}, 404, []),
    ("request-extension", "completed", "approver", {"additionalSessions": 2}, 409, []),
    ("request-extension", "extending", "provider_admin", {"additionalSessions": 1}, 409, []),
    ("request-extension", "active", "approver", {"additionalSessions": 0}, 422, ["body.additionalSessions"]),
    ("request-extension", "active", "approver", {"additionalSessions": 91}, 422, ["body.additionalSessions"]),
    ("request-extension", "active", "other_provider", {"additionalSessions": 2}, 404, []),
    ("approve-extension", "extending", "other_approver", None, 404, []),
    ("approve-extension", "extending", "provider_admin", None, 403, []),
    ("approve-extension", "extending", "stranger_approver", None, 404, []),
    ("approve-extension", "active", "approver", None, 409, []),
    ("reject-extension", "extending", "other_approver", None, 404, []),
    ("reject-extension", "extending", "supervisor", None, 403, []),
    ("reject-extension", "active", "approver", None, 409, []),
]


async def headers_of(who: str, world: Scene, pool: asyncpg.Pool, issuer: TestIssuer) -> Headers:
    if who == "approver":
        return world.approver_headers()
    if who == "other_approver":  # an approver of another cost centre of the same buyer
        other = uuid.uuid4()
        await cost_centre(pool, world.buyer, other)
        return world.buyer.as_("approver", person=other)
    if who == "stranger_approver":  # an approver in another buyer tenant
        return (await scene(pool, issuer)).approver_headers()
    if who == "other_provider":
        return (await scene(pool, issuer)).provider.as_("provider_admin", "supervisor")
    if who in ("buyer_admin", "employee"):
        return world.buyer.as_(who)
    return world.provider.as_(who)


@pytest.mark.parametrize(("action", "state", "who", "body", "status", "fields"), REFUSALS)
async def test_a_refused_transition_changes_nothing(
    client: Client,
    world: Scene,
    orders_pool: asyncpg.Pool,
    issuer: TestIssuer,
    layout: DatabaseLayout,
    action: str,
    state: str,
    who: str,
    body: dict[str, Any] | None,
    status: int,
    fields: list[str],
) -> None:
    path = await in_state(client, world, orders_pool, state)
    before = await snapshot(client, world, layout, path)
    # The current ETag: the refusal is about who asks or what, not about a stale version.
    headers = {**await headers_of(who, world, orders_pool, issuer), "If-Match": before[1]}
    response = await client.post(f"{path}/{action}", json=body, headers=headers)
    assert problem_fields(response, status) == fields
    assert response.json()["detail"]
    assert await snapshot(client, world, layout, path) == before


STALE: list[tuple[str, str, str, dict[str, Any] | None]] = [
    ("start", "accepted", "provider_admin", None),
    ("complete", "active", "provider_admin", None),
    ("interrupt", "active", "approver", None),
    ("cancel", "accepted", "approver", None),
    ("request-extension", "active", "provider_admin", {"additionalSessions": 2}),
    ("approve-extension", "extending", "approver", None),
    ("reject-extension", "extending", "approver", None),
]


@pytest.mark.parametrize(("action", "state", "who", "body"), STALE)
async def test_a_stale_if_match_is_refused_with_412(
    client: Client,
    world: Scene,
    orders_pool: asyncpg.Pool,
    issuer: TestIssuer,
    layout: DatabaseLayout,
    action: str,
    state: str,
    who: str,
    body: dict[str, Any] | None,
) -> None:
    path = await in_state(client, world, orders_pool, state)
    before = await snapshot(client, world, layout, path)
    headers = {**await headers_of(who, world, orders_pool, issuer), "If-Match": '"3"'}
    response = await client.post(f"{path}/{action}", json=body, headers=headers)
    assert problem_fields(response, 412) == []
    assert await snapshot(client, world, layout, path) == before
    # The current ETag goes through.
    headers["If-Match"] = before[1]
    ok(await client.post(f"{path}/{action}", json=body, headers=headers))


async def test_every_event_from_approval_on_carries_the_price_list_payment_terms_and_agreement_number(
    client: Client, world: Scene, orders_pool: asyncpg.Pool, layout: DatabaseLayout
) -> None:
    path = await in_state(client, world, orders_pool, "extending")
    ok(await client.post(f"{path}/approve-extension", headers=world.approver_headers()))
    order = ok(await client.get(path, headers=world.provider.as_("provider_admin")))
    assert order["agreementNumber"].startswith("PIR-")
    assert (order["paymentTermsDays"], [p["netPriceCents"] for p in order["priceList"]]) == (21, [12_000])
    submitted_event, *later = await events_of(layout, order_id(path))
    assert submitted_event.type == events.OrderSubmitted.event_type
    first = submitted_event.event_as(events.OrderSubmitted)
    assert (first.price_list, first.payment_terms_days, first.agreement_number) == ([], None, None)
    assert [e.type for e in later][-2:] == [
        events.OrderExtensionRequested.event_type,
        events.OrderExtended.event_type,
    ]
    for envelope in later:
        fact = envelope.event()
        assert isinstance(fact, events.OrderFacts)
        assert fact.agreement_number == order["agreementNumber"]
        assert fact.payment_terms_days == 21
        assert fact.price_list == [fact.price]
        assert fact.price is not None
        price = fact.price
        assert (price.duration_minutes, price.mode, price.net_price_cents) == (90, "remote", 12_000)
