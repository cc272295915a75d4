"""Billing's read models follow organisations' and orders' events; bad session events are refused."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
import msgspec
import pytest

from services.billing.consumers import (
    SUBSCRIPTIONS,
    orders_subscription,
    organisations_subscription,
    sessions_subscription,
)
from shared.contracts.orders import OrderOffered, OrderSubmitted
from shared.contracts.organisations import TenantCreated, TenantUpdated
from shared.db.tenant import tenant_transaction
from shared.events import envelope_for
from shared.events.consumer import On, PermanentEventError, apply_event
from shared.events.envelope import Envelope
from shared.testing.issuer import TestIssuer
from tests.billing.support import TERMS, make_scene, session_event
from tests.factories import business_id


def test_billing_has_one_durable_per_producer() -> None:
    assert [s.spec.durable for s in SUBSCRIPTIONS] == [
        "billing__organisations",
        "billing__orders",
        "billing__sessions",
    ]


async def _apply(pool: asyncpg.Pool, handlers: Sequence[On[Any]], envelope: Envelope) -> None:
    async with tenant_transaction(pool, envelope.tenant_ids[0]) as conn:
        assert await apply_event(handlers, conn, envelope)


async def test_a_tenants_invoicing_facts_follow_its_newest_version(billing_pool: asyncpg.Pool) -> None:
    tenant = uuid.uuid4()
    handlers = organisations_subscription().handlers
    facts = {
        "tenant_id": tenant,
        "kind": "provider",
        "business_id": business_id(),
        "iban": "FI2112345600000785",
    }
    created = TenantCreated(name="Vanha Oy", **facts)  # type: ignore[arg-type]
    await _apply(
        billing_pool,
        handlers,
        envelope_for(created, source="organisations", subject=tenant, version=1, tenant_ids=[tenant]),
    )
    for version, name in ((3, "Uusin Oy"), (2, "Välissä Oy")):
        updated = TenantUpdated(name=name, **facts)  # type: ignore[arg-type]
        envelope = envelope_for(
            updated, source="organisations", subject=tenant, version=version, tenant_ids=[tenant]
        )
        await _apply(billing_pool, handlers, envelope)
    async with tenant_transaction(billing_pool, tenant) as conn:
        row = await conn.fetchrow(
            "select name, iban, version from billing_parties where tenant_id = $1", tenant
        )
        directory = await conn.fetchval("select name from tenant_directory where tenant_id = $1", tenant)
    assert row is not None
    assert (row["name"], row["iban"], row["version"]) == ("Uusin Oy", "FI2112345600000785", 3)
    assert directory == "Uusin Oy"  # the shared tenant directory is kept by the same durable


async def test_an_order_is_known_to_billing_only_once_offered_to_the_provider(
    billing_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    scene = await make_scene(billing_pool, issuer)
    order = uuid.uuid4()
    facts = {
        "order_id": order,
        "buyer_id": scene.buyer,
        "provider_id": scene.provider,
        "cost_centre_id": scene.cost_centre,
        "agreement_id": scene.agreement,
        "lot": "Ryhmätyönohjaus",
        "form": "group",
        "participants": [],
        "planned_sessions": 10,
        "duration_minutes": 90,
        "starts_on": dt.date(2025, 1, 1),
        "ends_on": dt.date(2025, 12, 31),
        "mode": "remote",
        "selection": "ranking",
        "cancellation": TERMS,
        "payment_terms_days": 30,
        "agreement_number": "PIR-9",
    }
    handlers = orders_subscription().handlers
    submitted = OrderSubmitted(status="submitted", **facts)  # type: ignore[arg-type]
    await _apply(
        billing_pool,
        handlers,
        envelope_for(submitted, source="orders", subject=order, version=2, tenant_ids=[scene.buyer]),
    )
    async with tenant_transaction(billing_pool, scene.provider) as conn:
        assert await conn.fetchval("select count(*) from billing_orders where order_id = $1", order) == 0
    offered = OrderOffered(status="offered", **facts)  # type: ignore[arg-type]
    both = [scene.buyer, scene.provider]
    await _apply(
        billing_pool,
        handlers,
        envelope_for(offered, source="orders", subject=order, version=4, tenant_ids=both),
    )
    async with tenant_transaction(billing_pool, scene.provider) as conn:
        row = await conn.fetchrow("select * from billing_orders where order_id = $1", order)
    assert row is not None
    assert (row["agreement_number"], row["payment_terms_days"], row["status"]) == ("PIR-9", 30, "offered")


async def test_a_session_event_whose_tenants_are_not_its_parties_is_refused(
    billing_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    scene = await make_scene(billing_pool, issuer)
    envelope = session_event(scene, "held", dt.datetime(2025, 5, 5, 9, 0, tzinfo=dt.UTC))
    forged = msgspec.structs.replace(envelope, tenant_ids=(scene.buyer, uuid.uuid4()))
    handlers = sessions_subscription().handlers
    with pytest.raises(PermanentEventError, match="not its buyer and provider"):
        await _apply(billing_pool, handlers, forged)


async def test_the_buyers_facts_are_hidden_from_a_provider_without_an_order(
    billing_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    scene = await make_scene(billing_pool, issuer)
    stranger = await make_scene(billing_pool, issuer)
    async with tenant_transaction(billing_pool, scene.provider) as conn:
        visible = {r["tenant_id"] for r in await conn.fetch("select tenant_id from billing_parties")}
        centres = await conn.fetch("select cost_centre_id from billing_cost_centres")
    assert visible == {scene.provider, scene.buyer}
    assert stranger.buyer not in visible
    assert [r["cost_centre_id"] for r in centres] == [scene.cost_centre]
