"""Research F.21 over webhooks: a content canary written through the sessions API, and everything of
another tenant, never appear in a webhook body (CloudEvents signed per Standard Webhooks), while each
buyer's endpoint does receive its own events."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

from services.integrations.domain import catalogue
from services.integrations.jobs import DeliveryLoop
from shared.config import ServiceSettings
from tests.integrations.support import Receiver
from tests.security.harness import World
from tests.security.support import all_operations, content_body, content_operations, content_path


async def test_webhook_bodies_carry_no_content_and_nothing_of_another_tenant(
    world: World, security_settings: Callable[[str], ServiceSettings]
) -> None:
    receiver = Receiver()
    receiver.start()
    try:
        hooks = {"A-buyer": "/hook-a", "B-buyer": "/hook-b"}
        for label, path in hooks.items():
            buyer = world.tenants[label]
            response = await world.apps.send(
                "post",
                "/integrations/webhooks",
                buyer.actor("buyer_admin", person=buyer.people["buyer_admin"]),
                json_body={"url": receiver.url(path), "eventTypes": sorted(catalogue.PUBLIC_TYPES)},
            )
            assert response.status_code == 201, response.text
            receiver.secrets[path] = [response.json()["secret"]]
        canary = f"CANARY-CONTENT-{uuid.uuid4().hex[:8]}"
        supervisor = world.tenants["A-provider"].actor("supervisor")
        for op in content_operations(all_operations()):
            if op.method == "post" and op.path.endswith("/content"):
                await world.apps.send(
                    op.method,
                    content_path(op, world, []),
                    supervisor,
                    json_body=content_body(op, world, canary),
                )
        for side in ("A", "B"):
            await world.order_flow(world.tenants[f"{side}-buyer"], world.tenants[f"{side}-provider"])
        await world.bridge()
        # A session is scheduled and one cancelled for illness: the reason is the participant's, and
        # never reaches the employer's HR system (domain.md: cancellation reason — HR events: no).
        process = world.tenants["A-provider"].pool.by_kind["process"][0]
        scheduled = []
        for day in (10, 17):
            response = await world.apps.send(
                "post",
                f"/sessions/processes/{process}/sessions",
                supervisor,
                json_body={"startsAt": f"2026-12-{day}T09:00:00Z", "durationMinutes": 90, "mode": "remote"},
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
            assert response.status_code == 201, response.text
            scheduled.append(response.json()["id"])
        response = await world.apps.send(
            "post",
            f"/sessions/sessions/{scheduled[0]}/cancel",
            supervisor,
            json_body={"cancelledBy": "participant", "reasonCategory": "illness"},
        )
        assert response.status_code == 200, response.text
        await world.bridge()
        loop = DeliveryLoop(world.pools["integrations"], security_settings("integrations"))  # type: ignore[arg-type]
        try:
            for _ in range(30):
                started = await loop.tick()
                await loop.drain()
                if not started:
                    break
        finally:
            await loop.close()
        received = list(receiver.received)
        assert {r.path for r in received} == set(hooks.values()), "each buyer hears its own events"
        assert all(r.verified for r in received)
        a_secrets = world.tenants["A-buyer"].secrets() | world.tenants["A-provider"].secrets()
        b_secrets = world.tenants["B-buyer"].secrets() | world.tenants["B-provider"].secrets()
        failures = []
        for r in received:
            text = r.body.decode()
            foreign = b_secrets - a_secrets if r.path == "/hook-a" else a_secrets - b_secrets
            if canary in text:
                failures.append(f"{r.path}: content canary in a webhook body")
            if "illness" in text:
                failures.append(f"{r.path}: a cancellation reason in a webhook body")
            if leaked := [s for s in foreign if s in text]:
                failures.append(f"{r.path}: another tenant's {leaked}")
        types = sorted({str(json.loads(r.body).get("type")) for r in received})
        print(f"\nwebhooks: {len(received)} deliveries {types}, {len(failures)} failures")
        assert any("session" in t for t in types), "the session events reached the buyer's endpoint"
        assert failures == []
    finally:
        receiver.stop()
