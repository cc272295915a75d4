"""Orders' read models of cost centres, approvers, people and supervisors follow organisations' events."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from services.orders import handlers
from services.orders.consumers import SUBSCRIPTIONS, directory_subscription
from shared.contracts import Event
from shared.contracts.organisations import (
    ApproverAssigned,
    ApproverRemoved,
    CostCentreCreated,
    CostCentreDeactivated,
    CostCentreUpdated,
    PersonCreated,
    PersonDeactivated,
    PersonUpdated,
    QualificationFact,
    SupervisorProfileCreated,
    SupervisorProfileUpdated,
    TenantCreated,
    TenantDeactivated,
    TenantUpdated,
)
from shared.db.tenant import tenant_transaction
from shared.events import EventConsumer, connect_nats, encode_envelope, ensure_stream, envelope_for
from shared.events.consumer import apply_event
from shared.events.envelope import Envelope
from shared.events.streams import STREAMS, ConsumerSpec
from shared.testing.issuer import TestIssuer
from shared.testing.plugin import Stack
from tests.factories import business_id

Client = AsyncTestClient[Litestar]


def _envelope(event: Event, tenant: uuid.UUID, subject: uuid.UUID, version: int) -> Envelope:
    return envelope_for(event, source="organisations", subject=subject, version=version, tenant_ids=[tenant])


def _cost_centre(
    tenant: uuid.UUID,
    cost_centre: uuid.UUID,
    *,
    version: int,
    name: str = "Lastensuojelu",
    code: str = "4100",
    updated: bool = False,
) -> Envelope:
    facts = {
        "cost_centre_id": cost_centre,
        "org_unit_id": uuid.uuid4(),
        "code": code,
        "name": name,
        "yearly_budget_cents": 5_000_000,
        "active": True,
    }
    event = CostCentreUpdated(**facts) if updated else CostCentreCreated(**facts)  # type: ignore[arg-type]
    return _envelope(event, tenant, cost_centre, version)


async def _apply(pool: asyncpg.Pool, tenant: uuid.UUID, envelope: Envelope) -> None:
    async with tenant_transaction(pool, tenant) as conn:
        assert await apply_event(directory_subscription().handlers, conn, envelope)


async def _row(pool: asyncpg.Pool, tenant: uuid.UUID, sql: str, *args: object) -> asyncpg.Record | None:
    async with tenant_transaction(pool, tenant) as conn:
        row: asyncpg.Record | None = await conn.fetchrow(sql, *args)
    return row


async def _known_cost_centre(
    pool: asyncpg.Pool, tenant: uuid.UUID, cost_centre: uuid.UUID
) -> asyncpg.Record | None:
    return await _row(
        pool,
        tenant,
        "select code, name, active, version from known_cost_centres where cost_centre_id = $1",
        cost_centre,
    )


def test_the_directory_consumer_has_its_own_durable() -> None:
    durables = [subscription.spec.durable for subscription in SUBSCRIPTIONS]
    assert durables == ["orders__organisations", "orders-directory__organisations", "orders__sessions"]


async def test_a_cost_centre_follows_its_newest_version_and_deactivation(orders_pool: asyncpg.Pool) -> None:
    tenant, cost_centre = uuid.uuid4(), uuid.uuid4()
    await _apply(orders_pool, tenant, _cost_centre(tenant, cost_centre, version=1))
    row = await _known_cost_centre(orders_pool, tenant, cost_centre)
    assert row is not None
    assert (row["name"], row["active"], row["version"]) == ("Lastensuojelu", True, 1)

    await _apply(
        orders_pool, tenant, _cost_centre(tenant, cost_centre, version=3, name="Uusin", updated=True)
    )
    await _apply(
        orders_pool, tenant, _cost_centre(tenant, cost_centre, version=2, name="Vanha", updated=True)
    )
    await _apply(orders_pool, tenant, _cost_centre(tenant, cost_centre, version=1, name="Luonti"))
    row = await _known_cost_centre(orders_pool, tenant, cost_centre)
    assert row is not None
    assert (row["name"], row["version"]) == ("Uusin", 3)

    deactivated = CostCentreDeactivated(cost_centre_id=cost_centre)
    await _apply(orders_pool, tenant, _envelope(deactivated, tenant, cost_centre, 4))
    row = await _known_cost_centre(orders_pool, tenant, cost_centre)
    assert row is not None
    assert (row["name"], row["active"], row["version"]) == ("Uusin", False, 4)


async def test_an_update_or_deactivation_before_the_creation_is_retried(orders_pool: asyncpg.Pool) -> None:
    tenant, cost_centre, person = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with pytest.raises(handlers.NotYetKnown):
        await _apply(orders_pool, tenant, _cost_centre(tenant, cost_centre, version=2, updated=True))
    with pytest.raises(handlers.NotYetKnown):
        await _apply(
            orders_pool,
            tenant,
            _envelope(CostCentreDeactivated(cost_centre_id=cost_centre), tenant, cost_centre, 2),
        )
    with pytest.raises(handlers.NotYetKnown):
        await _apply(orders_pool, tenant, _envelope(PersonDeactivated(person_id=person), tenant, person, 2))
    with pytest.raises(handlers.NotYetKnown):
        await _apply(orders_pool, tenant, _supervisor(tenant, person, version=2, updated=True))


async def test_approvers_are_assigned_and_removed_idempotently(orders_pool: asyncpg.Pool) -> None:
    tenant, cost_centre, person = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    assigned = _envelope(
        ApproverAssigned(cost_centre_id=cost_centre, person_id=person), tenant, cost_centre, 2
    )
    with pytest.raises(handlers.NotYetKnown):
        await _apply(orders_pool, tenant, assigned)
    await _apply(orders_pool, tenant, _cost_centre(tenant, cost_centre, version=1))
    await _apply(orders_pool, tenant, assigned)
    await _apply(orders_pool, tenant, assigned)
    sql = "select array_agg(person_id) as ids from approver_directory where cost_centre_id = $1 and assigned"
    row = await _row(orders_pool, tenant, sql, cost_centre)
    assert row is not None
    assert row["ids"] == [person]

    removed = _envelope(ApproverRemoved(cost_centre_id=cost_centre, person_id=person), tenant, cost_centre, 3)
    await _apply(orders_pool, tenant, removed)
    await _apply(orders_pool, tenant, removed)
    row = await _row(orders_pool, tenant, sql, cost_centre)
    assert row is not None
    assert row["ids"] is None
    # The older assignment delivered again after the removal does not bring the approver back.
    await _apply(orders_pool, tenant, _with_new_id(assigned))
    row = await _row(orders_pool, tenant, sql, cost_centre)
    assert row is not None
    assert row["ids"] is None
    reassigned = _envelope(
        ApproverAssigned(cost_centre_id=cost_centre, person_id=person), tenant, cost_centre, 4
    )
    await _apply(orders_pool, tenant, reassigned)
    row = await _row(orders_pool, tenant, sql, cost_centre)
    assert row is not None
    assert row["ids"] == [person]


def _with_new_id(envelope: Envelope) -> Envelope:
    """The same event published again (after the duplicate window): a new message id."""
    return msgspec.structs.replace(envelope, id=uuid.uuid4())


def _person(
    tenant: uuid.UUID, person: uuid.UUID, *, version: int, roles: list[str], updated: bool = False
) -> Envelope:
    facts = {"person_id": person, "roles": roles, "hr_employee_number": "H-1001", "active": True}
    event = PersonUpdated(**facts) if updated else PersonCreated(**facts)  # type: ignore[arg-type]
    return _envelope(event, tenant, person, version)


async def test_a_person_follows_their_newest_roles_and_deactivation(orders_pool: asyncpg.Pool) -> None:
    tenant, person = uuid.uuid4(), uuid.uuid4()
    sql = "select roles, hr_employee_number, active, version from known_people where person_id = $1"
    await _apply(orders_pool, tenant, _person(tenant, person, version=1, roles=["employee"]))
    await _apply(orders_pool, tenant, _person(tenant, person, version=3, roles=["approver"], updated=True))
    await _apply(orders_pool, tenant, _person(tenant, person, version=2, roles=["buyer_admin"], updated=True))
    row = await _row(orders_pool, tenant, sql, person)
    assert row is not None
    assert (row["roles"], row["hr_employee_number"], row["active"], row["version"]) == (
        ["approver"],
        "H-1001",
        True,
        3,
    )
    await _apply(orders_pool, tenant, _envelope(PersonDeactivated(person_id=person), tenant, person, 4))
    row = await _row(orders_pool, tenant, sql, person)
    assert row is not None
    assert (row["active"], row["version"]) == (False, 4)


def _supervisor(
    tenant: uuid.UUID, person: uuid.UUID, *, version: int, available: bool = True, updated: bool = False
) -> Envelope:
    facts = {
        "person_id": person,
        "forms": ["individual", "group"],
        "languages": ["fi", "sv"],
        "regions": ["Pohjois-Savo"],
        "delivery_modes": ["remote"],
        "available": available,
        "qualifications": [
            QualificationFact(type="story_training", ects=60.0, completed_on=dt.date(2020, 5, 31)),
        ],
    }
    event = SupervisorProfileUpdated(**facts) if updated else SupervisorProfileCreated(**facts)  # type: ignore[arg-type]
    return _envelope(event, tenant, person, version)


async def test_a_supervisor_profile_follows_its_newest_version(orders_pool: asyncpg.Pool) -> None:
    tenant, person = uuid.uuid4(), uuid.uuid4()
    sql = (
        "select forms, languages, available, qualifications, version"
        " from known_supervisors where person_id = $1"
    )
    await _apply(orders_pool, tenant, _supervisor(tenant, person, version=1))
    await _apply(orders_pool, tenant, _supervisor(tenant, person, version=3, available=False, updated=True))
    await _apply(orders_pool, tenant, _supervisor(tenant, person, version=2, available=True, updated=True))
    row = await _row(orders_pool, tenant, sql, person)
    assert row is not None
    assert (row["forms"], row["languages"], row["available"], row["version"]) == (
        ["individual", "group"],
        ["fi", "sv"],
        False,
        3,
    )
    assert row["qualifications"] == [
        {"type": "story_training", "ects": 60.0, "completedOn": "2020-05-31", "verifiedOn": None}
    ]


async def test_through_the_consumer_events_out_of_order_converge(
    stack: Stack, orders_pool: asyncpg.Pool
) -> None:
    tenant, cost_centre, person = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    early = [
        _cost_centre(tenant, cost_centre, version=2, name="Päivitetty", updated=True),
        _envelope(ApproverAssigned(cost_centre_id=cost_centre, person_id=person), tenant, cost_centre, 3),
        _person(tenant, person, version=2, roles=["approver"], updated=True),
    ]
    late = [
        _cost_centre(tenant, cost_centre, version=1),
        _person(tenant, person, version=1, roles=["employee"]),
    ]
    nc = await connect_nats(stack.nats_url, name="orders-read-models-test")
    try:
        js = nc.jetstream()
        await ensure_stream(js, STREAMS["organisations"])
        for envelope in early:
            await js.publish(envelope.type, encode_envelope(envelope))
        subscription = directory_subscription(f"ordersreadtest{uuid.uuid4().hex[:6]}")
        consumer = EventConsumer(
            spec=subscription.spec,
            pool=orders_pool,
            nats=nc,
            handlers=subscription.handlers,
            fetch_timeout=0.2,
        )
        task = asyncio.create_task(consumer.run())
        try:
            # the early ones have been tried and put back: a delivery beyond the three messages
            async with asyncio.timeout(60):
                while not await _redelivered(js, subscription.spec, len(early)):
                    await asyncio.sleep(0.05)
            for envelope in late:
                await js.publish(envelope.type, encode_envelope(envelope))
            async with asyncio.timeout(60):
                while True:
                    cost = await _known_cost_centre(orders_pool, tenant, cost_centre)
                    people = await _row(
                        orders_pool, tenant, "select roles from known_people where person_id = $1", person
                    )
                    approvers = await _row(
                        orders_pool,
                        tenant,
                        "select count(*) as n from approver_directory where person_id = $1 and assigned",
                        person,
                    )
                    if (
                        cost is not None
                        and cost["name"] == "Päivitetty"
                        and people is not None
                        and people["roles"] == ["approver"]
                        and approvers is not None
                        and approvers["n"] == 1
                    ):
                        break
                    await asyncio.sleep(0.1)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert consumer.dead_lettered == 0
    finally:
        await nc.close()


async def _redelivered(js: JetStreamContext, spec: ConsumerSpec, messages: int) -> bool:
    """More deliveries than messages: one of them was put back and came again."""
    try:
        info = await js.consumer_info(spec.stream, spec.durable)
    except NotFoundError:
        return False  # the consumer is not declared yet
    return (info.delivered.consumer_seq or 0) > messages


def _bearer(issuer: TestIssuer, tenant: uuid.UUID, role: str = "approver") -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token(tenant_id=tenant, roles=[role])}"}


async def test_the_route_lists_only_the_callers_cost_centres_page_by_page(
    client: Client, issuer: TestIssuer, orders_pool: asyncpg.Pool
) -> None:
    tenant, stranger = uuid.uuid4(), uuid.uuid4()
    cost_centres = sorted(uuid.uuid4() for _ in range(3))
    approver = uuid.uuid4()
    for number, cost_centre in enumerate(cost_centres):
        await _apply(orders_pool, tenant, _cost_centre(tenant, cost_centre, version=1, code=f"41{number:02}"))
    assigned = ApproverAssigned(cost_centre_id=cost_centres[0], person_id=approver)
    await _apply(orders_pool, tenant, _envelope(assigned, tenant, cost_centres[0], 2))

    seen: list[dict[str, object]] = []
    cursor: str | None = None
    for _ in range(3):
        params: dict[str, str | int] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        response = await client.get("/orders/cost-centres", params=params, headers=_bearer(issuer, tenant))
        assert response.status_code == 200, response.text
        body = response.json()
        seen += body["items"]
        cursor = body.get("nextCursor")
        if cursor is None:
            break
    assert [item["id"] for item in seen] == [str(c) for c in cost_centres]
    assert seen[0] == {
        "id": str(cost_centres[0]),
        "code": "4100",
        "name": "Lastensuojelu",
        "yearlyBudgetCents": 5_000_000,
        "active": True,
        "approverIds": [str(approver)],
    }
    assert seen[1]["approverIds"] == []

    response = await client.get("/orders/cost-centres", headers=_bearer(issuer, stranger))
    assert response.status_code == 200, response.text
    assert response.json() == {"items": []}

    assert (await client.get("/orders/cost-centres")).status_code == 401
    bad = await client.get("/orders/cost-centres", params={"cursor": "!!"}, headers=_bearer(issuer, tenant))
    assert bad.status_code == 400


async def test_budgets_and_approvers_are_not_every_employees_nor_a_machine_clients(
    client: Client, issuer: TestIssuer, orders_pool: asyncpg.Pool
) -> None:
    """As organisations' own cost-centre route: the buyer's admins and approvers only (issue 12/9)."""
    tenant, cost_centre = uuid.uuid4(), uuid.uuid4()
    await _apply(orders_pool, tenant, _cost_centre(tenant, cost_centre, version=1, code="4100"))
    for role in ("buyer_admin", "approver"):
        response = await client.get("/orders/cost-centres", headers=_bearer(issuer, tenant, role))
        assert response.status_code == 200, response.text
        assert [item["id"] for item in response.json()["items"]] == [str(cost_centre)]
    hr_system = issuer.token(
        tenant_id=tenant, scopes=["events:read"], subject=f"client:{uuid.uuid4()}", client_id="hr"
    )
    as_client_with_role = issuer.token(
        tenant_id=tenant, roles=["buyer_admin"], subject=f"client:{uuid.uuid4()}", client_id="hr"
    )
    refused = [
        _bearer(issuer, tenant, "employee"),
        _bearer(issuer, tenant, "supervisor"),
        {"Authorization": f"Bearer {hr_system}"},
        {"Authorization": f"Bearer {as_client_with_role}"},
    ]
    for headers in refused:
        response = await client.get("/orders/cost-centres", headers=headers)
        assert response.status_code == 403, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert "yearlyBudgetCents" not in response.text


def _tenant_event(
    tenant: uuid.UUID, kind: str, name: str, version: int, *, updated: bool = False
) -> Envelope:
    cls = TenantUpdated if updated else TenantCreated
    event = cls(tenant_id=tenant, name=name, kind=kind, business_id=business_id())  # type: ignore[arg-type]
    return _envelope(event, tenant, tenant, version)


async def _catalogue(pool: asyncpg.Pool, provider: uuid.UUID) -> asyncpg.Record | None:
    async with pool.acquire() as conn:  # public facts: no tenant scope needed, from any tenant
        row: asyncpg.Record | None = await conn.fetchrow(
            "select name, active, version from provider_catalogue where provider_id = $1", provider
        )
    return row


async def test_provider_tenants_form_a_public_catalogue_that_follows_their_events(
    orders_pool: asyncpg.Pool,
) -> None:
    provider, buyer = uuid.uuid4(), uuid.uuid4()
    await _apply(orders_pool, provider, _tenant_event(provider, "provider", "Työnohjaus Oy", 1))
    await _apply(orders_pool, buyer, _tenant_event(buyer, "buyer", "Hyvinvointialue", 1))
    assert await _catalogue(orders_pool, buyer) is None  # buyers are nobody's to admit
    await _apply(orders_pool, provider, _tenant_event(provider, "provider", "Uusi nimi Oy", 3, updated=True))
    await _apply(orders_pool, provider, _tenant_event(provider, "provider", "Vanha nimi Oy", 2, updated=True))
    row = await _catalogue(orders_pool, provider)
    assert row is not None
    assert (row["name"], row["active"], row["version"]) == ("Uusi nimi Oy", True, 3)
    await _apply(
        orders_pool, provider, _envelope(TenantDeactivated(tenant_id=provider), provider, provider, 4)
    )
    row = await _catalogue(orders_pool, provider)
    assert row is not None
    assert (row["active"], row["version"]) == (False, 4)
