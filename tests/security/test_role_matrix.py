"""The role matrix over every route that touches supervision CONTENT (handbook domain.md, "Who may
see what"; security research §1.4 F): every role × every content operation, discovered from the
OpenAPI documents by path. Only the supervisor and the participant may use them; an employer-side
caller (buyer admin, approver, provider admin, platform admin, a machine client) never gets a 2xx
and never sees a content canary, whatever the route answers.
"""

from __future__ import annotations

import uuid
from typing import Any

from tests.security.harness import Actor, Tally, World, leaks_in
from tests.security.openapi import operations
from tests.security.support import all_operations, content_body, content_operations, content_path

EMPLOYER_ROLES = ("buyer_admin", "approver")
"""The employer: may ask (reads answer only what every participant agreed to share), never write."""
UNRELATED_ROLES = ("provider_admin", "platform_admin", "machine_client")
"""No relation to a process's content at all: every content route refuses them."""
CONTENT_ROLES = ("supervisor", "employee")
"""The supervisor of the process and a participant: the callers content routes serve."""

TALLY = Tally()


def test_content_routes_are_found_by_path_in_a_document() -> None:
    process = [{"name": "process_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "security": [{"bearer": []}],
        "paths": {
            "/sessions/processes/{process_id}/content": {"parameters": process, "get": {}, "put": {}},
            "/sessions/processes/{process_id}/goal-consent": {"parameters": process, "post": {}},
            "/sessions/processes/{process_id}/content-status": {"parameters": process, "get": {}},
            "/sessions/processes/{process_id}": {"parameters": process, "get": {}},
            "/sessions/content-retention": {"put": {}},
            "/sessions/health/live": {"get": {"security": [{}]}},
        },
    }
    found = content_operations(operations("sessions", doc))
    assert sorted(op.key for op in found) == [
        "GET /sessions/processes/{process_id}/content",
        "GET /sessions/processes/{process_id}/content-status",
        "POST /sessions/processes/{process_id}/goal-consent",
        "PUT /sessions/processes/{process_id}/content",
    ]
    assert all([slot.kind for slot in op.slots] == ["process"] for op in found)


def _actors(world: World) -> dict[str, Actor]:
    buyer, provider = world.tenants["A-buyer"], world.tenants["A-provider"]
    return {
        "buyer_admin": buyer.actor("buyer_admin", person=buyer.people["buyer_admin"]),
        "approver": buyer.actor("approver"),
        "employee": buyer.actor("employee"),  # the participant of every order of A
        "provider_admin": provider.actor("provider_admin", person=provider.people["provider_admin"]),
        "supervisor": provider.actor("supervisor"),  # assigned to A's accepted order
        "platform_admin": world.platform_admin,
        "machine_client": Actor(
            buyer.id, (), f"client:{uuid.uuid4()}", world.issuer, scopes=("events:read", "webhooks:manage")
        ),
    }


async def test_only_the_supervisor_and_the_participant_reach_content(world: World) -> None:
    content_ops = content_operations(all_operations())
    actors = _actors(world)
    canary = f"CANARY-CONTENT-{uuid.uuid4().hex[:8]}"
    failures: list[str] = []
    created: list[str] = []
    # The supervisor writes first, so there is content to find (and ids of items to ask for).
    for op in sorted(content_ops, key=lambda o: o.path.count("{")):
        if op.method not in ("put", "post", "patch"):
            continue
        body = content_body(op, world, canary)
        response = await world.apps.send(
            op.method, content_path(op, world, created), actors["supervisor"], json_body=body
        )
        TALLY.requests += 1
        if response.status_code >= 500:
            failures.append(f"supervisor {op.key} -> {response.status_code}: {response.text[:200]}")
        if (
            response.status_code in (200, 201)
            and isinstance(response.json(), dict)
            and "id" in response.json()
        ):
            created.append(str(response.json()["id"]))
    for op in content_ops:
        path = content_path(op, world, created)
        for role, actor in actors.items():
            body = content_body(op, world, f"{canary}-{role}") if op.method != "get" else None
            response = await world.apps.send(op.method, path, actor, json_body=body)
            TALLY.operations.add(op.key)
            TALLY.vectors += 1
            TALLY.requests += 1
            TALLY.statuses[response.status_code] += 1
            cell = f"{role} × {op.method.upper()} {path} -> {response.status_code}"
            if response.status_code >= 500:
                TALLY.server_errors.append(cell)
                failures.append(f"{cell}: {response.text[:200]}")
            if role not in CONTENT_ROLES and (leaked := leaks_in(response.text, [canary])):
                TALLY.leaks.append(cell)
                failures.append(f"{cell}: content reached an employer-side caller: {leaked}")
            if role in UNRELATED_ROLES and response.status_code not in (403, 404):
                failures.append(f"{cell}: a caller with no relation to the process was served")
            elif role in EMPLOYER_ROLES and op.method != "get" and response.status_code not in (403, 404):
                failures.append(f"{cell}: the employer changed content or consent: {response.text[:200]}")
            elif role in CONTENT_ROLES and op.method == "get" and response.status_code != 200:
                # One item may be a kind the participant does not read (the supervisor's private
                # note; tests/sessions/test_visibility_http.py holds the per-kind table).
                per_kind = role == "employee" and len(op.slots) > 1 and response.status_code == 403
                if not per_kind:
                    failures.append(f"{cell}: the {role} may read this: {response.text[:200]}")
    print("\n" + TALLY.summary(f"role matrix ({len(actors)} roles × {len(content_ops)} content operations)"))
    assert not failures, "\n".join(failures)
