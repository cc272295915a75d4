"""Every service's tenant directory follows organisations' tenant events, in any arrival order."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

from shared.contracts.organisations import TenantCreated, TenantDeactivated, TenantUpdated
from shared.db.pool import create_pool
from shared.db.provision import DatabaseLayout
from shared.db.tenant import tenant_transaction
from shared.events import EventConsumer, connect_nats, encode_envelope, ensure_stream, envelope_for
from shared.events.consumer import apply_event
from shared.events.envelope import Envelope
from shared.events.streams import STREAMS
from shared.tenancy import TenantNotYetKnown, fetch_known_tenant, tenant_subscription
from shared.testing.plugin import Stack
from tests.factories import business_id


@pytest_asyncio.fixture(scope="module")
async def orders_pool(platform_databases: dict[str, DatabaseLayout]) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(platform_databases["orders"].app_url, max_size=4)
    yield pool
    await pool.close()


def _created(tenant: uuid.UUID, name: str = "Pohjois-Savon hyvinvointialue", version: int = 1) -> Envelope:
    event = TenantCreated(tenant_id=tenant, name=name, kind="buyer", business_id=business_id())
    return envelope_for(event, source="organisations", subject=tenant, version=version, tenant_ids=[tenant])


def _deactivated(tenant: uuid.UUID, version: int = 2) -> Envelope:
    event = TenantDeactivated(tenant_id=tenant)
    return envelope_for(event, source="organisations", subject=tenant, version=version, tenant_ids=[tenant])


async def _apply(pool: asyncpg.Pool, tenant: uuid.UUID, envelope: Envelope) -> None:
    async with tenant_transaction(pool, tenant) as conn:
        assert await apply_event(tenant_subscription("orders").handlers, conn, envelope)


async def test_a_created_tenant_becomes_known_and_a_deactivation_is_recorded(
    orders_pool: asyncpg.Pool,
) -> None:
    tenant = uuid.uuid4()
    await _apply(orders_pool, tenant, _created(tenant))
    await _apply(orders_pool, tenant, _deactivated(tenant))
    async with tenant_transaction(orders_pool, tenant) as conn:
        known = await fetch_known_tenant(conn, tenant)
    assert known is not None
    assert (known.name, known.kind, known.active) == ("Pohjois-Savon hyvinvointialue", "buyer", False)


async def test_an_older_event_never_overwrites_a_newer_state(orders_pool: asyncpg.Pool) -> None:
    tenant = uuid.uuid4()
    await _apply(orders_pool, tenant, _created(tenant, name="Uusi nimi", version=3))
    await _apply(orders_pool, tenant, _created(tenant, name="Vanha nimi", version=1))
    async with tenant_transaction(orders_pool, tenant) as conn:
        known = await fetch_known_tenant(conn, tenant)
    assert known is not None
    assert known.name == "Uusi nimi"


def _renamed(tenant: uuid.UUID, name: str, version: int) -> Envelope:
    event = TenantUpdated(tenant_id=tenant, name=name, kind="buyer", business_id=business_id())
    return envelope_for(event, source="organisations", subject=tenant, version=version, tenant_ids=[tenant])


async def test_a_renamed_tenant_is_known_by_its_newest_name_in_any_arrival_order(
    orders_pool: asyncpg.Pool,
) -> None:
    tenant = uuid.uuid4()
    with pytest.raises(TenantNotYetKnown):
        await _apply(orders_pool, tenant, _renamed(tenant, "Ennen luontia", version=2))
    await _apply(orders_pool, tenant, _created(tenant, name="Alkuperäinen"))
    await _apply(orders_pool, tenant, _renamed(tenant, "Uusin", version=3))
    await _apply(orders_pool, tenant, _renamed(tenant, "Välissä", version=2))
    await _apply(orders_pool, tenant, _deactivated(tenant, version=4))
    async with tenant_transaction(orders_pool, tenant) as conn:
        known = await fetch_known_tenant(conn, tenant)
    assert known is not None
    assert (known.name, known.active) == ("Uusin", False)


async def test_a_deactivation_before_the_creation_waits_for_it(orders_pool: asyncpg.Pool) -> None:
    tenant = uuid.uuid4()
    with pytest.raises(TenantNotYetKnown):
        await _apply(orders_pool, tenant, _deactivated(tenant))


async def test_through_the_consumer_an_early_deactivation_is_retried_until_it_applies(
    stack: Stack, orders_pool: asyncpg.Pool
) -> None:
    tenant = uuid.uuid4()
    nc = await connect_nats(stack.nats_url, name="tenancy-test")
    try:
        js = nc.jetstream()
        await ensure_stream(js, STREAMS["organisations"])
        deactivated, created = _deactivated(tenant), _created(tenant)
        await js.publish(deactivated.type, encode_envelope(deactivated))
        subscription = tenant_subscription(f"tenancytest{uuid.uuid4().hex[:6]}")
        consumer = EventConsumer(
            spec=subscription.spec,
            pool=orders_pool,
            nats=nc,
            handlers=subscription.handlers,
            fetch_timeout=0.2,
        )
        task = asyncio.create_task(consumer.run())
        try:
            await asyncio.sleep(0.5)  # the deactivation has been tried and put back
            await js.publish(created.type, encode_envelope(created))
            async with asyncio.timeout(15):
                while True:
                    async with tenant_transaction(orders_pool, tenant) as conn:
                        known = await fetch_known_tenant(conn, tenant)
                    if known is not None and not known.active:
                        break
                    await asyncio.sleep(0.1)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert consumer.dead_lettered == 0
    finally:
        await nc.close()
