"""Supervision orders over HTTP, on real servers: draft → submitted → approved → offered → accepted,
the events in the outbox, and each refusal.

Read models (tenants, cost centres, approvers) and active agreements are put straight into the
orders database by tests/orders/support.py, as the consumers and the agreement routes would.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from shared.contracts import orders as events
from shared.db.provision import DatabaseLayout
from shared.testing.issuer import TestIssuer
from tests.orders.support import (
    Client,
    Scene,
    agreement,
    cost_centre,
    create,
    events_of,
    known_person,
    known_supervisor,
    known_tenant,
    offered,
    ok,
    problem_fields,
    scene,
    submitted,
)


@pytest_asyncio.fixture
async def world(orders_pool: asyncpg.Pool, issuer: TestIssuer) -> Scene:
    return await scene(orders_pool, issuer)


async def test_an_order_goes_from_draft_to_accepted(
    client: Client, world: Scene, layout: DatabaseLayout, orders_pool: asyncpg.Pool
) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = world.body()
    response = await client.post("/orders/orders", json=body, headers=world.approver_headers(**key))
    draft = ok(response, 201)
    assert (draft["status"], response.headers["etag"]) == ("draft", '"1"')
    path = f"/orders/orders/{draft['id']}"

    # Before the offer the provider does not see the order at all.
    provider_admin = world.provider.as_("provider_admin")
    assert (await client.get(path, headers=provider_admin)).status_code == 404

    steps = [("submit", "submitted"), ("approve", "approved"), ("offer", "offered")]
    for version, (action, status) in enumerate(steps, start=1):
        headers = world.approver_headers(**{"If-Match": f'"{version}"'})
        moved = ok(await client.post(f"{path}/{action}", headers=headers))
        assert moved["status"] == status
    assert moved["price"]["netPriceCents"] == 12_000
    assert moved["cancellation"]["noShowChargePercent"] == 50
    assert moved["budgetOverridden"] is False

    seen = ok(await client.get(path, headers=provider_admin))
    assert seen["status"] == "offered"
    listed = ok(await client.get("/orders/orders", headers=provider_admin))
    assert [o["id"] for o in listed["items"]] == [draft["id"]]

    # The supervisor the orderer named is a wish: the provider's admin assigns one of its own.
    supervisor_id = await known_supervisor(orders_pool, world.provider, "story_training")
    assigned = ok(
        await client.post(
            f"{path}/assign-supervisor",
            json={"supervisorId": str(supervisor_id)},
            headers={**provider_admin, "If-Match": '"4"'},
        )
    )
    assert assigned["supervisorId"] == str(supervisor_id)
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

    sent = await events_of(layout, draft["id"])
    assert [e.type for e in sent] == [
        events.OrderSubmitted.event_type,
        events.OrderApproved.event_type,
        events.OrderOffered.event_type,
        events.OrderSupervisorAssigned.event_type,
        events.OrderConflictDeclared.event_type,
        events.OrderAccepted.event_type,
    ]
    # The provider hears of the order from the offer on, not while the buyer drafts and approves it.
    assert [e.tenant_ids for e in sent] == [(world.buyer.id,)] * 2 + [(world.buyer.id, world.provider.id)] * 4
    assert [e.version for e in sent] == [2, 3, 4, 5, 6, 7]
    approved = sent[1].event_as(events.OrderApproved)
    assert approved.participants == [uuid.UUID(p) for p in body["participants"]]
    assert (approved.planned_sessions, approved.duration_minutes) == (10, 90)
    assert approved.price is not None
    assert approved.price.net_price_cents == 12_000
    assert approved.cancellation is not None
    assert approved.cancellation.illness_exempt is True
    assert approved.committed_cents == 120_000
    assert all(b"justification" not in bytes(e.data) and b"Tiimin" not in bytes(e.data) for e in sent)

    # The same key and body answer the same response, even now.
    replay = await client.post("/orders/orders", json=body, headers=world.approver_headers(**key))
    assert ok(replay, 201) == draft
    listed = ok(await client.get("/orders/orders", headers=world.approver_headers()))
    assert [o["id"] for o in listed["items"]] == [draft["id"]]


async def test_a_replayed_idempotency_key_with_another_body_is_refused(client: Client, world: Scene) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = ok(
        await client.post("/orders/orders", json=world.body(), headers=world.approver_headers(**key)), 201
    )
    other = world.body(plannedSessions=3)
    response = await client.post("/orders/orders", json=other, headers=world.approver_headers(**key))
    assert problem_fields(response, 422) == ["header.Idempotency-Key"]
    listed = ok(await client.get("/orders/orders", headers=world.approver_headers()))
    assert [o["id"] for o in listed["items"]] == [first["id"]]


async def test_a_wrong_role_cannot_approve(client: Client, world: Scene) -> None:
    path = await submitted(client, world)
    response = await client.post(f"{path}/approve", headers=world.buyer.as_("employee", "buyer_admin"))
    assert problem_fields(response, 403) == []


async def test_an_approver_of_another_cost_centre_cannot_approve(
    client: Client, world: Scene, orders_pool: asyncpg.Pool
) -> None:
    path = await submitted(client, world)
    other = uuid.uuid4()
    await cost_centre(orders_pool, world.buyer, other)
    response = await client.post(f"{path}/approve", headers=world.buyer.as_("approver", person=other))
    assert problem_fields(response, 404) == []  # not theirs to read: what a random id answers
    assert ok(await client.get(path, headers=world.approver_headers()))["status"] == "submitted"


async def test_another_tenants_order_is_not_found(
    client: Client, world: Scene, orders_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    path = await submitted(client, world)
    stranger = await scene(orders_pool, issuer)
    assert (await client.get(path, headers=stranger.approver_headers())).status_code == 404
    assert (await client.post(f"{path}/approve", headers=stranger.approver_headers())).status_code == 404
    assert ok(await client.get("/orders/orders", headers=stranger.approver_headers()))["items"] == []


async def test_a_provider_not_admitted_is_refused(
    client: Client, world: Scene, orders_pool: asyncpg.Pool
) -> None:
    outsider = await known_tenant(orders_pool, world.buyer.issuer, "provider")
    response = await client.post(
        "/orders/orders", json=world.body(providerId=str(outsider.id)), headers=world.approver_headers()
    )
    assert problem_fields(response, 422) == ["body.providerId"]


async def test_a_draft_naming_another_buyers_agreement_is_refused(
    client: Client, world: Scene, orders_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    # Found by the security suite's isolation matrix: the draft used to keep the foreign id.
    other = await scene(orders_pool, issuer)
    for body in (world.body(agreementId=str(other.agreement_id)), world.body(agreementId=str(uuid.uuid4()))):
        response = await client.post("/orders/orders", json=body, headers=world.approver_headers())
        assert problem_fields(response, 422) == ["body.agreementId"]
    listed = ok(await client.get("/orders/orders", headers=world.approver_headers()))
    assert listed["items"] == []


async def test_an_expired_lot_is_refused(client: Client, world: Scene, orders_pool: asyncpg.Pool) -> None:
    expired = await agreement(
        orders_pool, world.buyer, world.provider, starts="2020-01-01", ends="2021-12-31"
    )
    path = await submitted(client, world, agreementId=str(expired))
    response = await client.post(f"{path}/approve", headers=world.approver_headers())
    assert problem_fields(response, 422) == ["order.agreementId"]


async def test_over_budget_needs_an_override(
    client: Client, orders_pool: asyncpg.Pool, issuer: TestIssuer, layout: DatabaseLayout
) -> None:
    world = await scene(orders_pool, issuer, budget=200_000)
    first = await submitted(client, world)
    ok(await client.post(f"{first}/approve", headers=world.approver_headers()))  # 120 000 of 200 000
    second = await submitted(client, world)
    response = await client.post(f"{second}/approve", headers=world.approver_headers())
    assert problem_fields(response, 422) == ["order.budget"]
    assert ok(await client.get(second, headers=world.approver_headers()))["status"] == "submitted"
    overridden = ok(
        await client.post(
            f"{second}/approve", json={"overrideReason": "Kriisitilanne"}, headers=world.approver_headers()
        )
    )
    assert (overridden["status"], overridden["budgetOverridden"]) == ("approved", True)
    *_, event = await events_of(layout, second.rsplit("/", 1)[1])
    assert event.type == events.OrderApproved.event_type
    assert event.event_as(events.OrderApproved).budget_overridden is True
    assert b"Kriisitilanne" not in bytes(event.data)


async def test_a_stale_if_match_is_refused(client: Client, world: Scene, layout: DatabaseLayout) -> None:
    path = await submitted(client, world)
    response = await client.post(f"{path}/approve", headers=world.approver_headers(**{"If-Match": '"1"'}))
    assert problem_fields(response, 412) == []
    assert ok(await client.get(path, headers=world.approver_headers()))["status"] == "submitted"
    assert len(await events_of(layout, path.rsplit("/", 1)[1])) == 1


async def test_accepting_in_the_wrong_state_is_a_conflict(client: Client, world: Scene) -> None:
    path = await submitted(client, world)
    provider_admin = world.provider.as_("provider_admin")
    # Not yet offered: the provider does not even see it.
    assert (await client.post(f"{path}/accept", headers=provider_admin)).status_code == 404
    for action in ("approve", "offer"):
        ok(await client.post(f"{path}/{action}", headers=world.approver_headers()))
    assert ok(await client.post(f"{path}/decline", headers=provider_admin))["status"] == "declined"
    assert problem_fields(await client.post(f"{path}/accept", headers=provider_admin), 409) == []


async def test_a_buyer_cannot_accept_its_own_offer(client: Client, world: Scene) -> None:
    path = await submitted(client, world)
    for action in ("approve", "offer"):
        ok(await client.post(f"{path}/{action}", headers=world.approver_headers()))
    response = await client.post(f"{path}/accept", headers=world.buyer.as_("provider_admin"))
    assert problem_fields(response, 404) == []


@pytest.mark.parametrize("status", ["draft", "submitted"])
async def test_orders_are_listed_by_status_a_page_at_a_time(
    client: Client, world: Scene, status: str
) -> None:
    made = [(await create(client, world))["id"] for _ in range(3)]
    first = ok(await client.get("/orders/orders", params={"limit": 2}, headers=world.approver_headers()))
    second = ok(
        await client.get(
            "/orders/orders",
            params={"limit": 2, "cursor": first["nextCursor"]},
            headers=world.approver_headers(),
        )
    )
    assert sorted(o["id"] for o in first["items"] + second["items"]) == sorted(made)
    filtered = ok(
        await client.get(
            "/orders/orders",
            params={"status": status, "costCentreId": str(world.cost_centre_id)},
            headers=world.approver_headers(),
        )
    )
    assert len(filtered["items"]) == (3 if status == "draft" else 0)


async def test_a_declined_ranking_offer_passes_to_the_next_provider(
    client: Client, world: Scene, orders_pool: asyncpg.Pool, layout: DatabaseLayout
) -> None:
    second = await known_tenant(orders_pool, world.buyer.issuer, "provider")
    ranked = await agreement(orders_pool, world.buyer, world.provider, second)
    path = await submitted(client, world, agreementId=str(ranked), selection="ranking", justification=None)
    for action in ("approve", "offer"):
        ok(await client.post(f"{path}/{action}", headers=world.approver_headers()))
    passed = ok(await client.post(f"{path}/decline", headers=world.provider.as_("provider_admin")))
    assert (passed["status"], passed["providerId"], passed["supervisorId"]) == (
        "offered",
        str(second.id),
        None,
    )
    assert (await client.get(path, headers=world.provider.as_("provider_admin"))).status_code == 404
    assert ok(await client.get(path, headers=second.as_("provider_admin")))["status"] == "offered"
    *_, event = await events_of(layout, path.rsplit("/", 1)[1])
    assert event.type == events.OrderOffered.event_type
    # The offer's facts go to the buyer and the next provider, not to the one who declined.
    assert event.tenant_ids == (world.buyer.id, second.id)


async def test_the_buyers_justification_is_not_shown_to_the_provider(client: Client, world: Scene) -> None:
    path = await submitted(client, world)
    for action in ("approve", "offer"):
        ok(await client.post(f"{path}/{action}", headers=world.approver_headers()))
    assert ok(await client.get(path, headers=world.approver_headers()))["justification"]
    assert ok(await client.get(path, headers=world.provider.as_("provider_admin")))["justification"] is None


async def test_a_colleague_reusing_an_idempotency_key_does_not_get_the_order(
    client: Client, world: Scene
) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = world.body()
    first = ok(await client.post("/orders/orders", json=body, headers=world.approver_headers(**key)), 201)
    colleague = world.buyer.as_("approver") | key  # another person of the same tenant
    response = await client.post("/orders/orders", json=body, headers=colleague)
    # A key is the caller's own (tenant, caller, key): the colleague's request is a new one of
    # theirs, never a replay, and answered on its own merits (orders knows no such approver).
    assert response.status_code == 403
    assert first["id"] not in response.text


@pytest.mark.parametrize("key", ["", " ", "a b", "x" * 201])
async def test_an_unusable_idempotency_key_is_a_400(client: Client, world: Scene, key: str) -> None:
    response = await client.post(
        "/orders/orders", json=world.body(), headers=world.approver_headers(**{"Idempotency-Key": key})
    )
    assert response.status_code == 400


async def test_the_provider_admin_assigns_a_qualified_supervisor(
    client: Client, world: Scene, orders_pool: asyncpg.Pool, layout: DatabaseLayout
) -> None:
    path = await offered(client, world)
    supervisor = await known_supervisor(orders_pool, world.provider, "story_training", "other")
    provider_admin = world.provider.as_("provider_admin")
    response = await client.post(
        f"{path}/assign-supervisor",
        json={"supervisorId": str(supervisor)},
        headers={**provider_admin, "If-Match": '"4"'},
    )
    assigned = ok(response)
    assert (assigned["supervisorId"], assigned["version"], assigned["conflict"]) == (
        str(supervisor),
        5,
        "undeclared",
    )
    assert response.headers["etag"] == '"5"'
    assert ok(await client.get(path, headers=world.approver_headers()))["supervisorId"] == str(supervisor)
    *_, event = await events_of(layout, path.rsplit("/", 1)[1])
    assert event.type == events.OrderSupervisorAssigned.event_type
    assert event.event_as(events.OrderSupervisorAssigned).supervisor_id == supervisor
    # A stale version is refused.
    stale = await client.post(
        f"{path}/assign-supervisor",
        json={"supervisorId": str(supervisor)},
        headers={**provider_admin, "If-Match": '"4"'},
    )
    assert stale.status_code == 412


async def test_an_unqualified_or_unknown_supervisor_is_refused(
    client: Client, world: Scene, orders_pool: asyncpg.Pool
) -> None:
    path = await offered(client, world)
    provider_admin = world.provider.as_("provider_admin")
    unqualified = await known_supervisor(orders_pool, world.provider, "valvira_registration")
    response = await client.post(
        f"{path}/assign-supervisor", json={"supervisorId": str(unqualified)}, headers=provider_admin
    )
    assert problem_fields(response, 422) == ["body.supervisorId"]
    # Another provider's supervisor is not known in this provider's scope.
    elsewhere = await known_supervisor(orders_pool, world.buyer, "story_training")
    response = await client.post(
        f"{path}/assign-supervisor", json={"supervisorId": str(elsewhere)}, headers=provider_admin
    )
    assert problem_fields(response, 422) == ["body.supervisorId"]
    assert ok(await client.get(path, headers=provider_admin))["version"] == 4


async def test_a_buyer_cannot_assign_a_supervisor(
    client: Client, world: Scene, orders_pool: asyncpg.Pool
) -> None:
    path = await offered(client, world)
    supervisor = await known_supervisor(orders_pool, world.provider, "story_training")
    body = {"supervisorId": str(supervisor)}
    for headers in (world.approver_headers(), world.buyer.as_("provider_admin")):
        response = await client.post(f"{path}/assign-supervisor", json=body, headers=headers)
        assert response.status_code in (403, 404), response.text


async def test_a_declared_conflict_is_accepted_before_the_provider_accepts(
    client: Client, world: Scene, orders_pool: asyncpg.Pool
) -> None:
    participant = world.people[1]
    path = await offered(client, world, participants=[str(participant)])
    supervisor = await known_supervisor(orders_pool, world.provider, "story_training")
    provider_admin = world.provider.as_("provider_admin")
    body = {"supervisorId": str(supervisor)}
    ok(await client.post(f"{path}/assign-supervisor", json=body, headers=provider_admin))
    as_supervisor = world.provider.as_("supervisor", person=supervisor)
    declared = ok(
        await client.post(
            f"{path}/declare-conflict",
            json={"relatedParticipants": [str(participant)]},
            headers=as_supervisor,
        )
    )
    assert declared["conflict"] == "declared"
    # Not yet cleared: the provider cannot accept.
    assert (await client.post(f"{path}/accept", headers=provider_admin)).status_code == 422
    # Someone unrelated may not accept the conflict for them.
    stranger = world.buyer.as_("employee")
    assert problem_fields(await client.post(f"{path}/accept-conflict", headers=stranger), 404) == []

    by_buyer = await client.post(
        f"{path}/accept-conflict", headers=world.approver_headers(**{"If-Match": f'"{declared["version"]}"'})
    )
    assert ok(by_buyer)["version"] == declared["version"] + 1
    ok(await client.post(f"{path}/accept-conflict", headers=world.buyer.as_("employee", person=participant)))
    accepted = ok(await client.post(f"{path}/accept", headers=provider_admin))
    assert accepted["status"] == "accepted"


async def test_accepting_a_conflict_that_was_not_declared_is_a_conflict(client: Client, world: Scene) -> None:
    path = await offered(client, world)
    response = await client.post(f"{path}/accept-conflict", headers=world.approver_headers())
    assert problem_fields(response, 409) == []


async def test_participants_are_active_people_of_the_buyer(
    client: Client, world: Scene, orders_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    other_buyer = await known_tenant(orders_pool, issuer, "buyer")
    strangers = {
        "unknown": uuid.uuid4(),
        "deactivated": await known_person(orders_pool, world.buyer, active=False),
        "of another tenant": await known_person(orders_pool, other_buyer),
    }
    for who, person in strangers.items():
        body = world.body(form="pair", participants=[str(world.people[1]), str(person)])
        response = await client.post("/orders/orders", json=body, headers=world.approver_headers())
        assert problem_fields(response, 422) == ["body.participants"], who
        assert str(person) not in response.text
    assert ok(await client.get("/orders/orders", headers=world.approver_headers()))["items"] == []
    both = world.body(form="pair", participants=[str(world.people[1]), str(world.people[2])])
    made = ok(await client.post("/orders/orders", json=both, headers=world.approver_headers()), 201)
    assert made["participants"] == [str(world.people[1]), str(world.people[2])]


@pytest.mark.parametrize(
    "overrides",
    [{"durationMinutes": 60}, {"mode": "at_buyer"}, {"form": "pair", "durationMinutes": 45}],
    ids=["duration", "mode", "form"],
)
async def test_a_duration_the_price_list_lacks_is_refused_when_the_order_is_created(
    client: Client, world: Scene, layout: DatabaseLayout, overrides: dict[str, Any]
) -> None:
    """Not stored to be refused only at approval (issue 13 item 5): 422 naming durationMinutes."""
    if overrides.get("form") == "pair":
        overrides["participants"] = [str(world.people[0]), str(world.people[1])]
    response = await client.post(
        "/orders/orders", json=world.body(**overrides), headers=world.approver_headers()
    )
    assert problem_fields(response, 422) == ["body.durationMinutes"]
    assert "priced durations: " + ("none" if "mode" in overrides else "90") in response.json()["detail"]
    assert ok(await client.get("/orders/orders", headers=world.approver_headers()))["items"] == []
    # The priced duration of the same form and mode is accepted.
    ok(await client.post("/orders/orders", json=world.body(), headers=world.approver_headers()), 201)
