"""Webhooks end to end: envelopes published on the real streams, the real integrations worker,
and a receiver that verifies every delivery with the ``standardwebhooks`` library."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import math
import uuid

import asyncpg
import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from services.integrations.jobs import WebhookDeliveryJob
from services.integrations.settings import IntegrationsSettings
from shared.events.worker import Worker
from shared.testing.issuer import TestIssuer
from tests.integrations.support import (
    Client,
    Parties,
    Producer,
    Receiver,
    admin,
    assert_public,
    cost_centre_created,
    invoice_issued,
    order_approved,
    person_created,
    reader,
    register,
    session_cancelled,
    session_held,
    session_scheduled,
    wait_for_cost_centre,
    wait_for_person,
    wait_until,
)

pytestmark = pytest.mark.usefixtures("worker")

WORKING_TIME = "fi.tila.working_time.recorded.v1"
HELD = "fi.tila.session.held.v1"
APPROVED = "fi.tila.order.approved.v1"
SCHEDULED = "fi.tila.session.scheduled.v1"


async def test_a_held_session_sends_working_time_of_each_attendee_with_their_hr_employee_number(
    client: Client, issuer: TestIssuer, receiver: Receiver, producer: Producer, pool: asyncpg.Pool
) -> None:
    p = Parties()
    _, path = await register(client, issuer, receiver, p.buyer, [WORKING_TIME, HELD])
    came, also_came, absent = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await producer.publish(
        person_created(p.buyer, came, "HR-1001"), person_created(p.buyer, also_came, "HR-1002")
    )
    await producer.publish(cost_centre_created(p.buyer, p.cost_centre, "4100"))
    await wait_for_person(pool, p.buyer, came)
    await wait_for_person(pool, p.buyer, also_came)
    await wait_for_cost_centre(pool, p.buyer, p.cost_centre)
    held = session_held(p, {came: True, also_came: True, absent: False})
    await producer.publish(held)

    await wait_until(lambda: len(receiver.verified(path)) == 3)
    events = [assert_public(r.body) for r in receiver.verified(path)]
    working = sorted(
        (e for e in events if e["type"] == WORKING_TIME), key=lambda e: e["data"]["employeeNumber"]
    )
    assert [e["data"]["employeeNumber"] for e in working] == ["HR-1001", "HR-1002"]
    for event in working:
        assert set(event["data"]) == {
            "employeeNumber",
            "start",
            "end",
            "reasonCode",
            "deliveryMode",
            "orderId",
            "costCentreId",
            "costCentreCode",
        }
        assert event["data"]["reasonCode"] == "TYONOHJAUS"
        assert event["data"]["deliveryMode"] == "at_buyer"
        assert event["data"]["orderId"] == str(p.order)
        assert event["data"]["costCentreId"] == str(p.cost_centre)
        assert event["data"]["costCentreCode"] == "4100"
        assert event["data"]["start"] == "2026-11-20T08:00:00Z"
        assert event["data"]["end"] == "2026-11-20T09:30:00Z"
        assert event["subject"] == held.subject
    # Never a person id, a name or anything of what was said.
    assert str(came) not in json.dumps(events)
    assert str(absent) not in json.dumps(events)
    (session,) = [e for e in events if e["type"] == HELD]
    assert session["data"]["attendedCount"] == 2
    # Each delivery's webhook-id is its event id, and the feed serves the very same event.
    for r in receiver.verified(path):
        assert r.headers["webhook-id"] == json.loads(r.body)["id"]
        assert r.headers["content-type"].startswith("application/cloudevents+json")
    feed = (await client.get("/integrations/events", headers=reader(issuer, p.buyer))).json()["items"]
    assert sorted(feed, key=lambda e: e["id"]) == sorted(events, key=lambda e: e["id"])


async def test_the_working_time_reason_code_is_the_buyers_setting(
    client: Client, issuer: TestIssuer, receiver: Receiver, producer: Producer, pool: asyncpg.Pool
) -> None:
    p = Parties()
    assert (await client.get("/integrations/settings", headers=admin(issuer, p.buyer))).json() == {
        "workingTimeReasonCode": "TYONOHJAUS"
    }
    response = await client.put(
        "/integrations/settings", json={"workingTimeReasonCode": "TO-42"}, headers=admin(issuer, p.buyer)
    )
    assert response.status_code == 200, response.text
    bad = await client.put(
        "/integrations/settings", json={"workingTimeReasonCode": "no spaces!"}, headers=admin(issuer, p.buyer)
    )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "body.workingTimeReasonCode"
    _, path = await register(client, issuer, receiver, p.buyer, [WORKING_TIME])
    person = uuid.uuid4()
    await producer.publish(session_held(p, {person: True}))
    await wait_until(lambda: len(receiver.verified(path)) == 1)
    (event,) = receiver.bodies(path)
    assert event["data"]["reasonCode"] == "TO-42"
    assert event["data"]["employeeNumber"] is None  # not known to integrations: never another id


async def test_a_cancelled_session_tells_only_its_category(
    client: Client, issuer: TestIssuer, receiver: Receiver, producer: Producer
) -> None:
    p = Parties()
    _, path = await register(client, issuer, receiver, p.buyer, ["fi.tila.session.cancelled.v1"])
    await producer.publish(session_cancelled(p, category="by_supervisor"))
    await wait_until(lambda: len(receiver.verified(path)) == 1)
    (event,) = [assert_public(r.body) for r in receiver.verified(path)]
    assert set(event["data"]) == {"sessionId", "orderId", "startsAt", "category"}
    assert event["data"]["category"] == "by_supervisor"


async def test_a_receiver_down_for_a_while_gets_every_event_exactly_once_in_event_time_order(
    client: Client, issuer: TestIssuer, receiver: Receiver, producer: Producer
) -> None:
    p = Parties()
    endpoint, path = await register(client, issuer, receiver, p.buyer, [APPROVED, SCHEDULED])
    receiver.behaviour[path] = "fail"
    base = dt.datetime.now(dt.UTC)
    envelopes = [order_approved(p, at=base)] + [
        session_scheduled(p, at=base + dt.timedelta(seconds=i)) for i in range(1, 5)
    ]
    # The first travels on the orders stream, the rest on the sessions stream: put it at the head of
    # the endpoint's line before the others arrive (cross-stream arrival order is not ours to choose),
    # then publish the rest out of event-time order: the endpoint still gets them by event time.
    await producer.publish(envelopes[0])
    await wait_until(lambda: len([r for r in receiver.received if r.path == path]) >= 1)
    await producer.publish(*reversed(envelopes[1:]))
    await wait_until(lambda: len([r for r in receiver.received if r.path == path]) >= 3)
    receiver.behaviour[path] = "ok"
    await wait_until(lambda: len(receiver.verified(path)) == 5)
    await asyncio.sleep(0.5)  # nothing more may come
    bodies = receiver.bodies(path)
    assert len(bodies) == 5
    assert len({b["id"] for b in bodies}) == 5
    assert [b["subject"] for b in bodies] == [e.subject for e in envelopes]
    failed = [json.loads(r.body)["subject"] for r in receiver.received if r.path == path and not r.verified]
    assert set(failed) == {envelopes[0].subject}  # later events waited behind the first
    deliveries = (
        await client.get(f"/integrations/webhooks/{endpoint}/deliveries", headers=admin(issuer, p.buyer))
    ).json()["items"]
    assert [d["status"] for d in deliveries] == ["delivered"] * 5
    assert max(d["attempts"] for d in deliveries) >= 3


async def test_a_refused_connection_is_retried_until_the_receiver_is_back(
    client: Client, issuer: TestIssuer, producer: Producer
) -> None:
    p = Parties()
    down = Receiver()  # not started: connections are refused
    endpoint, path = await register(client, issuer, down, p.buyer, [APPROVED])
    await producer.publish(order_approved(p))

    async def attempts() -> int:
        response = await client.get(
            f"/integrations/webhooks/{endpoint}/deliveries", headers=admin(issuer, p.buyer)
        )
        items = response.json()["items"]
        return int(items[0]["attempts"]) if items else 0

    for _ in range(200):
        if await attempts() >= 2:
            break
        await asyncio.sleep(0.05)
    assert await attempts() >= 2
    down.start()
    try:
        await wait_until(lambda: len(down.verified(path)) == 1)
        await asyncio.sleep(0.3)
        assert len(down.received) == 1
    finally:
        down.stop()


async def test_a_delivery_failing_past_the_retry_window_is_dead_no_longer_blocks_and_can_be_replayed(
    client: Client, issuer: TestIssuer, receiver: Receiver, producer: Producer
) -> None:
    p = Parties()
    endpoint, path = await register(client, issuer, receiver, p.buyer, [APPROVED, SCHEDULED])
    receiver.behaviour[path] = "fail"
    first, second = order_approved(p), session_scheduled(p)
    url = f"/integrations/webhooks/{endpoint}/deliveries"

    async def statuses() -> dict[str, str]:
        items = (await client.get(url, headers=admin(issuer, p.buyer))).json()["items"]
        return {d["eventType"]: d["status"] for d in items}

    # The two streams are consumed independently: the second is published once the first is in
    # line, else under load it could arrive, be tried and use up its own window before the first
    # even arrives (that order is the next test's).
    await producer.publish(first)
    for _ in range(300):
        if APPROVED in await statuses():
            break
        await asyncio.sleep(0.05)
    await producer.publish(second)
    for _ in range(300):  # the window is 4 s in these tests
        if (await statuses()).get(APPROVED) == "dead":
            break
        await asyncio.sleep(0.05)
    assert (await statuses())[APPROVED] == "dead"
    receiver.behaviour[path] = "ok"
    await wait_until(lambda: len(receiver.verified(path)) == 1)
    assert receiver.bodies(path)[0]["type"] == SCHEDULED  # the dead one did not hold it back
    dead = (await client.get(f"{url}?status=dead", headers=admin(issuer, p.buyer))).json()["items"]
    assert [d["eventType"] for d in dead] == [APPROVED]
    assert dead[0]["lastError"] == "http_503"
    assert dead[0]["lastStatusCode"] == 503
    again = await client.post(f"{url}/{dead[0]['id']}/replay", headers=admin(issuer, p.buyer))
    assert again.status_code == 202, again.text
    assert again.json()["status"] == "pending"
    await wait_until(lambda: len(receiver.verified(path)) == 2)
    assert receiver.bodies(path)[1]["type"] == APPROVED
    twice = await client.post(f"{url}/{dead[0]['id']}/replay", headers=admin(issuer, p.buyer))
    assert twice.status_code == 409


async def test_a_later_event_tried_before_an_earlier_one_arrived_gets_its_own_window_after_the_earlier_dies(
    client: Client, issuer: TestIssuer, receiver: Receiver, producer: Producer
) -> None:
    # The streams are consumed independently: a session event can be stored, and tried, before
    # an order event of an earlier time arrives and goes ahead of it in the line. The time it
    # then waits behind the earlier one is not its own retry window.
    p = Parties()
    endpoint, path = await register(client, issuer, receiver, p.buyer, [APPROVED, SCHEDULED])
    receiver.behaviour[path] = "fail"
    second = session_scheduled(p)
    await producer.publish(second)
    url = f"/integrations/webhooks/{endpoint}/deliveries"

    async def deliveries() -> dict[str, dict[str, object]]:
        items = (await client.get(url, headers=admin(issuer, p.buyer))).json()["items"]
        return {d["eventType"]: d for d in items}

    for _ in range(300):
        if int((await deliveries()).get(SCHEDULED, {}).get("attempts", 0)) >= 1:  # type: ignore[call-overload]
            break
        await asyncio.sleep(0.05)
    await producer.publish(order_approved(p, at=second.occurred_at - dt.timedelta(seconds=1)))
    for _ in range(300):  # the window is 4 s in these tests
        if (await deliveries()).get(APPROVED, {}).get("status") == "dead":
            break
        await asyncio.sleep(0.05)
    now = await deliveries()
    assert now[APPROVED]["status"] == "dead"
    assert now[SCHEDULED]["status"] == "pending"  # not dead-lettered for the time it waited
    receiver.behaviour[path] = "ok"
    await wait_until(lambda: len(receiver.verified(path)) == 1)
    assert receiver.bodies(path)[0]["type"] == SCHEDULED
    failed = [json.loads(r.body)["type"] for r in receiver.received if r.path == path and not r.verified]
    assert failed[0] == SCHEDULED  # it was tried first, then waited
    assert APPROVED in failed


async def test_one_tenants_endpoint_never_receives_another_tenants_events(
    client: Client, issuer: TestIssuer, receiver: Receiver, producer: Producer
) -> None:
    ours, theirs = Parties(), Parties()
    _, our_path = await register(
        client, issuer, receiver, ours.buyer, [APPROVED, "fi.tila.invoice.issued.v1"]
    )
    _, their_path = await register(
        client, issuer, receiver, theirs.buyer, [APPROVED, "fi.tila.invoice.issued.v1"]
    )
    await producer.publish(order_approved(theirs), invoice_issued(theirs), order_approved(ours))
    await wait_until(
        lambda: len(receiver.verified(their_path)) == 2 and len(receiver.verified(our_path)) == 1
    )
    await asyncio.sleep(0.3)
    (ours_only,) = receiver.bodies(our_path)
    assert ours_only["data"]["buyerId"] == str(ours.buyer)
    assert all(str(theirs.buyer) in json.dumps(b) for b in receiver.bodies(their_path))
    their_id = (await client.get("/integrations/webhooks", headers=admin(issuer, theirs.buyer))).json()[
        "items"
    ][0]["id"]
    peek = await client.get(
        f"/integrations/webhooks/{their_id}/deliveries", headers=admin(issuer, ours.buyer)
    )
    assert peek.status_code == 404


async def test_hanging_endpoints_of_one_tenant_do_not_delay_another_tenants_delivery(
    client: Client, issuer: TestIssuer, producer: Producer
) -> None:
    """Ten hanging endpoints of one tenant (more than the worker's 8 slots): they get at most 3 at
    once, so the other tenant's event still goes out at once."""
    receiver = Receiver()
    receiver.start()
    try:
        slow, quick = Parties(), Parties()
        slow_paths = [
            (await register(client, issuer, receiver, slow.buyer, [APPROVED]))[1] for _ in range(10)
        ]
        _, quick_path = await register(client, issuer, receiver, quick.buyer, [APPROVED])
        receiver.hang_seconds = 3.0
        for path in slow_paths:
            receiver.behaviour[path] = "hang"
        await producer.publish(order_approved(slow))
        await wait_until(lambda: sum(receiver.hanging.values()) >= 3)
        started = asyncio.get_running_loop().time()
        await producer.publish(order_approved(quick))
        await wait_until(lambda: len(receiver.verified(quick_path)) == 1)
        elapsed = asyncio.get_running_loop().time() - started
        # Well inside the webhook timeout (1 s here) that bounds each slow attempt.
        assert elapsed < 1.0, elapsed
        assert sum(receiver.hanging.values()) >= 1  # the slow ones were still hanging meanwhile
        assert receiver.max_hanging <= 3
    finally:
        receiver.stop()


async def test_two_workers_never_work_on_one_endpoint_at_once(
    client: Client, issuer: TestIssuer, producer: Producer, pool: asyncpg.Pool, settings: IntegrationsSettings
) -> None:
    """A second delivery loop beside the worker's: each endpoint still gets one request at a time,
    in event-time order, each event once, while new events keep arriving."""
    receiver = Receiver()
    receiver.start()
    second = WebhookDeliveryJob(settings, pool=pool)
    running = asyncio.create_task(second.run())
    try:
        p = Parties()
        _, path = await register(client, issuer, receiver, p.buyer, [APPROVED, SCHEDULED])
        receiver.behaviour[path] = "hang"
        receiver.hang_seconds = 0.2
        base = dt.datetime.now(dt.UTC)
        envelopes = [session_scheduled(p, at=base + dt.timedelta(seconds=i)) for i in range(6)]
        for envelope in envelopes:
            await producer.publish(envelope)
            await asyncio.sleep(0.1)
        await wait_until(lambda: len(receiver.verified(path)) == 6)
        await asyncio.sleep(0.5)
        assert [b["subject"] for b in receiver.bodies(path)] == [e.subject for e in envelopes]
        assert receiver.max_per_path == 1
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        receiver.stop()


async def test_an_endpoint_named_by_host_name_is_delivered_to_one_of_its_checked_addresses(
    client: Client, issuer: TestIssuer, receiver: Receiver, producer: Producer
) -> None:
    """``localhost`` may resolve to ::1 first while the receiver listens on 127.0.0.1 only."""
    p = Parties()
    path = f"/hooks/{uuid.uuid4().hex}"
    response = await client.post(
        "/integrations/webhooks",
        json={"url": f"http://localhost:{receiver.port}{path}", "eventTypes": [APPROVED]},
        headers=admin(issuer, p.buyer),
    )
    assert response.status_code == 201, response.text
    receiver.secrets[path] = [response.json()["secret"]]
    await producer.publish(order_approved(p))
    await wait_until(lambda: len(receiver.verified(path)) == 1)
    assert receiver.verified(path)[0].headers["host"] == f"localhost:{receiver.port}"


async def test_a_rotated_secret_signs_beside_the_new_one_until_it_expires(
    client: Client, issuer: TestIssuer, receiver: Receiver, producer: Producer
) -> None:
    p = Parties()
    endpoint, path = await register(client, issuer, receiver, p.buyer, [APPROVED])
    (old,) = receiver.secrets[path]
    rotated = await client.post(
        f"/integrations/webhooks/{endpoint}/rotate-secret", headers=admin(issuer, p.buyer)
    )
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new != old
    assert new.startswith("whsec_")
    assert rotated.json()["previousSecretExpiresAt"]
    receiver.secrets[path] = [new]
    await producer.publish(order_approved(p))
    await wait_until(lambda: len(receiver.verified(path)) == 1)
    first = receiver.verified(path)[0]
    signatures = first.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2
    for secret in (old, new):
        Webhook(secret).verify(first.body, first.headers)  # each secret alone verifies it
    await asyncio.sleep(3.2)  # the grace period is 3 s in these tests
    await producer.publish(order_approved(p))
    await wait_until(lambda: len(receiver.verified(path)) == 2)
    later = receiver.verified(path)[1]
    assert len(later.headers["webhook-signature"].split(" ")) == 1
    receiver.secrets[path] = [old]
    assert not receiver.verify(path, later.headers, later.body)
    assert (
        "secret"
        not in (await client.get(f"/integrations/webhooks/{endpoint}", headers=admin(issuer, p.buyer))).json()
    )


async def test_the_receiver_rejects_a_tampered_body_a_wrong_secret_and_a_stale_timestamp(
    client: Client, issuer: TestIssuer, receiver: Receiver, producer: Producer
) -> None:
    p = Parties()
    _, path = await register(client, issuer, receiver, p.buyer, [APPROVED])
    await producer.publish(order_approved(p))
    await wait_until(lambda: len(receiver.verified(path)) == 1)
    genuine = receiver.verified(path)[0]
    (secret,) = receiver.secrets[path]
    headers = {k: v for k, v in genuine.headers.items() if k.startswith("webhook-")}
    async with httpx.AsyncClient() as http:

        async def send(body: bytes, sent_headers: dict[str, str]) -> int:
            return (await http.post(receiver.url(path), content=body, headers=sent_headers)).status_code

        tampered = genuine.body.replace(b'"remote"', b'"at_buyer"')
        assert tampered != genuine.body
        assert await send(tampered, headers) == 400
        wrong = "whsec_" + base64.b64encode(b"x" * 32).decode()
        msg_id, now = headers["webhook-id"], dt.datetime.now(dt.UTC)
        wrong_headers = headers | {
            "webhook-timestamp": str(math.floor(now.timestamp())),
            "webhook-signature": Webhook(wrong).sign(msg_id, now, genuine.body.decode()),
        }
        assert await send(genuine.body, wrong_headers) == 400
        stale = now - dt.timedelta(minutes=10)
        stale_headers = headers | {
            "webhook-timestamp": str(math.floor(stale.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, stale, genuine.body.decode()),
        }
        assert await send(genuine.body, stale_headers) == 400
        fresh_headers = headers | {
            "webhook-timestamp": str(math.floor(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, now, genuine.body.decode()),
        }
        assert await send(genuine.body, fresh_headers) == 204  # the receiver itself does accept


async def test_only_allow_listed_events_reach_a_webhook_or_the_feed(
    client: Client, issuer: TestIssuer, receiver: Receiver, producer: Producer, worker: Worker
) -> None:
    p = Parties()
    _, path = await register(client, issuer, receiver, p.buyer, [APPROVED])
    await producer.publish(
        person_created(p.buyer, uuid.uuid4(), "HR-9"), session_scheduled(p), order_approved(p)
    )
    await wait_until(lambda: len(receiver.verified(path)) == 1)
    # The three events travel on three streams, so the feed may hear the session after the webhook
    # had the order: wait for both public events, then nothing else may be there.
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        feed = (await client.get("/integrations/events", headers=reader(issuer, p.buyer))).json()["items"]
        types = sorted(e["type"] for e in feed)
        if {APPROVED, SCHEDULED} <= set(types) or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.05)
    assert types == [APPROVED, SCHEDULED]  # no organisations event
    for event in feed:
        assert_public(json.dumps(event).encode())
