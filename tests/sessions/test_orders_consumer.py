"""The sessions service hears the orders service: real envelopes on the real ORDERS stream, the
sessions consumer (``sessions__orders``'s subscription) applying them to the real database.

An accepted order heard twice opens one process; an extension raises its count; completion,
interruption and cancellation close it with their outcome and publish ``ProcessClosed``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest_asyncio
from nats.js import JetStreamContext

from services.sessions.consumers import ORDERS_CONSUMER, orders_subscription
from services.sessions.domain.processes import Process, ProcessStatus
from services.sessions.store import processes as store
from shared.contracts import orders as orders_events
from shared.contracts import sessions as events
from shared.db.provision import DatabaseLayout
from shared.db.tenant import tenant_transaction
from shared.events import STREAMS, Envelope, EventConsumer, connect_nats, ensure_stream, envelope_for
from shared.events.consumer import On, on
from shared.events.envelope import encode_envelope
from shared.events.streams import ConsumerSpec
from shared.testing.plugin import Stack
from tests.sessions.support import Parties, order_event, orders_envelope, outbox_events

T0 = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=1)


class Orders:
    """Publishes onto ORDERS as the orders relay does; the consumer applies only this test's orders
    (the stream also holds the orders tests' events)."""

    def __init__(self, js: JetStreamContext, consumer: EventConsumer, ours: set[str]) -> None:
        self.js = js
        self.consumer = consumer
        self.ours = ours

    async def publish(self, envelope: Envelope, *, dedupe: bool = True) -> None:
        self.ours.add(envelope.subject)
        headers = {"Nats-Msg-Id": str(envelope.id)} if dedupe else None
        await self.js.publish(envelope.type, encode_envelope(envelope), headers=headers)


def _only(ours: set[str], handler: On[Any]) -> On[Any]:
    async def handle(conn: asyncpg.Connection, envelope: Envelope, data: Any) -> None:
        if envelope.subject in ours:
            await handler.apply(conn, envelope, data)

    return on(handler.event, handle)


@pytest_asyncio.fixture
async def orders(stack: Stack, sessions_pool: asyncpg.Pool) -> AsyncIterator[Orders]:
    nc = await connect_nats(stack.nats_url, name="sessions-orders-consumer-test")
    js = nc.jetstream()
    await ensure_stream(js, STREAMS["orders"])
    subscription = orders_subscription()
    assert subscription.spec.durable == "sessions__orders"
    assert ORDERS_CONSUMER == "sessions"
    spec = ConsumerSpec(
        consumer=f"sessionstest{uuid.uuid4().hex[:8]}",
        producer="orders",
        filter_subjects=subscription.spec.filter_subjects,
        ack_wait_seconds=5,
        nak_backoff_seconds=(0.05, 0.1),
    )
    ours: set[str] = set()
    handlers = [_only(ours, handler) for handler in subscription.handlers]
    consumer = EventConsumer(spec=spec, pool=sessions_pool, nats=nc, handlers=handlers, fetch_timeout=0.2)
    task = asyncio.create_task(consumer.run())
    try:
        yield Orders(js, consumer, ours)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await js.delete_consumer(spec.stream, spec.durable)
        await nc.close()


async def _process(pool: asyncpg.Pool, parties: Parties) -> Process | None:
    async with tenant_transaction(pool, parties.buyer_id) as conn:
        return await store.fetch_process_by_order(conn, parties.order_id)


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    try:
        async with asyncio.timeout(20):
            while not await check():
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"never: {what}") from None


def _accepted(parties: Parties, **fields: object) -> Envelope:
    event = order_event(orders_events.OrderAccepted, parties, **fields)  # type: ignore[arg-type]
    return orders_envelope(event, parties, version=6, occurred_at=T0)


async def test_an_acceptance_heard_twice_opens_one_process_and_an_extension_raises_its_count(
    orders: Orders, sessions_pool: asyncpg.Pool, layout: DatabaseLayout
) -> None:
    parties = Parties()
    first = _accepted(parties, planned_sessions=4)
    await orders.publish(first)
    await orders.publish(first, dedupe=False)  # the very same envelope again: the inbox drops it
    await orders.publish(_accepted(parties, planned_sessions=4))  # another envelope of the acceptance

    async def opened() -> bool:
        return await _process(sessions_pool, parties) is not None

    await _until(opened, "the process opened")
    extended = order_event(
        orders_events.OrderExtended, parties, planned_sessions=7, additional_sessions=3, status="active"
    )
    await orders.publish(orders_envelope(extended, parties, version=8, occurred_at=T0))

    async def raised() -> bool:
        process = await _process(sessions_pool, parties)
        return process is not None and process.planned_sessions == 7

    await _until(raised, "the extension raised the count")
    await asyncio.sleep(0.3)  # room for a stray duplicate to be applied

    process = await _process(sessions_pool, parties)
    assert process is not None
    assert (process.accepted_at, process.supervisor_id, process.status) == (
        T0,
        parties.supervisor_id,
        ProcessStatus.OPEN,
    )
    async with tenant_transaction(sessions_pool, parties.provider_id) as conn:
        count = await conn.fetchval("select count(*) from processes where order_id = $1", parties.order_id)
    assert count == 1
    started = [
        e
        for e in await outbox_events(layout.relay_url, str(process.process_id))
        if e.type == events.ProcessStarted.event_type
    ]
    assert len(started) == 1
    assert started[0].tenant_ids == (parties.buyer_id, parties.provider_id)
    event = started[0].event_as(events.ProcessStarted)
    assert (event.order_id, event.planned_sessions, event.participants) == (
        parties.order_id,
        4,
        parties.participants,
    )
    assert orders.consumer.dead_lettered == 0


async def test_cancelled_interrupted_and_completed_orders_close_their_processes(
    orders: Orders, sessions_pool: asyncpg.Pool, layout: DatabaseLayout
) -> None:
    outcomes = {
        orders_events.OrderCancelled: ("cancelled", Parties()),
        orders_events.OrderInterrupted: ("interrupted", Parties()),
        orders_events.OrderCompleted: ("completed", Parties()),
    }
    never_accepted = Parties()
    for parties in [p for _, p in outcomes.values()]:
        await orders.publish(_accepted(parties))
    closed_at = T0 + dt.timedelta(hours=5)
    for cls, (_, parties) in outcomes.items():
        event = order_event(cls, parties, status=cls.event_type.split(".")[2])  # type: ignore[arg-type]
        await orders.publish(orders_envelope(event, parties, version=9, occurred_at=closed_at))
    cancelled_early = order_event(orders_events.OrderCancelled, never_accepted, status="cancelled")
    await orders.publish(orders_envelope(cancelled_early, never_accepted, version=3, occurred_at=closed_at))
    # Before its offer orders addresses an order to the buyer alone: that cancellation is no error.
    buyer_only = Parties()
    cancelled_draft = order_event(orders_events.OrderCancelled, buyer_only, status="cancelled")
    await orders.publish(
        envelope_for(
            cancelled_draft,
            source="orders",
            subject=buyer_only.order_id,
            version=2,
            tenant_ids=(buyer_only.buyer_id,),
            occurred_at=closed_at,
        )
    )

    async def all_closed() -> bool:
        for _, parties in outcomes.values():
            process = await _process(sessions_pool, parties)
            if process is None or process.status is not ProcessStatus.CLOSED:
                return False
        return True

    await _until(all_closed, "every process closed")
    for outcome, parties in outcomes.values():
        process = await _process(sessions_pool, parties)
        assert process is not None
        assert (process.outcome, process.closed_at) == (outcome, closed_at)
        published = await outbox_events(layout.relay_url, str(process.process_id))
        closed = [e for e in published if e.type == events.ProcessClosed.event_type]
        assert len(closed) == 1
        assert closed[0].event_as(events.ProcessClosed).outcome == outcome
    assert await _process(sessions_pool, never_accepted) is None
    assert await _process(sessions_pool, buyer_only) is None
    assert orders.consumer.dead_lettered == 0
