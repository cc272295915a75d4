"""Supervision orders over HTTP, on real servers: draft → submitted → approved → offered → accepted,
the events in the outbox, and each refusal.

Read models (tenants, cost centres, approvers) and active agreements are put straight into the
orders database, as the consumers and the agreement routes would.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient

from services.orders import store
from services.orders.domain.agreements import (
    AdmittedProvider,
    AgreementContent,
    AgreementStatus,
    CancellationTerms,
    DeliveryMode,
    FrameworkAgreement,
    Lot,
    PriceItem,
    PriceUnit,
    QualificationKind,
    SupervisionForm,
    Validity,
)
from shared import approvers as shared_approvers
from shared.contracts import orders as events
from shared.db.provision import DatabaseLayout
from shared.db.tenant import tenant_transaction
from shared.events.envelope import Envelope, decode_envelope
from shared.testing.issuer import TestIssuer
from tests.factories import business_id

Client = AsyncTestClient[Litestar]
Headers = dict[str, str]

PROBLEM_JSON = "application/problem+json"
LOT = "Yksilötyönohjaus"


@dataclass
class Org:
    id: uuid.UUID
    issuer: TestIssuer

    def as_(self, *roles: str, person: uuid.UUID | None = None) -> Headers:
        subject = str(person or uuid.uuid4())
        token = self.issuer.token(tenant_id=self.id, roles=roles, subject=subject)
        return {"Authorization": f"Bearer {token}"}


async def known_tenant(pool: asyncpg.Pool, issuer: TestIssuer, kind: str) -> Org:
    tenant_id = uuid.uuid4()
    async with tenant_transaction(pool, tenant_id) as conn:
        await conn.execute(
            "insert into tenant_directory (tenant_id, name, kind, business_id, version)"
            " values ($1, $2, $3, $4, 1)",
            tenant_id,
            f"{kind} {tenant_id.hex[:6]}",
            kind,
            business_id(),
        )
    return Org(tenant_id, issuer)


async def cost_centre(
    pool: asyncpg.Pool, buyer: Org, *approvers: uuid.UUID, budget: int = 1_000_000
) -> uuid.UUID:
    cost_centre_id = uuid.uuid4()
    async with tenant_transaction(pool, buyer.id) as conn:
        await conn.execute(
            "insert into known_cost_centres"
            " (tenant_id, cost_centre_id, code, name, yearly_budget_cents, active, version)"
            " values ($1, $2, '4100', 'Lastensuojelu', $3, true, 1)",
            buyer.id,
            cost_centre_id,
            budget,
        )
        for person_id in approvers:
            await shared_approvers.set_approver(
                conn, buyer.id, cost_centre_id, person_id, assigned=True, version=1
            )
    return cost_centre_id


async def known_person(pool: asyncpg.Pool, org: Org, *, active: bool = True) -> uuid.UUID:
    """A person of ``org`` as the organisations consumer records them in orders."""
    person_id = uuid.uuid4()
    async with tenant_transaction(pool, org.id) as conn:
        await conn.execute(
            "insert into known_people (tenant_id, person_id, roles, active, version)"
            " values ($1, $2, '{employee}', $3, 1)",
            org.id,
            person_id,
            active,
        )
    return person_id


async def agreement(
    pool: asyncpg.Pool,
    buyer: Org,
    provider: Org,
    *also: Org,
    starts: str = "2026-01-01",
    ends: str = "2029-12-31",
) -> uuid.UUID:
    """An active agreement with one lot admitting ``provider``, straight into the buyer's table."""
    content = AgreementContent(
        number=f"PIR-{uuid.uuid4().hex[:6]}",
        title="Työnohjauspalvelut",
        validity=Validity(
            starts_on=dt.date.fromisoformat(starts),
            first_term_ends_on=dt.date.fromisoformat(ends),
            hard_end_on=dt.date.fromisoformat(ends),
        ),
        lots=(
            Lot(
                name=LOT,
                forms=(SupervisionForm.INDIVIDUAL, SupervisionForm.PAIR),
                region="Pirkanmaa",
                required_qualifications=frozenset({QualificationKind.STORY_TRAINING}),
                providers=tuple(
                    AdmittedProvider(provider_id=p.id, rank=i + 1) for i, p in enumerate((provider, *also))
                ),
            ),
        ),
        price_items=(
            PriceItem(
                lot=LOT,
                form=SupervisionForm.INDIVIDUAL,
                duration_minutes=90,
                mode=DeliveryMode.REMOTE,
                unit=PriceUnit.PER_SESSION,
                net_price_cents=12_000,
                valid_from=dt.date.fromisoformat(starts),
            ),
            PriceItem(
                lot=LOT,
                form=SupervisionForm.PAIR,
                duration_minutes=90,
                mode=DeliveryMode.REMOTE,
                unit=PriceUnit.PER_SESSION,
                net_price_cents=15_000,
                valid_from=dt.date.fromisoformat(starts),
            ),
        ),
        cancellation=CancellationTerms(
            late_threshold_hours=48,
            late_cancellation_charge_percent=100,
            no_show_charge_percent=50,
            illness_exempt=True,
        ),
    )
    made = FrameworkAgreement(
        agreement_id=uuid.uuid4(), status=AgreementStatus.ACTIVE, version=2, content=content
    )
    async with tenant_transaction(pool, buyer.id) as conn:
        await store.insert_agreement(conn, buyer.id, made)
    return made.agreement_id


@dataclass
class Scene:
    buyer: Org
    provider: Org
    approver: uuid.UUID
    cost_centre_id: uuid.UUID
    agreement_id: uuid.UUID
    supervisor: uuid.UUID
    people: list[uuid.UUID]
    """Active employees of the buyer; the first takes part in every order unless told otherwise."""

    def approver_headers(self, **extra: str) -> Headers:
        return {**self.buyer.as_("approver", person=self.approver), **extra}

    def body(self, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "costCentreId": str(self.cost_centre_id),
            "agreementId": str(self.agreement_id),
            "lot": LOT,
            "form": "individual",
            "participants": [str(self.people[0])],
            "plannedSessions": 10,
            "durationMinutes": 90,
            "startsOn": "2026-12-01",
            "endsOn": "2027-06-30",
            "mode": "remote",
            "selection": "needs_based",
            "justification": "Tiimin tarpeisiin sopiva menetelmä",
            "providerId": str(self.provider.id),
            "supervisorId": str(self.supervisor),
        }
        body.update(overrides)
        return body


async def scene(pool: asyncpg.Pool, issuer: TestIssuer, *, budget: int = 1_000_000) -> Scene:
    buyer = await known_tenant(pool, issuer, "buyer")
    provider = await known_tenant(pool, issuer, "provider")
    approver = uuid.uuid4()
    return Scene(
        buyer=buyer,
        provider=provider,
        approver=approver,
        cost_centre_id=await cost_centre(pool, buyer, approver, budget=budget),
        agreement_id=await agreement(pool, buyer, provider),
        supervisor=uuid.uuid4(),
        people=[await known_person(pool, buyer) for _ in range(3)],
    )


@pytest_asyncio.fixture
async def world(orders_pool: asyncpg.Pool, issuer: TestIssuer) -> Scene:
    return await scene(orders_pool, issuer)


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def problem_fields(response: httpx.Response, status: int) -> list[str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    return [error["field"] for error in response.json().get("errors") or []]


async def events_of(layout: DatabaseLayout, subject: str) -> list[Envelope]:
    """The outbox as the relay sees it (the app role may only insert there)."""
    conn = await asyncpg.connect(layout.relay_url)
    try:
        rows = await conn.fetch(
            "select payload from outbox where subject like 'orders.order.%' order by created_at"
        )
    finally:
        await conn.close()
    envelopes = [decode_envelope(bytes(row["payload"])) for row in rows]
    return [e for e in envelopes if e.subject == subject]


async def create(client: Client, world: Scene, **overrides: Any) -> dict[str, Any]:
    return ok(
        await client.post("/orders/orders", json=world.body(**overrides), headers=world.approver_headers()),
        201,
    )


async def submitted(client: Client, world: Scene, **overrides: Any) -> str:
    order = await create(client, world, **overrides)
    path = f"/orders/orders/{order['id']}"
    ok(await client.post(f"{path}/submit", headers=world.approver_headers()))
    return path


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


async def known_supervisor(pool: asyncpg.Pool, provider: Org, *kinds: str) -> uuid.UUID:
    """A supervisor profile in the provider's own tenant scope, as the organisations consumer writes it."""
    person_id = uuid.uuid4()
    async with tenant_transaction(pool, provider.id) as conn:
        await conn.execute(
            "insert into known_supervisors (tenant_id, person_id, forms, languages, regions,"
            " delivery_modes, available, qualifications, version)"
            " values ($1, $2, '{individual}', '{fi}', '{Pirkanmaa}', '{remote}', true, $3::jsonb, 1)",
            provider.id,
            person_id,
            [{"type": kind} for kind in kinds],
        )
    return person_id


async def offered(client: Client, world: Scene, **overrides: Any) -> str:
    path = await submitted(client, world, **overrides)
    for action in ("approve", "offer"):
        ok(await client.post(f"{path}/{action}", headers=world.approver_headers()))
    return path


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
