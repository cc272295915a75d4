"""An approver is the employer only of the processes charged to a cost centre they hold (as the
orders service limits approvers to their cost centres); buyer admins keep the tenant-wide frame.

Which cost centres an approver holds comes from organisations' ``ApproverAssigned`` /
``ApproverRemoved`` events, applied by version so a late event cannot undo a newer one.
"""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from shared import approvers
from shared.contracts import organisations as organisations_events
from shared.db.tenant import tenant_transaction
from shared.testing.issuer import TestIssuer
from tests.sessions.support import (
    Callers,
    Parties,
    approver_envelope,
    assign_approver,
    body_of,
    iso,
    new_world,
    open_process,
    use_keyring,
    write,
)

Client = AsyncTestClient[Litestar]


async def test_an_approver_of_another_cost_centre_does_not_see_the_process_or_its_sessions(
    client: Client, sessions_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    parties = Parties(participants=[uuid.uuid4()])
    process = await open_process(sessions_pool, parties, form="individual")
    who = Callers(issuer, parties)
    elsewhere = uuid.uuid4()
    await assign_approver(sessions_pool, parties.buyer_id, uuid.uuid4(), elsewhere)
    path = f"/sessions/processes/{process.process_id}"
    starts = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=5)
    created = await client.post(
        f"{path}/sessions",
        json={"startsAt": iso(starts), "durationMinutes": 90, "mode": "remote"},
        headers=who.supervisor(),
    )
    session = body_of(created, 201)
    outsider = who._headers(parties.buyer_id, elsewhere, "approver")
    for url in (path, f"{path}/sessions", f"/sessions/sessions/{session['id']}"):
        assert (await client.get(url, headers=outsider)).status_code == 404, url
        assert (await client.get(url, headers=who.approver())).status_code == 200, url
        assert (await client.get(url, headers=who.buyer_admin())).status_code == 200, url
    listed = body_of(await client.get("/sessions/processes?limit=200", headers=outsider), 200)["items"]
    assert str(process.process_id) not in [p["id"] for p in listed]
    # the approver of the cost centre knows who takes part in individual supervision; no one else there
    assert body_of(await client.get(path, headers=who.approver()), 200)["participants"] == [
        str(process.participants[0])
    ]


async def test_an_approver_of_another_cost_centre_reads_no_shared_content(
    client: Client, sessions_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    use_keyring(client)
    world = await new_world(sessions_pool, issuer)
    goal = await write(client, world, world.participant(0), "goal", "Rajat")
    for index in (0, 1):
        consent = await client.put(
            f"{world.base}/goal-consent", json={"consent": True}, headers=world.participant(index)
        )
        body_of(consent, 200)
    url = f"{world.base}/content/{goal['id']}"
    assert body_of(await client.get(url, headers=world.approver()), 200)["kind"] == "goal"
    outsider = world.other_approver()
    assert (await client.get(url, headers=outsider)).status_code == 404
    assert (await client.get(f"{world.base}/content", headers=outsider)).status_code == 404
    assert (await client.get(f"{world.base}/content-status", headers=outsider)).status_code == 404


async def test_a_removed_approver_loses_the_process_and_a_late_older_assignment_does_not_bring_them_back(
    client: Client, sessions_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    parties = Parties()
    process = await open_process(sessions_pool, parties)
    who = Callers(issuer, parties)
    path = f"/sessions/processes/{process.process_id}"
    assert (await client.get(path, headers=who.approver())).status_code == 200
    removed = approver_envelope(
        organisations_events.ApproverRemoved,
        parties.buyer_id,
        parties.cost_centre_id,
        parties.approver_id,
        version=3,
    )
    late = approver_envelope(
        organisations_events.ApproverAssigned,
        parties.buyer_id,
        parties.cost_centre_id,
        parties.approver_id,
        version=2,
    )
    async with tenant_transaction(sessions_pool, parties.buyer_id) as conn:
        await approvers.apply_approver_removed(
            conn, removed, removed.event_as(organisations_events.ApproverRemoved)
        )
        await approvers.apply_approver_assigned(
            conn, late, late.event_as(organisations_events.ApproverAssigned)
        )
        held = await approvers.assigned_cost_centres(conn, parties.buyer_id, parties.approver_id)
    assert held == frozenset()
    assert (await client.get(path, headers=who.approver())).status_code == 404
    again = (parties.buyer_id, parties.cost_centre_id, parties.approver_id)
    await assign_approver(sessions_pool, *again, version=4)
    assert (await client.get(path, headers=who.approver())).status_code == 200
