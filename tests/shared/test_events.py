"""The event kit on real PostgreSQL and NATS: outbox, relay, idempotent consumer, crashes and restarts."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import ClassVar

import asyncpg
import pytest
import pytest_asyncio
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from shared.contracts import Event, register
from shared.db.migrate import MigrationSource, migrate
from shared.db.pool import create_pool
from shared.db.provision import DatabaseLayout, provision_database
from shared.db.tenant import tenant_transaction
from shared.embedded import EmbeddedNats
from shared.events import MIGRATIONS as EVENT_MIGRATIONS
from shared.events import (
    STREAMS,
    ConsumerSpec,
    Envelope,
    EventConsumer,
    OutboxRelay,
    PermanentEventError,
    StreamSpec,
    add_to_outbox,
    connect_nats,
    encode_envelope,
    ensure_stream,
    envelope_for,
)
from shared.events.consumer import NotYetApplicable, _raise_if_cancelled, on
from shared.events.outbox import prune_published
from shared.logging import bind_context, clear_context, trace_id_of
from shared.testing.plugin import Stack

PRODUCER = "kittest"
STREAM = StreamSpec(name="KITTEST", subjects=("kittest.>",), duplicate_window_seconds=120)
TEST_MIGRATIONS = MigrationSource("kit-tests", Path(__file__).parent / "migrations_events")


@register
class Pinged(Event, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "kittest.ping.happened.v1"
    aggregate: ClassVar[str] = "ping"

    seq: int


class Crash(BaseException):
    """Stands in for the process dying: nothing after it runs, no except-Exception catches it."""


class Kit:
    def __init__(self, layout: DatabaseLayout, pool: asyncpg.Pool, nc: NATS, tenant: uuid.UUID) -> None:
        self.layout = layout
        self.pool = pool
        self.nats = nc
        self.tenant = tenant

    async def write_events(self, count: int, *, start: int = 0) -> list[Envelope]:
        """Commit ``count`` events through the outbox, one transaction each (as handlers do)."""
        envelopes = []
        for seq in range(start, start + count):
            envelope = envelope_for(
                Pinged(seq=seq), source=PRODUCER, subject=str(seq), version=1, tenant_ids=[self.tenant]
            )
            async with tenant_transaction(self.pool, self.tenant) as conn:
                await add_to_outbox(conn, PRODUCER, envelope)
            envelopes.append(envelope)
        return envelopes

    def relay(self, **kwargs: object) -> OutboxRelay:
        return OutboxRelay(
            service=PRODUCER,
            dsn=self.layout.relay_url,
            nats=self.nats,
            poll_interval=0.1,
            **kwargs,  # type: ignore[arg-type]
        )

    def consumer(
        self,
        *,
        handler: Callable[[asyncpg.Connection, Envelope, Pinged], Awaitable[None]] | None = None,
        max_deliver: int = 4,
        **kwargs: object,
    ) -> EventConsumer:
        spec = ConsumerSpec(
            consumer="kit",
            producer=PRODUCER,
            max_deliver=max_deliver,
            ack_wait_seconds=1,
            nak_backoff_seconds=(0.05, 0.1, 0.2),
        )
        return EventConsumer(
            spec=spec,
            pool=self.pool,
            nats=self.nats,
            handlers=[on(Pinged, handler or apply_effect)],
            fetch_timeout=0.2,
            **kwargs,  # type: ignore[arg-type]
        )

    async def effects(self) -> dict[int, int]:
        """How many times each event (by seq) was applied."""
        async with tenant_transaction(self.pool, self.tenant) as conn:
            rows = await conn.fetch("select seq, count(*) as n from effects group by seq")
        return {r["seq"]: r["n"] for r in rows}

    async def wait_for_effects(self, expected: int, timeout: float = 20) -> dict[int, int]:
        async with asyncio.timeout(timeout):
            while True:
                effects = await self.effects()
                if len(effects) >= expected:
                    return effects
                await asyncio.sleep(0.05)

    async def unpublished(self) -> int:
        conn = await asyncpg.connect(self.layout.relay_url)
        try:
            count: int = await conn.fetchval("select count(*) from outbox where published_at is null")
            return count
        finally:
            await conn.close()

    async def stream_messages(self) -> int:
        info = await self.nats.jetstream().stream_info(STREAM.name)
        return int(info.state.messages)


async def apply_effect(conn: asyncpg.Connection, envelope: Envelope, event: Pinged) -> None:
    await conn.execute(
        "insert into effects (tenant_id, event_id, seq) values ($1, $2, $3)",
        envelope.tenant_ids[0],
        envelope.id,
        event.seq,
    )


@pytest_asyncio.fixture(scope="module")
async def kit_database(stack: Stack, database_factory: Callable[[str], DatabaseLayout]) -> DatabaseLayout:
    layout = database_factory("kit")
    await provision_database(layout)
    await migrate(layout.owner_url, [EVENT_MIGRATIONS, TEST_MIGRATIONS])
    return layout


async def _reset(layout: DatabaseLayout, nc: NATS) -> None:
    conn = await asyncpg.connect(layout.owner_url)
    try:
        await conn.execute("truncate outbox, inbox, dead_letter, effects")
    finally:
        await conn.close()
    js = nc.jetstream()
    await ensure_stream(js, STREAM)
    await js.purge_stream(STREAM.name)
    for consumer in await js.consumers_info(STREAM.name):
        await js.delete_consumer(STREAM.name, consumer.name)


@pytest.fixture(autouse=True)
def _kit_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(STREAMS, PRODUCER, STREAM)


@pytest_asyncio.fixture
async def kit(stack: Stack, kit_database: DatabaseLayout) -> AsyncIterator[Kit]:
    nc = await connect_nats(stack.nats_url, name="kit-test")
    pool = await create_pool(kit_database.app_url)
    await _reset(kit_database, nc)
    try:
        yield Kit(kit_database, pool, nc, uuid.uuid4())
    finally:
        await pool.close()
        await nc.close()


async def _run_until(
    task_factories: Sequence[Callable[[], Awaitable[None]]],
    done: Callable[[], Awaitable[bool]],
    timeout: float = 60,
) -> None:
    tasks: list[asyncio.Task[None]] = [
        asyncio.create_task(_as_coroutine(factory)) for factory in task_factories
    ]
    try:
        async with asyncio.timeout(timeout):
            while not await done():
                for task in tasks:
                    if task.done():
                        task.result()
                await asyncio.sleep(0.05)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _as_coroutine(factory: Callable[[], Awaitable[None]]) -> None:
    await factory()


async def test_an_event_exists_only_if_its_transaction_commits(kit: Kit) -> None:
    envelope = envelope_for(Pinged(seq=1), source=PRODUCER, subject="1", version=1, tenant_ids=[kit.tenant])
    with pytest.raises(RuntimeError, match="boom"):
        async with tenant_transaction(kit.pool, kit.tenant) as conn:
            await add_to_outbox(conn, PRODUCER, envelope)
            raise RuntimeError("boom")
    assert await kit.unpublished() == 0
    await kit.write_events(2)
    assert await kit.unpublished() == 2


async def test_writing_to_the_outbox_outside_a_transaction_is_refused(kit: Kit) -> None:
    envelope = envelope_for(Pinged(seq=1), source=PRODUCER, subject="1", version=1, tenant_ids=[kit.tenant])
    async with kit.pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="inside the transaction"):
            await add_to_outbox(conn, PRODUCER, envelope)


async def test_relay_publishes_in_commit_order_with_the_event_id_as_msg_id(kit: Kit) -> None:
    envelopes = await kit.write_events(5)
    relay = kit.relay()
    await _run_until([relay.run], lambda: _zero(kit.unpublished))
    js = kit.nats.jetstream()
    sub = await js.pull_subscribe(STREAM.subjects[0], durable=None, stream=STREAM.name)
    messages = await sub.fetch(5, timeout=5)
    assert [m.headers["Nats-Msg-Id"] for m in messages if m.headers] == [str(e.id) for e in envelopes]
    assert [m.data for m in messages] == [encode_envelope(e) for e in envelopes]
    assert relay.published == 5


async def _zero(count: Callable[[], Awaitable[int]]) -> bool:
    return await count() == 0


async def test_only_one_relay_works_at_a_time(kit: Kit) -> None:
    first, second = kit.relay(), kit.relay()
    tasks = [asyncio.create_task(first.run()), asyncio.create_task(second.run())]
    try:
        async with asyncio.timeout(10):
            while not (first.is_leader or second.is_leader):
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        assert [first.is_leader, second.is_leader].count(True) == 1
        leader, standby = (tasks[0], tasks[1]) if first.is_leader else (tasks[1], tasks[0])
        follower = second if first.is_leader else first
        leader.cancel()
        await asyncio.gather(leader, return_exceptions=True)
        async with asyncio.timeout(10):
            while not follower.is_leader:
                await asyncio.sleep(0.05)
        await kit.write_events(3)
        async with asyncio.timeout(10):
            while await kit.unpublished():
                await asyncio.sleep(0.05)
        assert follower.published == 3
        assert not standby.done()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_relay_killed_between_publish_and_mark_delivers_every_event_exactly_once(kit: Kit) -> None:
    await kit.write_events(20)

    async def die_after_publishing(_rows: Sequence[asyncpg.Record]) -> None:
        raise Crash

    crashing = kit.relay(after_publish=die_after_publishing)
    with pytest.raises(Crash):
        await crashing.run()
    # Published to the stream but never marked: the crash left every row pending.
    assert await kit.stream_messages() == 20
    assert await kit.unpublished() == 20

    restarted = kit.relay()
    consumer = kit.consumer()

    async def settled() -> bool:
        return await _has_effects(kit, 20) and await kit.unpublished() == 0

    await _run_until([restarted.run, consumer.run], settled)
    assert await kit.effects() == {seq: 1 for seq in range(20)}
    assert await kit.unpublished() == 0
    # The republished copies were dropped by the stream's duplicate window.
    assert await kit.stream_messages() == 20


async def _has_effects(kit: Kit, count: int) -> bool:
    return len(await kit.effects()) >= count


async def test_a_redelivered_event_is_applied_once(kit: Kit) -> None:
    # Publish the same event twice without a Nats-Msg-Id (as after the duplicate window):
    # only the inbox stands between the consumer and a double effect.
    envelope = (await kit.write_events(1))[0]
    js = kit.nats.jetstream()
    await ensure_stream(js, STREAM)
    await js.publish(envelope.type, encode_envelope(envelope))
    await js.publish(envelope.type, encode_envelope(envelope))
    consumer = kit.consumer()
    await _run_until([consumer.run], lambda: _handled(consumer, 2))
    assert await kit.effects() == {0: 1}
    assert (consumer.applied, consumer.duplicates) == (1, 1)


async def _handled(consumer: EventConsumer, count: int) -> bool:
    return consumer.applied + consumer.duplicates + consumer.dead_lettered >= count


async def _published(kit: Kit, count: int) -> None:
    await kit.write_events(count)
    relay = kit.relay()
    await _run_until([relay.run], lambda: _zero(kit.unpublished))


async def test_consumer_killed_inside_a_batch_leaves_no_effect_and_loses_none(kit: Kit) -> None:
    await _published(kit, 10)
    applied = 0

    async def dies_on_the_fourth(conn: asyncpg.Connection, envelope: Envelope, event: Pinged) -> None:
        nonlocal applied
        applied += 1
        await apply_effect(conn, envelope, event)
        if applied == 4:
            raise Crash  # three effects written in the open transaction, none committed

    dying = kit.consumer(handler=dies_on_the_fourth)
    with pytest.raises(Crash):
        async with asyncio.timeout(30):  # a consumer that never crashes fails here, not at pytest's timeout
            await dying.run()
    assert await kit.effects() == {}

    restarted = kit.consumer()
    await _run_until([restarted.run], lambda: _has_effects(kit, 10))
    await asyncio.sleep(1.5)  # past ack_wait: anything unacked would come back now
    assert await kit.effects() == {seq: 1 for seq in range(10)}


async def test_consumer_killed_between_commit_and_ack_applies_nothing_twice(kit: Kit) -> None:
    await _published(kit, 10)
    acked = 0

    async def dies_before_the_fourth_ack(_msg: Msg, _envelope: Envelope) -> None:
        nonlocal acked
        if acked == 3:
            raise Crash  # every effect of the batch is committed, only three acks went out
        acked += 1

    dying = kit.consumer(after_commit=dies_before_the_fourth_ack)
    with pytest.raises(Crash):
        async with asyncio.timeout(30):  # a consumer that never crashes fails here, not at pytest's timeout
            await dying.run()
    committed = await kit.effects()
    assert len(committed) >= 4  # the fourth's batch committed before its ack was due
    assert set(committed.values()) == {1}

    restarted = kit.consumer()
    await _run_until([restarted.run], lambda: _handled(restarted, 7))
    await asyncio.sleep(1.5)
    assert await kit.effects() == {seq: 1 for seq in range(10)}
    # Seven were never acked: the committed ones come back as duplicates, the rest apply now
    # (on a loaded machine an ack can miss ack_wait and bring a message back once more).
    assert restarted.applied == 10 - len(committed)
    assert restarted.duplicates >= len(committed) - 3


async def test_one_failing_message_does_not_undo_the_rest_of_its_batch(kit: Kit) -> None:
    await _published(kit, 5)
    attempts: dict[int, int] = {}

    async def third_fails_once(conn: asyncpg.Connection, envelope: Envelope, event: Pinged) -> None:
        seq = event.seq
        attempts[seq] = attempts.get(seq, 0) + 1
        await apply_effect(conn, envelope, event)
        if seq == 2 and attempts[seq] == 1:
            raise ValueError("transient")

    consumer = kit.consumer(handler=third_fails_once)
    await _run_until([consumer.run], lambda: _has_effects(kit, 5))
    assert await kit.effects() == {seq: 1 for seq in range(5)}
    assert attempts == {0: 1, 1: 1, 2: 2, 3: 1, 4: 1}


async def test_a_transient_failure_is_retried_with_backoff_until_it_succeeds(kit: Kit) -> None:
    await kit.write_events(1)
    attempts = 0

    async def flaky(conn: asyncpg.Connection, envelope: Envelope, event: Pinged) -> None:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise ConnectionError("downstream hiccup")
        await apply_effect(conn, envelope, event)

    relay, consumer = kit.relay(), kit.consumer(handler=flaky)
    await _run_until([relay.run, consumer.run], lambda: _has_effects(kit, 1))
    assert attempts == 3
    assert await kit.effects() == {0: 1}
    assert consumer.dead_lettered == 0


async def _dead_letters(kit: Kit) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(kit.layout.owner_url)  # the app role may only add to it
    try:
        rows: list[asyncpg.Record] = await conn.fetch(
            "select consumer, message_id, subject, num_delivered, error from dead_letter order by id"
        )
        return rows
    finally:
        await conn.close()


async def test_a_message_that_keeps_failing_is_dead_lettered_after_max_deliveries(kit: Kit) -> None:
    envelopes = await kit.write_events(1)
    attempts = 0

    async def always_fails(_conn: asyncpg.Connection, _envelope: Envelope, _event: Pinged) -> None:
        nonlocal attempts
        attempts += 1
        raise ValueError("cannot apply")

    relay, consumer = kit.relay(), kit.consumer(handler=always_fails, max_deliver=3)
    await _run_until([relay.run, consumer.run], lambda: _handled(consumer, 1))
    await asyncio.sleep(1.5)  # a terminated message is not redelivered
    assert attempts == 3
    [row] = await _dead_letters(kit)
    assert (row["consumer"], row["message_id"], row["num_delivered"]) == (
        "kit__kittest",
        str(envelopes[0].id),
        3,
    )
    assert "cannot apply" in row["error"]
    assert await kit.effects() == {}


async def test_an_event_that_waits_for_an_earlier_one_outlasts_max_deliveries(kit: Kit) -> None:
    """Waiting is not failing: a load that delays the event an update builds on must not make the
    consumer give the update up."""
    await kit.write_events(1)
    attempts = 0

    async def waits_a_while(conn: asyncpg.Connection, envelope: Envelope, event: Pinged) -> None:
        nonlocal attempts
        attempts += 1
        if attempts <= 5:
            raise NotYetApplicable("its creation has not come yet")
        await apply_effect(conn, envelope, event)

    relay, consumer = kit.relay(), kit.consumer(handler=waits_a_while, max_deliver=2)
    await _run_until([relay.run, consumer.run], lambda: _handled(consumer, 1))
    assert (consumer.applied, consumer.dead_lettered) == (1, 0)
    assert attempts == 6
    assert await _dead_letters(kit) == []
    assert await kit.effects() == {0: 1}


async def test_a_poison_message_is_dead_lettered_at_once(kit: Kit) -> None:
    js = kit.nats.jetstream()
    await ensure_stream(js, STREAM)
    await js.publish("kittest.ping.happened.v1", b"{not json")

    async def refuses(_conn: asyncpg.Connection, _envelope: Envelope, _event: Pinged) -> None:
        raise PermanentEventError("never valid")

    garbage_consumer = kit.consumer()
    await _run_until([garbage_consumer.run], lambda: _handled(garbage_consumer, 1))
    await kit.write_events(1)
    relay, refusing = kit.relay(), kit.consumer(handler=refuses)
    await _run_until([relay.run, refusing.run], lambda: _handled(refusing, 1))
    rows = await _dead_letters(kit)
    assert [r["num_delivered"] for r in rows] == [1, 1]
    assert "undecodable envelope" in rows[0]["error"]
    assert "never valid" in rows[1]["error"]


async def test_relay_and_consumer_resume_by_themselves_after_a_nats_restart(
    kit: Kit, nats_server_factory: Callable[[], EmbeddedNats]
) -> None:
    server = nats_server_factory()
    nc = await connect_nats(server.url, name="restart-test")
    try:
        await ensure_stream(nc.jetstream(), STREAM)
        kit.nats = nc
        relay, consumer = kit.relay(), kit.consumer()
        tasks = [asyncio.create_task(relay.run()), asyncio.create_task(consumer.run())]
        try:
            await kit.write_events(5)
            await kit.wait_for_effects(5)
            server.stop()
            await kit.write_events(5, start=5)  # committed while NATS is down
            await asyncio.sleep(0.5)
            server.start()
            await kit.write_events(5, start=10)
            await kit.wait_for_effects(15, timeout=30)
            await asyncio.sleep(0.5)
            assert await kit.effects() == {seq: 1 for seq in range(15)}
            assert not any(task.done() for task in tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await nc.close()


async def test_the_relay_prunes_rows_published_long_ago_and_keeps_the_rest(kit: Kit) -> None:
    await kit.write_events(3)
    relay = kit.relay()
    await _run_until([relay.run], lambda: _zero(kit.unpublished))
    conn = await asyncpg.connect(kit.layout.relay_url)
    try:
        await conn.execute(
            "update outbox set published_at = now() - interval '8 days'"
            " where id = (select id from outbox order by created_at limit 1)"
        )
        await kit.write_events(1, start=3)  # stays pending: pruning never touches it
        assert await prune_published(conn, older_than_days=7) == 1
        assert await conn.fetchval("select count(*) from outbox") == 3
        assert await conn.fetchval("select count(*) from outbox where published_at is null") == 1
    finally:
        await conn.close()


async def test_an_event_carries_the_trace_of_the_request_that_caused_it(kit: Kit) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    bind_context(trace_id=trace_id)
    try:
        envelope = envelope_for(
            Pinged(seq=1), source=PRODUCER, subject="1", version=1, tenant_ids=[kit.tenant]
        )
    finally:
        clear_context()
    assert trace_id_of(envelope.traceparent) == trace_id
    assert (
        envelope_for(
            Pinged(seq=2), source=PRODUCER, subject="2", version=1, tenant_ids=[kit.tenant]
        ).traceparent
        is None
    )


async def test_an_event_jetstream_refuses_is_quarantined_and_blocks_nothing(kit: Kit) -> None:
    too_large = uuid.uuid4()
    async with tenant_transaction(kit.pool, kit.tenant) as conn:
        await conn.execute(
            "insert into outbox (id, tenant_id, subject, payload) values ($1, $2, $3, $4)",
            too_large,
            kit.tenant,
            Pinged.event_type,
            b"x" * (2 * 1024 * 1024),  # over the server's max_payload
        )
    await kit.write_events(3)
    relay = kit.relay(max_failed_attempts=2)

    async def failed_attempts() -> int:
        conn = await asyncpg.connect(kit.layout.relay_url)
        try:
            return int(await conn.fetchval("select failed_attempts from outbox where id = $1", too_large))
        finally:
            await conn.close()

    async def settled() -> bool:
        # quarantined (both attempts spent), not merely failed once, and the others through
        return (
            await failed_attempts() == 2 and await kit.unpublished() == 1 and await kit.stream_messages() == 3
        )

    await _run_until([relay.run], settled)
    await kit.write_events(2, start=3)  # later events still flow past the quarantined one
    await _run_until([kit.relay(max_failed_attempts=2).run], lambda: _stream_has(kit, 5))
    conn = await asyncpg.connect(kit.layout.relay_url)
    try:
        row = await conn.fetchrow(
            "select failed_attempts, last_error, published_at from outbox where id = $1", too_large
        )
    finally:
        await conn.close()
    assert row["failed_attempts"] == 2
    assert row["published_at"] is None
    assert "MaxPayload" in row["last_error"]


async def _stream_has(kit: Kit, count: int) -> bool:
    return await kit.stream_messages() >= count


async def test_a_consumer_loop_stops_even_when_a_wait_swallowed_its_cancellation() -> None:
    """Python 3.11's ``wait_for`` (inside nats-py's fetch) can swallow a cancellation; the loop's
    check still sees the request and stops."""
    reached_check = asyncio.Event()

    async def swallowing_wait() -> None:
        # What the racing wait_for does: the fetch's result wins, the cancellation is lost.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(10)
        reached_check.set()
        _raise_if_cancelled()

    task = asyncio.create_task(swallowing_wait())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert reached_check.is_set()
