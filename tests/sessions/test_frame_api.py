"""The frame API of processes and sessions over HTTP, on real servers: who reads what, the process's
supervisor's writes, Idempotency-Key and If-Match, problem+json refusals, and the events in the outbox.

Processes are opened as the orders consumer opens them (its handler, fed an accepted order's envelope).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg
import pytest_asyncio

from services.sessions.handlers import processes as handlers
from shared.contracts import orders as orders_events
from shared.contracts import sessions as events
from shared.db.provision import DatabaseLayout
from shared.db.tenant import tenant_transaction
from shared.testing.issuer import TestIssuer
from tests.sessions.support import (
    Callers,
    Client,
    FrameWorld,
    Parties,
    everyone_attended,
    fields,
    iso,
    now,
    ok,
    open_process,
    order_event,
    orders_envelope,
    outbox_events,
    problem,
)


@pytest_asyncio.fixture
async def world(sessions_pool: asyncpg.Pool, issuer: TestIssuer) -> FrameWorld:
    parties = Parties()
    process = await open_process(sessions_pool, parties, accepted_at=now() - dt.timedelta(days=60))
    return FrameWorld(process, parties, Callers(issuer, parties))


async def schedule(
    client: Client, world: FrameWorld, starts_at: dt.datetime, *, duration: int = 90, key: str | None = None
) -> dict[str, Any]:
    headers = world.who.supervisor(**({"Idempotency-Key": key} if key else {}))
    body = {"startsAt": iso(starts_at), "durationMinutes": duration, "mode": "remote"}
    return ok(await client.post(f"{world.path}/sessions", json=body, headers=headers), 201)


# --- processes ---


async def test_the_process_is_read_by_its_supervisor_provider_admins_buyer_side_and_participants(
    client: Client, world: FrameWorld
) -> None:
    for headers in (
        world.who.supervisor(),
        world.who.provider_admin(),
        world.who.buyer_admin(),
        world.who.approver(),
        world.who.participant(1),
    ):
        response = await client.get(world.path, headers=headers)
        body = ok(response)
        assert response.headers["etag"] == '"1"'
        assert body["orderId"] == str(world.parties.order_id)
        assert body["plannedSessions"] == 4
        assert body["status"] == "open"
        assert {(a["durationMinutes"], a["mode"]) for a in body["allowedSessions"]} == {
            (90, "remote"),
            (90, "at_buyer"),
            (60, "remote"),
        }


async def test_another_tenant_another_supervisor_and_a_non_participant_get_404(
    client: Client, world: FrameWorld
) -> None:
    for headers in (
        world.who.stranger("buyer_admin"),
        world.who.stranger("supervisor"),
        world.who.stranger("provider_admin"),
        world.who.other_supervisor(),
        world.who.other_employee(),
        world.who.other_approver(),
    ):
        problem(await client.get(world.path, headers=headers), 404)
        problem(await client.get(f"{world.path}/sessions", headers=headers), 404)


async def test_the_list_holds_what_each_caller_may_see(client: Client, world: FrameWorld) -> None:
    mine = str(world.process.process_id)
    for headers in (world.who.supervisor(), world.who.buyer_admin(), world.who.participant()):
        listed = ok(await client.get("/sessions/processes?limit=200", headers=headers))
        assert mine in [p["id"] for p in listed["items"]]
    for headers in (world.who.stranger(), world.who.other_supervisor(), world.who.other_employee()):
        listed = ok(await client.get("/sessions/processes?limit=200", headers=headers))
        assert mine not in [p["id"] for p in listed["items"]]


async def test_processes_are_listed_page_by_page(
    client: Client, sessions_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    parties = Parties()
    for _ in range(3):
        await open_process(sessions_pool, Parties(buyer_id=parties.buyer_id, provider_id=parties.provider_id))
    headers = Callers(issuer, parties).buyer_admin()
    first = ok(await client.get("/sessions/processes?limit=2", headers=headers))
    assert len(first["items"]) == 2
    assert first["nextCursor"]
    rest = ok(await client.get(f"/sessions/processes?limit=2&cursor={first['nextCursor']}", headers=headers))
    assert len(rest["items"]) == 1
    assert "nextCursor" not in rest
    assert not {p["id"] for p in first["items"]} & {p["id"] for p in rest["items"]}


async def test_the_supervisor_records_the_agreement_and_a_stale_if_match_is_412(
    client: Client, world: FrameWorld
) -> None:
    body = {
        "signedAt": iso(now() - dt.timedelta(days=1)),
        "midEvaluationOn": "2026-06-01",
        "finalEvaluationOn": "2026-12-01",
        "trialSessions": 1,
    }
    problem(await client.post(f"{world.path}/agreement", json=body, headers=world.who.provider_admin()), 403)
    problem(
        await client.post(f"{world.path}/agreement", json=body, headers=world.who.other_supervisor()), 404
    )
    problem(
        await client.post(
            f"{world.path}/agreement", json=body, headers=world.who.supervisor(**{"If-Match": '"7"'})
        ),
        412,
    )
    recorded = ok(
        await client.post(
            f"{world.path}/agreement", json=body, headers=world.who.supervisor(**{"If-Match": '"1"'})
        )
    )
    assert recorded["version"] == 2
    assert recorded["agreement"]["trialSessions"] == 1
    assert recorded["agreement"]["parties"] == [
        str(world.parties.buyer_id),
        str(world.parties.supervisor_id),
        *map(str, world.parties.participants),
    ]
    problem(
        await client.post(
            f"{world.path}/agreement", json={**body, "trialSessions": 4}, headers=world.who.supervisor()
        ),
        400,
    )
    problem(await client.post(f"{world.path}/agreement", json=body, headers=world.who.supervisor()), 409)


async def test_the_trial_gate_over_http(client: Client, world: FrameWorld) -> None:
    body = {
        "signedAt": iso(now() - dt.timedelta(days=50)),
        "midEvaluationOn": "2026-06-01",
        "finalEvaluationOn": "2026-12-01",
        "trialSessions": 1,
    }
    ok(await client.post(f"{world.path}/agreement", json=body, headers=world.who.supervisor()))
    trial = await schedule(client, world, now() - dt.timedelta(days=40))
    assert trial["trial"] is True
    # Booking ahead while the trial runs is normal; holding that session waits for the decision.
    ahead = await schedule(client, world, now() - dt.timedelta(days=30))
    assert ahead["trial"] is False
    gated = problem(
        await client.post(
            f"/sessions/sessions/{ahead['id']}/held",
            json=everyone_attended(world),
            headers=world.who.supervisor(),
        ),
        409,
    )
    assert "go/no-go" in gated["detail"]
    problem(
        await client.post(f"/sessions/sessions/{ahead['id']}/no-show", headers=world.who.supervisor()), 409
    )
    problem(
        await client.post(
            f"{world.path}/trial-decision", json={"decision": "go"}, headers=world.who.supervisor()
        ),
        409,
    )
    ok(
        await client.post(
            f"/sessions/sessions/{trial['id']}/held",
            json=everyone_attended(world),
            headers=world.who.supervisor(),
        )
    )
    decided = ok(
        await client.post(
            f"{world.path}/trial-decision", json={"decision": "go"}, headers=world.who.supervisor()
        )
    )
    assert decided["trialDecision"] == "go"
    assert (await schedule(client, world, now() + dt.timedelta(days=3)))["trial"] is False
    held = ok(
        await client.post(
            f"/sessions/sessions/{ahead['id']}/held",
            json=everyone_attended(world),
            headers=world.who.supervisor(),
        )
    )
    assert held["status"] == "held"


async def test_an_evaluation_is_recorded_and_published_as_a_fact_only(
    client: Client, world: FrameWorld, layout: DatabaseLayout
) -> None:
    done_at = now() - dt.timedelta(days=2)
    body = {"kind": "mid", "doneAt": iso(done_at)}
    problem(await client.post(f"{world.path}/evaluations", json=body, headers=world.who.buyer_admin()), 403)
    recorded = ok(await client.post(f"{world.path}/evaluations", json=body, headers=world.who.supervisor()))
    assert recorded["evaluations"] == [{"kind": "mid", "doneAt": iso(done_at)}]
    heard = [
        e
        for e in await outbox_events(layout.relay_url, str(world.process.process_id))
        if e.type == events.EvaluationDone.event_type
    ]
    assert len(heard) == 1
    event = heard[0].event_as(events.EvaluationDone)
    assert (event.kind, event.done_at, heard[0].tenant_ids) == (
        "mid",
        done_at,
        (world.parties.buyer_id, world.parties.provider_id),
    )


# --- sessions ---


async def test_scheduling_is_idempotent_by_key_and_refuses_another_body_under_it(
    client: Client, world: FrameWorld
) -> None:
    starts = now() + dt.timedelta(days=10)
    first = await schedule(client, world, starts, key="k-1")
    again = await schedule(client, world, starts, key="k-1")
    assert again["id"] == first["id"]
    assert fields(
        await client.post(
            f"{world.path}/sessions",
            json={"startsAt": iso(starts), "durationMinutes": 60, "mode": "remote"},
            headers=world.who.supervisor(**{"Idempotency-Key": "k-1"}),
        ),
        422,
    ) == ["header.Idempotency-Key"]
    listed = ok(await client.get(f"{world.path}/sessions", headers=world.who.supervisor()))
    assert [s["id"] for s in listed["items"]] == [first["id"]]


async def test_an_idempotency_key_is_the_callers_own_not_the_whole_tenants(
    client: Client, world: FrameWorld, sessions_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    colleague = Parties(provider_id=world.parties.provider_id, buyer_id=world.parties.buyer_id)
    process = await open_process(sessions_pool, colleague, accepted_at=now() - dt.timedelta(days=60))
    theirs = FrameWorld(process, colleague, Callers(issuer, colleague))
    starts = now() + dt.timedelta(days=10)
    mine = await schedule(client, world, starts, key="shared-key")
    other = await schedule(client, theirs, starts, key="shared-key")
    assert other["id"] != mine["id"]
    assert other["processId"] == str(process.process_id)
    assert (await schedule(client, theirs, starts, key="shared-key"))["id"] == other["id"]


async def test_scheduling_refusals(client: Client, world: FrameWorld) -> None:
    body = {"startsAt": iso(now() + dt.timedelta(days=10)), "durationMinutes": 90, "mode": "remote"}
    path = f"{world.path}/sessions"
    problem(await client.post(path, json=body, headers=world.who.buyer_admin()), 403)  # not a supervisor
    problem(await client.post(path, json=body, headers=world.who.provider_admin()), 403)
    problem(await client.post(path, json=body, headers=world.who.other_supervisor()), 404)
    problem(await client.post(path, json=body, headers=world.who.stranger("supervisor")), 404)
    assert fields(
        await client.post(path, json={**body, "durationMinutes": 120}, headers=world.who.supervisor()), 422
    ) == ["body.durationMinutes"]
    before = iso(world.process.accepted_at - dt.timedelta(days=1))
    assert fields(
        await client.post(path, json={**body, "startsAt": before}, headers=world.who.supervisor()), 422
    ) == ["body.startsAt"]
    problem(await client.post(path, json={**body, "reason": "x"}, headers=world.who.supervisor()), 400)
    for day in range(4):
        await schedule(client, world, now() + dt.timedelta(days=20 + day))
    full = problem(await client.post(path, json=body, headers=world.who.supervisor()), 409)
    assert "4 ordered sessions" in full["detail"]


async def test_reschedule_needs_a_fresh_if_match(client: Client, world: FrameWorld) -> None:
    session = await schedule(client, world, now() + dt.timedelta(days=10))
    path = f"/sessions/sessions/{session['id']}"
    body = {"startsAt": iso(now() + dt.timedelta(days=12)), "durationMinutes": 60, "mode": "remote"}
    problem(
        await client.post(
            f"{path}/reschedule", json=body, headers=world.who.supervisor(**{"If-Match": '"2"'})
        ),
        412,
    )
    problem(await client.post(f"{path}/reschedule", json=body, headers=world.who.participant()), 403)
    moved = await client.post(
        f"{path}/reschedule", json=body, headers=world.who.supervisor(**{"If-Match": '"1"'})
    )
    assert ok(moved)["durationMinutes"] == 60
    assert moved.headers["etag"] == '"2"'
    problem(
        await client.post(
            f"{path}/reschedule", json=body, headers=world.who.supervisor(**{"If-Match": '"1"'})
        ),
        412,
    )


async def test_a_held_session_publishes_session_held_with_attendance_and_no_reason(
    client: Client, world: FrameWorld, layout: DatabaseLayout
) -> None:
    session = await schedule(client, world, now() - dt.timedelta(days=3))
    path = f"/sessions/sessions/{session['id']}"
    absent = world.parties.participants[1]
    attendance = {
        "attendance": [
            {"personId": str(world.parties.participants[0]), "attended": True},
            {"personId": str(absent), "attended": False},
        ]
    }
    problem(await client.post(f"{path}/held", json=attendance, headers=world.who.provider_admin()), 403)
    problem(await client.post(f"{path}/held", json=attendance, headers=world.who.stranger("supervisor")), 404)
    held = ok(
        await client.post(
            f"{path}/held", json=attendance, headers=world.who.supervisor(**{"If-Match": '"1"'})
        )
    )
    assert held["status"] == "held"
    problem(await client.post(f"{path}/held", json=attendance, headers=world.who.supervisor()), 409)

    published = await outbox_events(layout.relay_url, session["id"])
    assert [e.type for e in published] == [events.SessionScheduled.event_type, events.SessionHeld.event_type]
    envelope = published[1]
    assert envelope.tenant_ids == (world.parties.buyer_id, world.parties.provider_id)
    assert envelope.version == 2
    event = envelope.event_as(events.SessionHeld)
    assert event.attendance == [
        events.AttendanceFact(person_id=world.parties.participants[0], attended=True),
        events.AttendanceFact(person_id=absent, attended=False),
    ]
    assert (event.price.duration_minutes, event.price.mode, event.price.net_price_cents) == (
        90,
        "remote",
        18000,
    )
    assert event.participant_count == 2
    assert event.cancellation_terms.late_threshold_hours == 24
    assert "reason" not in bytes(envelope.data).decode().lower()


async def test_an_illness_exemption_is_shown_only_to_the_supervisor_but_reaches_billing(
    client: Client, world: FrameWorld, layout: DatabaseLayout
) -> None:
    session = await schedule(client, world, now() + dt.timedelta(hours=3))
    path = f"/sessions/sessions/{session['id']}"
    body = {"cancelledBy": "participant", "reasonCategory": "illness"}
    cancelled = ok(await client.post(f"{path}/cancel", json=body, headers=world.who.supervisor()))
    assert cancelled["cancellation"]["chargeExempt"] is True
    by_supervisor = ok(await client.get(path, headers=world.who.supervisor()))["cancellation"]
    assert (by_supervisor["category"], by_supervisor["chargeExempt"], by_supervisor["reasonCategory"]) == (
        "late",
        True,
        "illness",
    )
    # the participant keeps the truth (late), without the supervisor's reason and exemption
    by_participant = ok(await client.get(path, headers=world.who.participant()))["cancellation"]
    assert by_participant["category"] == "late"
    assert "chargeExempt" not in by_participant
    assert "cancelledAt" in by_participant
    for headers in (world.who.buyer_admin(), world.who.approver(), world.who.provider_admin()):
        seen = ok(await client.get(path, headers=headers))["cancellation"]
        assert "chargeExempt" not in seen
        listed = ok(await client.get(f"{world.path}/sessions", headers=headers))["items"]
        assert all("chargeExempt" not in (s["cancellation"] or {}) for s in listed)
    published = await outbox_events(layout.relay_url, session["id"])
    assert published[-1].event_as(events.SessionCancelled).charge_exempt is True


async def test_to_the_employer_an_exempt_late_cancellation_reads_exactly_like_an_on_time_one(
    client: Client, world: FrameWorld
) -> None:
    exempt = await schedule(client, world, now() + dt.timedelta(hours=3))
    on_time = await schedule(client, world, now() + dt.timedelta(days=5))
    for session, reason in ((exempt, "illness"), (on_time, "work_shift")):
        body = {"cancelledBy": "participant", "reasonCategory": reason}
        ok(
            await client.post(
                f"/sessions/sessions/{session['id']}/cancel", json=body, headers=world.who.supervisor()
            )
        )
    for headers in (world.who.buyer_admin(), world.who.approver(), world.who.provider_admin()):
        read = [
            ok(await client.get(f"/sessions/sessions/{s['id']}", headers=headers))["cancellation"]
            for s in (exempt, on_time)
        ]
        assert read[0] == read[1] == {"cancelledBy": "participant", "category": "on_time"}
        listed = {
            s["id"]: s["cancellation"]
            for s in ok(await client.get(f"{world.path}/sessions", headers=headers))["items"]
        }
        assert listed[exempt["id"]] == listed[on_time["id"]] == read[0]
    truth = ok(await client.get(f"/sessions/sessions/{exempt['id']}", headers=world.who.supervisor()))
    assert (truth["cancellation"]["category"], truth["cancellation"]["chargeExempt"]) == ("late", True)


async def test_a_late_cancellation_shows_its_category_to_all_and_its_reason_only_to_the_supervisor(
    client: Client, world: FrameWorld, layout: DatabaseLayout
) -> None:
    session = await schedule(client, world, now() + dt.timedelta(hours=3))
    path = f"/sessions/sessions/{session['id']}"
    body = {"cancelledBy": "participant", "reasonCategory": "work_shift"}
    problem(await client.post(f"{path}/cancel", json=body, headers=world.who.participant()), 403)
    cancelled = ok(await client.post(f"{path}/cancel", json=body, headers=world.who.supervisor()))
    assert cancelled["cancellation"]["category"] == "late"
    assert cancelled["cancellation"]["reasonCategory"] == "work_shift"
    for headers in (
        world.who.buyer_admin(),
        world.who.approver(),
        world.who.provider_admin(),
        world.who.participant(),
    ):
        seen = ok(await client.get(path, headers=headers))
        assert seen["status"] == "cancelled"
        assert seen["cancellation"]["category"] == "late"
        assert "reasonCategory" not in seen["cancellation"]
    assert (
        ok(await client.get(path, headers=world.who.supervisor()))["cancellation"]["reasonCategory"]
        == "work_shift"
    )
    problem(await client.get(path, headers=world.who.stranger()), 404)

    published = await outbox_events(layout.relay_url, session["id"])
    assert published[-1].type == events.SessionCancelled.event_type
    event = published[-1].event_as(events.SessionCancelled)
    assert (event.category, event.charge_exempt) == ("late", False)
    assert "work_shift" not in bytes(published[-1].data).decode()


async def test_an_on_time_cancellation_for_illness_and_a_no_show(
    client: Client, world: FrameWorld, layout: DatabaseLayout
) -> None:
    on_time = await schedule(client, world, now() + dt.timedelta(days=5))
    cancelled = ok(
        await client.post(
            f"/sessions/sessions/{on_time['id']}/cancel",
            json={"cancelledBy": "buyer", "reasonCategory": "illness"},
            headers=world.who.supervisor(),
        )
    )
    assert (cancelled["cancellation"]["category"], cancelled["cancellation"]["chargeExempt"]) == (
        "on_time",
        False,
    )
    missed = await schedule(client, world, now() - dt.timedelta(days=1))
    problem(
        await client.post(f"/sessions/sessions/{missed['id']}/no-show", headers=world.who.buyer_admin()), 403
    )
    recorded = ok(
        await client.post(f"/sessions/sessions/{missed['id']}/no-show", headers=world.who.supervisor())
    )
    assert recorded["status"] == "no_show"
    published = await outbox_events(layout.relay_url, missed["id"])
    assert published[-1].type == events.SessionNoShow.event_type
    future = await schedule(client, world, now() + dt.timedelta(days=9))
    problem(
        await client.post(f"/sessions/sessions/{future['id']}/no-show", headers=world.who.supervisor()), 409
    )


async def test_sessions_are_listed_by_start_page_by_page(client: Client, world: FrameWorld) -> None:
    late = await schedule(client, world, now() + dt.timedelta(days=20))
    early = await schedule(client, world, now() + dt.timedelta(days=10))
    first = ok(await client.get(f"{world.path}/sessions?limit=1", headers=world.who.buyer_admin()))
    assert [s["id"] for s in first["items"]] == [early["id"]]
    rest = ok(
        await client.get(
            f"{world.path}/sessions?limit=1&cursor={first['nextCursor']}", headers=world.who.buyer_admin()
        )
    )
    assert [s["id"] for s in rest["items"]] == [late["id"]]
    assert "nextCursor" not in rest


async def test_another_tenants_session_ids_are_404(
    client: Client, world: FrameWorld, sessions_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    session = await schedule(client, world, now() + dt.timedelta(days=10))
    other = Parties()
    await open_process(sessions_pool, other)
    outsider = Callers(issuer, other)
    path = f"/sessions/sessions/{session['id']}"
    problem(await client.get(path, headers=outsider.supervisor()), 404)
    problem(await client.get(path, headers=outsider.buyer_admin()), 404)
    problem(await client.post(f"{path}/no-show", headers=outsider.supervisor()), 404)
    problem(await client.get(f"/sessions/sessions/{uuid.uuid4()}", headers=world.who.supervisor()), 404)


async def test_who_takes_part_in_individual_supervision_is_hidden_from_buyer_admins_but_not_approvers(
    client: Client, sessions_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    parties = Parties(participants=[uuid.uuid4()])
    process = await open_process(
        sessions_pool, parties, accepted_at=now() - dt.timedelta(days=10), form="individual"
    )
    who = Callers(issuer, parties)
    world = FrameWorld(process, parties, who)
    session = await schedule(client, world, now() - dt.timedelta(days=1))
    ok(
        await client.post(
            f"/sessions/sessions/{session['id']}/held",
            json=everyone_attended(world),
            headers=who.supervisor(),
        )
    )
    hidden = ok(await client.get(world.path, headers=who.buyer_admin()))
    assert hidden["participants"] is None
    seen = ok(await client.get(f"/sessions/sessions/{session['id']}", headers=who.buyer_admin()))
    assert (seen["status"], seen["attendance"]) == ("held", None)
    for headers in (who.approver(), who.participant(), who.supervisor(), who.provider_admin()):
        assert ok(await client.get(world.path, headers=headers))["participants"] == [
            str(parties.participants[0])
        ]
        attendance = ok(await client.get(f"/sessions/sessions/{session['id']}", headers=headers))[
            "attendance"
        ]
        assert attendance == [{"personId": str(parties.participants[0]), "attended": True}]


async def test_the_openapi_document_describes_the_frame_routes(client: Client) -> None:
    document = ok(await client.get("/sessions/schema/openapi.json"))
    operations = {
        operation["operationId"] for path in document["paths"].values() for operation in path.values()
    }
    assert {
        "listProcesses",
        "getProcess",
        "recordProcessAgreement",
        "decideProcessTrial",
        "recordProcessEvaluation",
        "listProcessSessions",
        "scheduleSession",
        "getSession",
        "rescheduleSession",
        "markSessionHeld",
        "cancelSession",
        "recordSessionNoShow",
    } <= operations


async def test_a_rescheduled_session_publishes_where_it_was_and_where_it_is(
    client: Client, world: FrameWorld, layout: DatabaseLayout
) -> None:
    was = now() + dt.timedelta(days=10)
    session = await schedule(client, world, was)
    body = {"startsAt": iso(was + dt.timedelta(days=1)), "durationMinutes": 60, "mode": "remote"}
    ok(
        await client.post(
            f"/sessions/sessions/{session['id']}/reschedule", json=body, headers=world.who.supervisor()
        )
    )
    published = await outbox_events(layout.relay_url, session["id"])
    assert [(e.type, e.version) for e in published] == [
        (events.SessionScheduled.event_type, 1),
        (events.SessionRescheduled.event_type, 2),
    ]
    event = published[1].event_as(events.SessionRescheduled)
    assert (event.previous_starts_at, event.previous_duration_minutes) == (was, 90)
    assert (event.starts_at, event.duration_minutes, event.process_id) == (
        was + dt.timedelta(days=1),
        60,
        world.process.process_id,
    )


async def test_a_closed_process_takes_no_more_sessions(
    client: Client, world: FrameWorld, sessions_pool: asyncpg.Pool
) -> None:
    completed = order_event(orders_events.OrderCompleted, world.parties, status="completed")
    envelope = orders_envelope(completed, world.parties, version=9)
    async with tenant_transaction(sessions_pool, world.parties.buyer_id) as conn:
        await handlers.apply_order_closed(conn, envelope, completed)
    closed = ok(await client.get(world.path, headers=world.who.buyer_admin()))
    assert (closed["status"], closed["outcome"]) == ("closed", "completed")
    body = {"startsAt": iso(now() + dt.timedelta(days=3)), "durationMinutes": 90, "mode": "remote"}
    refused = problem(
        await client.post(f"{world.path}/sessions", json=body, headers=world.who.supervisor()), 409
    )
    assert "closed" in refused["detail"]


async def test_a_session_outside_the_orders_period_is_refused_and_reads_keep_working(
    client: Client, world: FrameWorld
) -> None:
    path = f"{world.path}/sessions"
    far = {"startsAt": "9999-12-31T23:00:00Z", "durationMinutes": 90, "mode": "remote"}
    assert fields(await client.post(path, json=far, headers=world.who.supervisor()), 422) == ["body.startsAt"]
    # The order ends on 2028-12-31 (Helsinki): a session ending at midnight fits, a minute later does not.
    last = {"startsAt": "2028-12-31T20:30:00Z", "durationMinutes": 90, "mode": "remote"}
    late = {"startsAt": "2028-12-31T20:31:00Z", "durationMinutes": 90, "mode": "remote"}
    assert fields(await client.post(path, json=late, headers=world.who.supervisor()), 422) == [
        "body.startsAt"
    ]
    session = ok(await client.post(path, json=last, headers=world.who.supervisor()), 201)
    moved = f"/sessions/sessions/{session['id']}/reschedule"
    refused = await client.post(moved, json=far, headers=world.who.supervisor(**{"If-Match": '"1"'}))
    assert fields(refused, 422) == ["body.startsAt"]
    assert [s["id"] for s in ok(await client.get(path, headers=world.who.supervisor()))["items"]] == [
        session["id"]
    ]
    assert (
        ok(await client.get(f"/sessions/sessions/{session['id']}", headers=world.who.buyer_admin()))[
            "version"
        ]
        == 1
    )
