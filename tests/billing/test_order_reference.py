"""The order reference on an e-invoice is the buyer's order number people know (issue 13 item 10):
billing keeps it in its read model of orders from orders' events and writes it as UBL
``OrderReference/ID`` and Finvoice's invoice-level ``OrderIdentifier``; an order heard before
numbers existed keeps its id there (test_invoicing's scene).
"""

from __future__ import annotations

import datetime as dt

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from lxml import etree
from nats.aio.client import Client as NATS

from services.billing.consumers import orders_subscription
from shared.contracts.orders import OrderAccepted, OrderStarted
from shared.events import envelope_for
from shared.testing.issuer import TestIssuer
from tests.billing.einvoice import NS, assert_valid_ubl, finvoice_violations
from tests.billing.support import Scene, apply, deliver, issue, make_scene, run, session_event, ubl

Client = AsyncTestClient[Litestar]
NUMBER = "TO-2024-000042"


@pytest.fixture
async def scene(billing_pool: asyncpg.Pool, issuer: TestIssuer) -> Scene:
    return await make_scene(billing_pool, issuer)


async def _announce(
    pool: asyncpg.Pool, scene: Scene, cls: type[OrderAccepted | OrderStarted], **facts: object
) -> None:
    """The scene's order as orders announces it later on (a newer version than the scene's offer)."""
    version = 7 if cls is OrderAccepted else 8
    event = cls(
        order_id=scene.orders[0],
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
        status="accepted" if cls is OrderAccepted else "active",
        payment_terms_days=14,
        agreement_number=scene.agreement_number,
        **facts,  # type: ignore[arg-type]
    )
    envelope = envelope_for(
        event,
        source="orders",
        subject=scene.orders[0],
        version=version,
        tenant_ids=[scene.buyer, scene.provider],
    )
    await apply(pool, orders_subscription().handlers, envelope)


async def test_the_invoice_of_one_order_carries_its_number_as_the_order_reference(
    client: Client, nc: NATS, billing_pool: asyncpg.Pool, scene: Scene
) -> None:
    await _announce(billing_pool, scene, OrderAccepted, order_number=NUMBER)
    # A later event of a producer that does not send the number does not forget it.
    await _announce(billing_pool, scene, OrderStarted)
    await deliver(
        nc, billing_pool, [session_event(scene, "held", dt.datetime(2024, 10, 14, 9, 0, tzinfo=dt.UTC))]
    )
    [draft] = await run(client, scene, "2024-10-01")
    await issue(client, scene, draft["id"])

    root = assert_valid_ubl(await ubl(client, scene.provider_admin(), draft["id"]))
    assert root.findtext("cac:OrderReference/cbc:ID", namespaces=NS) == NUMBER

    response = await client.get(f"/billing/invoices/{draft['id']}/finvoice", headers=scene.approver_headers())
    assert response.status_code == 200, response.text
    assert finvoice_violations(response.content) == []
    finvoice = etree.fromstring(response.content)
    assert finvoice.findtext("InvoiceDetails/OrderIdentifier") == NUMBER
