"""The first held session starts the order (issue 13 item 4), on real NATS: orders consumes sessions'
``SessionHeld`` and an accepted order becomes active with one ``OrderStarted`` naming the session —
exactly once, whatever is redelivered and however many sessions follow.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import asyncpg
import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient
from nats.js.errors import NotFoundError

from services.orders.consumers import sessions_subscription
from shared.contracts import orders as events
from shared.contracts.orders import CancellationTermsFact, PriceItemFact
from shared.contracts.sessions import AttendanceFact, SessionHeld
from shared.db.provision import DatabaseLayout
from shared.events import EventConsumer, connect_nats, encode_envelope, ensure_stream, envelope_for
from shared.events.envelope import Envelope
from shared.events.streams import STREAMS
from shared.testing.issuer import TestIssuer
from shared.testing.plugin import Stack
from tests.orders.support import Scene, accepted, events_of, ok, order_id, scene

Client = AsyncTestClient[Litestar]


@pytest_asyncio.fixture
async def world(orders_pool: asyncpg.Pool, issuer: TestIssuer) -> Scene:
    return await scene(orders_pool, issuer)


def _held(world: Scene, order: dict[str, object], *, starts_at: dt.datetime) -> Envelope:
    session_id = uuid.uuid4()
    event = SessionHeld(
        session_id=session_id,
        process_id=uuid.uuid4(),
        order_id=uuid.UUID(str(order["id"])),
        buyer_id=world.buyer.id,
        provider_id=world.provider.id,
        supervisor_id=uuid.UUID(str(order["supervisorId"])),
        cost_centre_id=world.cost_centre_id,
        agreement_id=world.agreement_id,
        form="individual",
        mode="remote",
        starts_at=starts_at,
        duration_minutes=90,
        price=PriceItemFact(
            lot="L",
            form="individual",
            duration_minutes=90,
            mode="remote",
            unit="per_session",
            net_price_cents=12_000,
            valid_from=dt.date(2026, 1, 1),
        ),
        cancellation_terms=CancellationTermsFact(
            late_threshold_hours=48,
            late_cancellation_charge_percent=100,
            no_show_charge_percent=50,
            illness_exempt=True,
        ),
        participant_count=1,
        ends_at=starts_at + dt.timedelta(minutes=90),
        attendance=[AttendanceFact(person_id=world.people[0], attended=True)],
    )
    return envelope_for(
        event,
        source="sessions",
        subject=session_id,
        version=2,
        tenant_ids=[world.buyer.id, world.provider.id],
    )


async def test_the_first_held_session_starts_an_accepted_order_exactly_once(
    client: Client, world: Scene, orders_pool: asyncpg.Pool, layout: DatabaseLayout, stack: Stack
) -> None:
    path = await accepted(client, world, orders_pool)
    order = ok(await client.get(path, headers=world.approver_headers()))
    assert (order["status"], order["version"]) == ("accepted", 7)
    first = _held(world, order, starts_at=dt.datetime(2026, 12, 2, 8, tzinfo=dt.UTC))
    second = _held(world, order, starts_at=dt.datetime(2026, 12, 16, 8, tzinfo=dt.UTC))

    nc = await connect_nats(stack.nats_url, name="orders-started-by-session-test")
    try:
        js = nc.jetstream()
        await ensure_stream(js, STREAMS["sessions"])
        # The first one twice (a redelivery the stream cannot tell apart), then a later session.
        for envelope in (first, first, second):
            last = (await js.publish(envelope.type, encode_envelope(envelope))).seq
        subscription = sessions_subscription(f"ordersstarttest{uuid.uuid4().hex[:6]}")
        consumer = EventConsumer(
            spec=subscription.spec,
            pool=orders_pool,
            nats=nc,
            handlers=subscription.handlers,
            fetch_timeout=0.2,
        )
        task = asyncio.create_task(consumer.run())
        try:
            # The stream is the test session's: other tests' held sessions are in it too (and are
            # dead-lettered here, their orders being unknown). Wait until everything is settled.
            durable, stream = subscription.spec.durable, subscription.spec.stream
            async with asyncio.timeout(60):
                while True:
                    await asyncio.sleep(0.1)
                    try:
                        info = await js.consumer_info(stream, durable)
                    except NotFoundError:
                        continue  # the consumer has not made its durable yet
                    if info.num_ack_pending == 0 and (info.ack_floor.stream_seq or 0) >= last:
                        break
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    finally:
        await nc.close()
    assert consumer.duplicates >= 1  # the first one's second copy, dropped by the inbox
    owner = await asyncpg.connect(layout.owner_url)  # the app role only inserts into the inbox
    try:
        heard = await owner.fetchval(
            "select count(*) from inbox where consumer = $1 and message_id = any($2::uuid[])",
            durable,
            [first.id, second.id],
        )
    finally:
        await owner.close()
    assert heard == 2

    now = ok(await client.get(path, headers=world.approver_headers()))
    assert (now["status"], now["version"]) == ("active", 8)
    started = [e for e in await events_of(layout, order_id(path)) if e.type == events.OrderStarted.event_type]
    assert [(e.version, e.tenant_ids) for e in started] == [(8, (world.buyer.id, world.provider.id))]
    fact = started[0].event_as(events.OrderStarted)
    assert (fact.status, fact.session_id) == ("active", first.event_as(SessionHeld).session_id)
    # The manual start is optional: an active order is not started again.
    again = await client.post(f"{path}/start", headers=world.provider.as_("provider_admin"))
    assert again.status_code == 409, again.text
