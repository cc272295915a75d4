"""A buyer, a provider and an order between them, as billing hears of them; session events to publish.

Organisations' and orders' facts are applied through billing's own consumer handlers; session
events travel for real: published onto the SESSIONS stream and heard by billing's consumer.
The billing API's run, issue and UBL calls as the provider admin makes them. (E-invoice schema
and rule checks are ``tests/billing/einvoice.py``, also used by the end-to-end tests.)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient
from nats.aio.client import Client as NATS

from services.billing.consumers import (
    orders_subscription,
    organisations_subscription,
    sessions_subscription,
)
from shared.contracts import Event
from shared.contracts.orders import CancellationTermsFact, OrderOffered, PriceItemFact
from shared.contracts.organisations import (
    ApproverAssigned,
    CostCentreCreated,
    EInvoiceAddress,
    PostalAddress,
    TenantCreated,
)
from shared.contracts.sessions import (
    AttendanceFact,
    CancellationCategory,
    SessionCancelled,
    SessionHeld,
    SessionNoShow,
)
from shared.db.tenant import tenant_transaction
from shared.events import ConsumerSpec, EventConsumer, encode_envelope, envelope_for
from shared.events.consumer import On, apply_event
from shared.events.envelope import Envelope
from shared.events.worker import Subscription
from shared.testing.issuer import TestIssuer
from tests.factories import business_id, iban, ovt, vat_id

Headers = dict[str, str]
TERMS = CancellationTermsFact(
    late_threshold_hours=48,
    late_cancellation_charge_percent=50,
    no_show_charge_percent=100,
    illness_exempt=True,
)


@dataclass
class Scene:
    issuer: TestIssuer
    buyer: uuid.UUID
    provider: uuid.UUID
    agreement: uuid.UUID
    cost_centre: uuid.UUID
    approver: uuid.UUID
    orders: list[uuid.UUID] = field(default_factory=list)
    participants: list[uuid.UUID] = field(default_factory=list)
    cost_centre_code: str = "4100"
    agreement_number: str = "PIR-2024-7"

    def as_(self, tenant: uuid.UUID, *roles: str, person: uuid.UUID | None = None) -> Headers:
        token = self.issuer.token(tenant_id=tenant, roles=roles, subject=str(person or uuid.uuid4()))
        return {"Authorization": f"Bearer {token}"}

    def provider_admin(self) -> Headers:
        return self.as_(self.provider, "provider_admin")

    def buyer_admin(self) -> Headers:
        return self.as_(self.buyer, "buyer_admin")

    def approver_headers(self) -> Headers:
        return self.as_(self.buyer, "approver", person=self.approver)


async def apply(pool: asyncpg.Pool, handlers: Sequence[On[Any]], envelope: Envelope) -> None:
    async with tenant_transaction(pool, envelope.tenant_ids[0]) as conn:
        assert await apply_event(handlers, conn, envelope)


def _organisation(tenant: uuid.UUID, kind: str, name: str) -> TenantCreated:
    y = business_id()
    return TenantCreated(
        tenant_id=tenant,
        name=name,
        kind=kind,  # type: ignore[arg-type]
        business_id=y,
        vat_id=vat_id(y),
        postal_address=PostalAddress(street="Hämeenkatu 1", postcode="33100", city="Tampere", country="FI"),
        e_invoice_address=EInvoiceAddress(scheme="ovt", address=ovt(y), operator_id="003723327487"),
        iban=iban() if kind == "provider" else None,
        bic="NDEAFIHH" if kind == "provider" else None,
    )


async def add_order(pool: asyncpg.Pool, scene: Scene, *, payment_terms_days: int | None = 14) -> uuid.UUID:
    order = uuid.uuid4()
    event = OrderOffered(
        order_id=order,
        buyer_id=scene.buyer,
        provider_id=scene.provider,
        cost_centre_id=scene.cost_centre,
        agreement_id=scene.agreement,
        lot="Ryhmätyönohjaus",
        form="group",
        participants=scene.participants,
        planned_sessions=10,
        duration_minutes=90,
        starts_on=dt.date(2024, 8, 1),
        ends_on=dt.date(2025, 6, 30),
        mode="remote",
        selection="ranking",
        status="offered",
        price=_price(),
        cancellation=TERMS,
        payment_terms_days=payment_terms_days,
        agreement_number=scene.agreement_number,
    )
    envelope = envelope_for(
        event, source="orders", subject=order, version=4, tenant_ids=[scene.buyer, scene.provider]
    )
    await apply(pool, orders_subscription().handlers, envelope)
    scene.orders.append(order)
    return order


async def make_scene(pool: asyncpg.Pool, issuer: TestIssuer, *, payment_terms_days: int | None = 14) -> Scene:
    scene = Scene(
        issuer=issuer,
        buyer=uuid.uuid4(),
        provider=uuid.uuid4(),
        agreement=uuid.uuid4(),
        cost_centre=uuid.uuid4(),
        approver=uuid.uuid4(),
        participants=[uuid.uuid4() for _ in range(3)],
    )
    organisations = organisations_subscription().handlers
    for tenant, kind, name in (
        (scene.buyer, "buyer", "Pirkanmaan hyvinvointialue"),
        (scene.provider, "provider", "Työnohjaus Esimerkki Oy"),
    ):
        event: Event = _organisation(tenant, kind, name)
        await apply(
            pool,
            organisations,
            envelope_for(event, source="organisations", subject=tenant, version=1, tenant_ids=[tenant]),
        )
    created = CostCentreCreated(
        cost_centre_id=scene.cost_centre,
        org_unit_id=uuid.uuid4(),
        code=scene.cost_centre_code,
        name="Lastensuojelu",
        yearly_budget_cents=5_000_000,
        active=True,
    )
    assigned = ApproverAssigned(cost_centre_id=scene.cost_centre, person_id=scene.approver)
    for version, event in enumerate((created, assigned), start=1):
        await apply(
            pool,
            organisations,
            envelope_for(
                event,
                source="organisations",
                subject=scene.cost_centre,
                version=version,
                tenant_ids=[scene.buyer],
            ),
        )
    await add_order(pool, scene, payment_terms_days=payment_terms_days)
    return scene


def _price(unit: str = "per_session", cents: int = 15_000, duration: int = 90) -> PriceItemFact:
    return PriceItemFact(
        lot="Ryhmätyönohjaus",
        form="group",
        duration_minutes=duration,
        mode="remote",
        unit=unit,  # type: ignore[arg-type]
        net_price_cents=cents,
        valid_from=dt.date(2024, 1, 1),
    )


def session_event(
    scene: Scene,
    outcome: str,
    starts_at: dt.datetime,
    *,
    order: uuid.UUID | None = None,
    form: str = "group",
    duration: int = 90,
    unit: str = "per_session",
    cents: int = 15_000,
    category: CancellationCategory = "late",
    charge_exempt: bool = False,
    session: uuid.UUID | None = None,
) -> Envelope:
    facts: dict[str, Any] = {
        "session_id": session or uuid.uuid4(),
        "process_id": uuid.uuid4(),
        "order_id": order or scene.orders[0],
        "buyer_id": scene.buyer,
        "provider_id": scene.provider,
        "supervisor_id": uuid.uuid4(),
        "cost_centre_id": scene.cost_centre,
        "agreement_id": scene.agreement,
        "form": form,
        "mode": "remote",
        "starts_at": starts_at,
        "duration_minutes": duration,
        "price": _price(unit, cents, duration),
        "cancellation_terms": TERMS,
        "participant_count": len(scene.participants),
    }
    event: Event
    if outcome == "held":
        event = SessionHeld(
            **facts,
            ends_at=starts_at + dt.timedelta(minutes=duration),
            attendance=[
                AttendanceFact(person_id=p, attended=i > 0) for i, p in enumerate(scene.participants)
            ],
        )
    elif outcome == "no_show":
        event = SessionNoShow(**facts)
    else:
        event = SessionCancelled(
            **facts,
            category=category,
            cancelled_at=starts_at - dt.timedelta(hours=2),
            charge_exempt=charge_exempt,
        )
    return envelope_for(
        event,
        source="sessions",
        subject=facts["session_id"],
        version=3,
        tenant_ids=[scene.buyer, scene.provider],
    )


async def deliver(
    nc: NATS,
    pool: asyncpg.Pool,
    envelopes: Sequence[Envelope],
    *,
    copies: int = 1,
    subscription: Subscription | None = None,
) -> EventConsumer:
    """Publish the envelopes onto their producer's stream (``copies`` times each, as distinct
    messages) and run billing's consumer of it — the sessions one unless ``subscription`` names
    another — on a durable of its own until it has taken every one."""
    js = nc.jetstream()
    subscription = subscription or sessions_subscription()
    spec = ConsumerSpec(
        consumer=f"billingtest{uuid.uuid4().hex[:8]}",
        producer=subscription.spec.producer,
        filter_subjects=subscription.spec.filter_subjects,
        ack_wait_seconds=5,
        nak_backoff_seconds=(0.05, 0.1),
    )
    wanted = {envelope.id for envelope in envelopes}
    seen: dict[uuid.UUID, int] = {}
    consumer = EventConsumer(
        spec=spec,
        pool=pool,
        nats=nc,
        handlers=subscription.handlers,
        fetch_timeout=0.2,
        after_commit=lambda msg, envelope: _note(seen, envelope),
    )
    for envelope in envelopes:
        for copy in range(copies):
            # A redelivery from the producer's outbox is the same envelope under a new NATS message id.
            await js.publish(
                envelope.type, encode_envelope(envelope), headers={"Nats-Msg-Id": f"{envelope.id}-{copy}"}
            )
    task = asyncio.create_task(consumer.run())
    try:
        async with asyncio.timeout(30):
            while any(seen.get(envelope_id, 0) < copies for envelope_id in wanted):
                if task.done():
                    task.result()
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await js.delete_consumer(spec.stream, spec.durable)
    return consumer


async def _note(seen: dict[uuid.UUID, int], envelope: Envelope) -> None:
    seen[envelope.id] = seen.get(envelope.id, 0) + 1


# --- the billing API as the provider admin calls it ---

Client = AsyncTestClient[Litestar]


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def items_of(pool: asyncpg.Pool, scene: Scene) -> list[asyncpg.Record]:
    async with tenant_transaction(pool, scene.provider) as conn:
        rows: list[asyncpg.Record] = await conn.fetch(
            "select * from billable_items where tenant_id = $1 order by starts_at", scene.provider
        )
    return rows


async def run(client: Client, scene: Scene, month: str | None = None) -> list[dict[str, Any]]:
    body = {"month": month} if month else {}
    drafts: list[dict[str, Any]] = ok(
        await client.post("/billing/invoice-runs", json=body, headers=scene.provider_admin())
    )
    return drafts


async def issue(client: Client, scene: Scene, invoice_id: str) -> dict[str, Any]:
    issued: dict[str, Any] = ok(
        await client.post(f"/billing/invoices/{invoice_id}/issue", headers=scene.provider_admin())
    )
    return issued


async def ubl(client: Client, headers: dict[str, str], invoice_id: str) -> bytes:
    response = await client.get(f"/billing/invoices/{invoice_id}/ubl", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    return response.content
