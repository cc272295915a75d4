"""The integrations feed: every public event once per tenant it concerns, in order, behind the tenant wall."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import asyncpg
import msgspec
import pytest
import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient

from services.integrations import handlers
from services.integrations.app import create_app
from shared.config import ServiceSettings
from shared.db.pool import create_pool
from shared.db.provision import DatabaseLayout
from shared.events.envelope import Envelope
from shared.testing.issuer import TestIssuer
from tests.integrations.support import Parties, order_approved

Client = AsyncTestClient[Litestar]


@pytest_asyncio.fixture(scope="module")
async def pool(platform_databases: dict[str, DatabaseLayout]) -> AsyncIterator[asyncpg.Pool]:
    created = await create_pool(platform_databases["integrations"].app_url, max_size=6)
    yield created
    await created.close()


@pytest_asyncio.fixture(scope="module")
async def client(settings_for: Callable[[str], ServiceSettings]) -> AsyncIterator[Client]:
    async with AsyncTestClient(create_app(settings_for("integrations"))) as test_client:
        yield test_client


def _event(*tenants: uuid.UUID) -> Envelope:
    """An internal event that becomes one public event per tenant (order approved)."""
    envelope = order_approved(Parties(buyer=tenants[0], provider=tenants[-1]))
    return msgspec.structs.replace(envelope, tenant_ids=tuple(dict.fromkeys(tenants)))


def _public_id(envelope: Envelope) -> str:
    return str(uuid.uuid5(envelope.id, "fi.tila.order.approved.v1/"))


async def _record(pool: asyncpg.Pool, envelope: Envelope, hold: float = 0) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await handlers.record_in_feed(conn, envelope, envelope.event())
        await asyncio.sleep(hold)  # keep the transaction open, as a slow consumer batch would


def _reader(issuer: TestIssuer, tenant: uuid.UUID) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token(tenant_id=tenant, scopes=['events:read'])}"}


async def test_positions_count_per_tenant_and_commit_in_order(
    pool: asyncpg.Pool, client: Client, issuer: TestIssuer
) -> None:
    tenant = uuid.uuid4()
    first, second = _event(tenant), _event(tenant)
    # The first takes position 1 and holds it; the second must wait, not commit position 2 ahead
    # (a reader resuming after 2 would then never see 1).
    slow = asyncio.create_task(_record(pool, first, hold=1.0))
    await asyncio.sleep(0.2)
    fast = asyncio.create_task(_record(pool, second))
    await asyncio.sleep(0.3)
    early = (await client.get("/integrations/events", headers=_reader(issuer, tenant))).json()
    assert early["items"] == []
    await asyncio.gather(slow, fast)
    page = (await client.get("/integrations/events", headers=_reader(issuer, tenant))).json()
    assert [item["id"] for item in page["items"]] == [_public_id(first), _public_id(second)]
    assert "nextCursor" not in page


async def test_an_event_of_two_tenants_appears_in_both_feeds_and_nowhere_else(
    pool: asyncpg.Pool, client: Client, issuer: TestIssuer
) -> None:
    buyer, provider, stranger = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    shared = _event(buyer, provider)
    await _record(pool, shared)
    for tenant in (buyer, provider):
        items = (await client.get("/integrations/events", headers=_reader(issuer, tenant))).json()["items"]
        assert [item["id"] for item in items] == [_public_id(shared)]
    assert (await client.get("/integrations/events", headers=_reader(issuer, stranger))).json()["items"] == []


async def test_the_feed_pages_with_a_cursor(pool: asyncpg.Pool, client: Client, issuer: TestIssuer) -> None:
    tenant = uuid.uuid4()
    events = [_event(tenant) for _ in range(5)]
    for envelope in events:
        await _record(pool, envelope)
    seen: list[str] = []
    url = "/integrations/events?limit=2"
    while True:
        page = (await client.get(url, headers=_reader(issuer, tenant))).json()
        seen += [item["id"] for item in page["items"]]
        if "nextCursor" not in page:
            break
        url = f"/integrations/events?limit=2&cursor={page['nextCursor']}"
    assert seen == [_public_id(e) for e in events]


@pytest.mark.parametrize("cursor", ["WzEwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwXQ", "bm90LWEtY3Vyc29y", "%%%"])
async def test_a_cursor_not_from_this_api_is_a_400_on_the_cursor(
    client: Client, issuer: TestIssuer, cursor: str
) -> None:
    response = await client.get(
        f"/integrations/events?cursor={cursor}", headers=_reader(issuer, uuid.uuid4())
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "query.cursor"


async def test_reading_the_feed_needs_the_events_read_scope(client: Client, issuer: TestIssuer) -> None:
    token = issuer.token(tenant_id=uuid.uuid4(), roles=["buyer_admin"])
    response = await client.get("/integrations/events", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("limit", "status"), [("0", 400), ("201", 400), ("-1", 400), ("x", 400), ("1", 200), ("200", 200)]
)
async def test_the_page_size_is_between_1_and_200(
    client: Client, issuer: TestIssuer, limit: str, status: int
) -> None:
    response = await client.get(f"/integrations/events?limit={limit}", headers=_reader(issuer, uuid.uuid4()))
    assert response.status_code == status
    if status == 400:
        assert response.json()["errors"][0]["field"] == "query.limit"
