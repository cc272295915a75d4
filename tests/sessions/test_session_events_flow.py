"""A session's frame heard end to end: the real sessions outbox relay publishes to the SESSIONS
stream, and a durable consumer there (as billing's would be) hears the session scheduled, then held
with its attendance, price and terms — and nothing of a reason or any other content."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from shared.contracts import Event, events_of
from shared.contracts import sessions as events
from shared.db.provision import DatabaseLayout
from shared.events import (
    STREAMS,
    ConsumerSpec,
    Envelope,
    EventConsumer,
    OutboxRelay,
    connect_nats,
    ensure_stream,
)
from shared.events.consumer import on
from shared.testing.issuer import TestIssuer
from shared.testing.plugin import Stack
from tests.sessions.support import Callers, Parties, iso, open_process

Client = AsyncTestClient[Litestar]


async def test_a_held_session_reaches_a_consumer_with_attendance_and_without_content(
    client: Client, sessions_pool: asyncpg.Pool, layout: DatabaseLayout, stack: Stack, issuer: TestIssuer
) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    parties = Parties()
    process = await open_process(sessions_pool, parties, accepted_at=now - dt.timedelta(days=20))
    who = Callers(issuer, parties)

    nc = await connect_nats(stack.nats_url, name="sessions-flow-test")
    js = nc.jetstream()
    await ensure_stream(js, STREAMS["sessions"])
    spec = ConsumerSpec(
        consumer=f"sessionsflow{uuid.uuid4().hex[:8]}",
        producer="sessions",
        filter_subjects=("sessions.session.>",),
        ack_wait_seconds=5,
        nak_backoff_seconds=(0.05, 0.1),
    )
    heard: list[Envelope] = []
    session_id: list[str] = []

    async def record(conn: asyncpg.Connection, envelope: Envelope, data: Event) -> None:
        if session_id and envelope.subject == session_id[0]:
            heard.append(envelope)

    relay = OutboxRelay(service="sessions", dsn=layout.relay_url, nats=nc, poll_interval=0.1)
    consumer = EventConsumer(
        spec=spec,
        pool=sessions_pool,
        nats=nc,
        handlers=[on(cls, record) for cls in events_of("sessions")],
        fetch_timeout=0.2,
    )
    tasks = [asyncio.create_task(relay.run()), asyncio.create_task(consumer.run())]
    try:
        body = {"startsAt": iso(now - dt.timedelta(days=2)), "durationMinutes": 90, "mode": "remote"}
        scheduled = await client.post(
            f"/sessions/processes/{process.process_id}/sessions", json=body, headers=who.supervisor()
        )
        assert scheduled.status_code == 201, scheduled.text
        session_id.append(scheduled.json()["id"])
        attendance = [
            {"personId": str(p), "attended": p == parties.participants[0]} for p in parties.participants
        ]
        held = await client.post(
            f"/sessions/sessions/{session_id[0]}/held",
            json={"attendance": attendance},
            headers=who.supervisor(**{"If-Match": '"1"'}),
        )
        assert held.status_code == 200, held.text
        async with asyncio.timeout(20):
            while events.SessionHeld.event_type not in [e.type for e in heard]:
                for task in tasks:
                    if task.done():
                        task.result()
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await js.delete_consumer(spec.stream, spec.durable)
        await nc.close()

    assert [(e.type, e.version) for e in heard] == [
        (events.SessionScheduled.event_type, 1),
        (events.SessionHeld.event_type, 2),
    ]
    assert all(e.tenant_ids == (parties.buyer_id, parties.provider_id) for e in heard)
    event = heard[1].event_as(events.SessionHeld)
    assert event.attendance == [
        events.AttendanceFact(person_id=parties.participants[0], attended=True),
        events.AttendanceFact(person_id=parties.participants[1], attended=False),
    ]
    assert event.ends_at == now - dt.timedelta(days=2) + dt.timedelta(minutes=90)
    assert (event.price.net_price_cents, event.participant_count, event.cost_centre_id) == (
        18000,
        2,
        parties.cost_centre_id,
    )
    payload = bytes(heard[1].data).decode()
    assert "reason" not in payload.lower()
    assert consumer.dead_lettered == 0
