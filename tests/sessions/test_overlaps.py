"""No person is in two live sessions at once (issue 13, item 2).

One supervisor took two 90-minute sessions 49 minutes apart; one was held, the other recorded a
no-show, and both were invoiced. A session (scheduled or rescheduled) that overlaps another live one
— scheduled, held or a no-show, not cancelled — of the same supervisor (any of her processes) or of
one of its participants (any process, of any provider) is refused with 409. The supervisor learns
which of her own sessions it overlaps; of a participant's other sessions only that there is one.
Concurrent requests cannot both pass: the database decides (an exclusion constraint).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from services.sessions.domain.sessions import Session
from services.sessions.handlers import sessions as handlers
from services.sessions.store import sessions as store
from shared.auth.principal import Principal
from shared.db.tenant import tenant_transaction
from shared.errors import Conflict
from shared.testing.issuer import TestIssuer
from shared.testing.plugin import Stack
from tests.sessions.support import (
    Callers,
    Client,
    FrameWorld,
    Parties,
    everyone_attended,
    iso,
    now,
    ok,
    open_process,
    problem,
)

START = dt.datetime(2026, 11, 3, 20, 1, 51, tzinfo=dt.UTC)
"""The times of the report: 20:01:51Z and 20:02:40Z, both 90 minutes."""


def _body(starts_at: dt.datetime, duration: int = 90) -> dict[str, Any]:
    return {"startsAt": iso(starts_at), "durationMinutes": duration, "mode": "remote"}


async def _schedule(client: Client, world: FrameWorld, starts_at: dt.datetime, duration: int = 90) -> Any:
    return await client.post(
        f"{world.path}/sessions", json=_body(starts_at, duration), headers=world.who.supervisor()
    )


async def _world(pool: asyncpg.Pool, issuer: TestIssuer, parties: Parties) -> FrameWorld:
    process = await open_process(pool, parties, accepted_at=START - dt.timedelta(days=60))
    return FrameWorld(process, parties, Callers(issuer, parties))


@pytest_asyncio.fixture
async def world(sessions_pool: asyncpg.Pool, issuer: TestIssuer) -> FrameWorld:
    return await _world(sessions_pool, issuer, Parties())


async def test_the_reported_pair_is_refused_naming_the_first_session(
    client: Client, world: FrameWorld
) -> None:
    first = ok(await _schedule(client, world, START), 201)
    refused = problem(await _schedule(client, world, START + dt.timedelta(seconds=49)), 409)
    assert first["id"] in refused["detail"]
    assert "2026-11-03T20:01:51Z" in refused["detail"]
    assert [e["field"] for e in refused["errors"]] == ["body.startsAt"]
    assert first["id"] in refused["errors"][0]["message"]
    # Back to back is fine: [start, end) ranges.
    ok(await _schedule(client, world, START + dt.timedelta(minutes=90)), 201)
    ok(await _schedule(client, world, START - dt.timedelta(minutes=60), duration=60), 201)


async def test_held_and_no_show_sessions_keep_their_time_and_cancelled_ones_free_it(
    client: Client, world: FrameWorld
) -> None:
    past = now() - dt.timedelta(days=3)
    held = ok(await _schedule(client, world, past), 201)
    ok(
        await client.post(
            f"/sessions/sessions/{held['id']}/held",
            json=everyone_attended(world),
            headers=world.who.supervisor(),
        )
    )
    problem(await _schedule(client, world, past + dt.timedelta(minutes=30)), 409)
    missed = ok(await _schedule(client, world, past - dt.timedelta(days=1)), 201)
    ok(await client.post(f"/sessions/sessions/{missed['id']}/no-show", headers=world.who.supervisor()))
    problem(await _schedule(client, world, past - dt.timedelta(days=1, minutes=-10)), 409)
    later = now() + dt.timedelta(days=10)
    cancelled = ok(await _schedule(client, world, later), 201)
    ok(
        await client.post(
            f"/sessions/sessions/{cancelled['id']}/cancel",
            json={"cancelledBy": "supervisor", "reasonCategory": "other"},
            headers=world.who.supervisor(**{"If-Match": '"1"'}),
        )
    )
    ok(await _schedule(client, world, later + dt.timedelta(minutes=15)), 201)


async def test_a_reschedule_into_another_session_is_refused_and_moving_within_its_own_time_is_not(
    client: Client, world: FrameWorld
) -> None:
    first = ok(await _schedule(client, world, START), 201)
    second = ok(await _schedule(client, world, START + dt.timedelta(hours=3)), 201)
    path = f"/sessions/sessions/{second['id']}/reschedule"
    refused = problem(
        await client.post(
            path,
            json=_body(START + dt.timedelta(minutes=45)),
            headers=world.who.supervisor(**{"If-Match": '"1"'}),
        ),
        409,
    )
    assert first["id"] in refused["detail"]
    moved = ok(
        await client.post(
            path,
            json=_body(START + dt.timedelta(hours=3, minutes=30)),
            headers=world.who.supervisor(**{"If-Match": '"1"'}),
        )
    )
    assert moved["startsAt"] == iso(START + dt.timedelta(hours=3, minutes=30))
    # The session's old time is free again.
    ok(await _schedule(client, world, START + dt.timedelta(hours=2)), 201)


async def test_the_supervisor_is_busy_across_her_processes(
    client: Client, world: FrameWorld, sessions_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    mine = world.parties
    other = await _world(
        sessions_pool, issuer, Parties(provider_id=mine.provider_id, supervisor_id=mine.supervisor_id)
    )
    first = ok(await _schedule(client, world, START), 201)
    refused = problem(await _schedule(client, other, START + dt.timedelta(minutes=30)), 409)
    assert first["id"] in refused["detail"]
    # Another supervisor of the same provider, with other participants, is not held up by her.
    third = await _world(sessions_pool, issuer, Parties(provider_id=mine.provider_id))
    ok(await _schedule(client, third, START + dt.timedelta(minutes=30)), 201)


async def test_a_participant_is_busy_across_providers_and_the_refusal_tells_nothing_about_it(
    client: Client, world: FrameWorld, sessions_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    shared_person = world.parties.participants[0]
    elsewhere = await _world(
        sessions_pool,
        issuer,
        Parties(buyer_id=world.parties.buyer_id, participants=[shared_person, uuid.uuid4()]),
    )
    same_provider = await _world(
        sessions_pool,
        issuer,
        Parties(
            buyer_id=world.parties.buyer_id,
            provider_id=world.parties.provider_id,
            participants=[uuid.uuid4(), shared_person],
        ),
    )
    first = ok(await _schedule(client, world, START), 201)
    for other in (elsewhere, same_provider):
        response = await _schedule(client, other, START + dt.timedelta(minutes=60))
        refused = problem(response, 409)
        assert refused["detail"] == "the session overlaps another session of a participant"
        assert refused["errors"] == [
            {"field": "body.startsAt", "message": "overlaps another session of a participant"}
        ]
        for secret in (first["id"], str(world.process.process_id), str(world.parties.supervisor_id)):
            assert secret not in response.text
        assert "20:01" not in response.text
    ok(await _schedule(client, elsewhere, START + dt.timedelta(minutes=90)), 201)


def _supervisor_of(parties: Parties) -> Principal:
    return Principal(
        subject=str(parties.supervisor_id),
        tenant_id=parties.provider_id,
        roles=frozenset({"supervisor"}),
        scopes=frozenset(),
        token_id="overlap-test",
        is_client=False,
    )


async def _schedule_directly(pool: asyncpg.Pool, world: FrameWorld, starts_at: dt.datetime) -> Session:
    """The use case itself, on the test's event loop (the test client serves one request at a time)."""
    return await handlers.schedule_session(
        pool,
        _supervisor_of(world.parties),
        world.process.process_id,
        starts_at=starts_at,
        duration_minutes=90,
        mode="remote",
        idempotency_key=None,
        body_hash="-",
    )


async def test_a_schedule_waiting_on_an_uncommitted_overlapping_one_is_refused_when_it_commits(
    world: FrameWorld, sessions_pool: asyncpg.Pool, issuer: TestIssuer, stack: Stack
) -> None:
    """The race of two schedules: neither sees the other's uncommitted row, the database still decides."""
    other = await _world(
        sessions_pool,
        issuer,
        Parties(provider_id=world.parties.provider_id, supervisor_id=world.parties.supervisor_id),
    )
    session = Session(
        session_id=uuid.uuid4(),
        process_id=world.process.process_id,
        starts_at=START,
        duration_minutes=90,
        mode="remote",
    )
    admin = await asyncpg.connect(stack.pg_admin_url)
    try:
        async with tenant_transaction(sessions_pool, world.parties.provider_id) as conn:
            await store.insert_session(conn, world.process, session)
            racing = asyncio.create_task(
                _schedule_directly(sessions_pool, other, START + dt.timedelta(seconds=49))
            )
            deadline = asyncio.get_running_loop().time() + 60
            # The second schedule waits for the first transaction (it cannot see its row yet).
            while not await admin.fetchval(
                "select count(*) from pg_stat_activity where wait_event_type = 'Lock'"
                " and query like '%insert into sessions%'"
            ):
                assert not racing.done(), racing.result()
                assert asyncio.get_running_loop().time() < deadline, "the second schedule never waited"
                await asyncio.sleep(0.05)
        with pytest.raises(Conflict) as refused:
            await racing
        assert str(session.session_id) in refused.value.detail
    finally:
        await admin.close()


async def test_of_many_concurrent_overlapping_schedules_exactly_one_is_booked(
    world: FrameWorld, sessions_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    shared_person = world.parties.participants[0]
    worlds = [world] + [
        await _world(
            sessions_pool,
            issuer,
            Parties(buyer_id=world.parties.buyer_id, participants=[shared_person, uuid.uuid4()]),
        )
        for _ in range(4)
    ]
    results = await asyncio.gather(
        *(
            _schedule_directly(sessions_pool, w, START + dt.timedelta(minutes=5 * i))
            for i, w in enumerate(worlds)
        ),
        return_exceptions=True,
    )
    booked = [r for r in results if isinstance(r, Session)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert (len(booked), len(refused)) == (1, 4), results
    assert all(r.detail == "the session overlaps another session of a participant" for r in refused)
