"""Adversarial cases from the security research (§1.4 B, C, I; §3 ASVS 4.1.4, 14.3.2), over every
operation the OpenAPI documents name — none of them lists a route."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from shared.auth.tokens import new_signing_key
from tests.security.harness import Tenant, World, leaks_in
from tests.security.openapi import Operation


def _plain_gets(world: World) -> list[Operation]:
    """GET operations needing no path parameter and no required query parameter."""
    return [
        op
        for op in world.apps.operations()
        if op.method == "get"
        and not op.public
        and "{" not in op.path
        and not any(p.get("required") and p["in"] == "query" for p in op.parameters)
    ]


def _b_secrets(world: World) -> set[str]:
    return world.tenants["B-buyer"].secrets() | world.tenants["B-provider"].secrets()


def _attackers(world: World) -> list[Tenant]:
    return [world.tenants["A-buyer"], world.tenants["A-provider"]]


def _without_request_id(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: v for k, v in body.items() if k != "requestId"}
    return body


async def test_every_protected_operation_refuses_a_missing_or_foreign_signed_token(world: World) -> None:
    """API2: no route is left open by mistake, in any service."""
    forged = world.issuer.token(
        tenant_id=world.tenants["A-buyer"].id, roles=["buyer_admin", "platform_admin"], key=new_signing_key()
    )
    failures = []
    ops = [op for op in world.apps.operations() if not op.public]
    for op in ops:
        path = op.path
        for slot in op.slots:
            path = path.replace("{" + slot.name + "}", str(uuid.uuid4()))
        for headers in ({}, {"Authorization": f"Bearer {forged}"}):
            response = await world.apps.send(op.method, path, None, headers=headers)
            if response.status_code != 401:
                failures.append(f"{op.key} with {list(headers) or 'no token'} -> {response.status_code}")
    assert len(ops) > 40
    assert failures == []


async def test_authenticated_answers_are_never_stored_by_a_cache(world: World) -> None:
    """ASVS 14.3.2 / research I.26: what a token unlocks carries ``Cache-Control: no-store``."""
    failures = []
    for attacker in _attackers(world):
        for op in _plain_gets(world):
            response = await world.apps.send("get", op.path, attacker.strongest())
            if "no-store" not in response.headers.get("cache-control", ""):
                failures.append(f"{attacker.label} {op.key} -> {response.status_code} {response.headers}")
    assert failures == []


async def test_a_tenant_named_in_headers_or_the_query_changes_nothing(world: World) -> None:
    """Research B.4 and ASVS 4.1.3: only the token's tenant counts; spoofed proxy headers are ignored."""
    b = world.tenants["B-buyer"]
    secrets = _b_secrets(world)
    spoofed = {
        "X-Tenant-Id": str(b.id),
        "X-Forwarded-Tenant": str(b.id),
        "X-User-Id": b.people["buyer_admin"],
        "X-Forwarded-Host": "b.tila.example",
    }
    failures = []
    for attacker in _attackers(world):
        actor = attacker.strongest()
        for op in _plain_gets(world):
            plain = await world.apps.send("get", op.path, actor)
            tricked = await world.apps.send(
                "get", op.path, actor, headers=spoofed, params={"tenantId": str(b.id), "tenant_id": str(b.id)}
            )
            if leaked := leaks_in(tricked.text, secrets, [str(b.id), b.people["buyer_admin"]]):
                failures.append(f"{attacker.label} {op.key}: leaked {leaked}")
            if tricked.status_code != plain.status_code or (
                plain.status_code == 200
                and _without_request_id(tricked.json()) != _without_request_id(plain.json())
            ):
                failures.append(
                    f"{attacker.label} {op.key}: {plain.status_code} became {tricked.status_code}"
                )
    assert failures == []


async def test_a_cursor_of_another_tenant_or_a_tampered_one_shows_nothing_of_theirs(world: World) -> None:
    """Research C.9: a cursor is no key to another tenant's pages."""
    secrets = _b_secrets(world)
    failures = []
    tried = 0
    for op in _plain_gets(world):
        if not any(p["name"] == "cursor" for p in op.parameters):
            continue
        for victim, attacker in (("B-buyer", "A-buyer"), ("B-provider", "A-provider")):
            page = await world.apps.send(
                "get", op.path, world.tenants[victim].strongest(), params={"limit": 1}
            )
            cursor = page.json().get("nextCursor") if page.status_code == 200 else None
            for candidate in filter(None, (cursor, "eyJpZCI6IjAwMDAwMDAwIn0", "%%%not-a-cursor", "A" * 600)):
                tried += 1
                response = await world.apps.send(
                    "get", op.path, world.tenants[attacker].strongest(), params={"cursor": candidate}
                )
                if response.status_code >= 500:
                    failures.append(f"{attacker} {op.key} cursor={candidate[:20]} -> {response.status_code}")
                if leaked := leaks_in(response.text, secrets, [candidate]):
                    failures.append(f"{attacker} {op.key} with {victim}'s cursor: leaked {leaked}")
    assert tried > 0
    assert failures == []


async def test_unsupported_methods_are_refused_on_every_path(world: World) -> None:
    """ASVS 4.1.4: TRACE and methods a path does not document give 405 (or 401 before routing), never 2xx."""
    failures = []
    actor = world.tenants["A-buyer"].strongest()
    paths: dict[str, set[str]] = {}
    for op in world.apps.operations():
        paths.setdefault(op.path, set()).add(op.method)
    for template, methods in paths.items():
        path = template
        while "{" in path:
            start, end = path.index("{"), path.index("}")
            path = path[:start] + str(uuid.uuid4()) + path[end + 1 :]
        for method in ("trace", "put", "delete", "patch"):
            if method in methods:
                continue
            response = await world.apps.send(method, path, actor)
            if response.status_code not in (401, 404, 405):
                failures.append(f"{method.upper()} {template} -> {response.status_code}")
    assert failures == []


async def test_a_write_cannot_move_an_object_to_another_tenant(world: World) -> None:
    """Research A.3 (mass assignment, API3): tenant and owner ids smuggled into an update's body are
    refused as unknown fields or ignored; never does the object come back naming B."""
    b = world.tenants["B-buyer"]
    smuggled = {
        key: str(b.id)
        for key in ("tenantId", "tenant_id", "buyerId", "buyerTenantId", "providerTenantId", "ownerId")
    }
    failures = []
    tried = 0
    for attacker in _attackers(world):
        actor = attacker.strongest()
        for op in world.apps.operations():
            if op.method not in ("put", "patch") or op.public or op.body_media != "application/json":
                continue
            path = op.path
            for slot in op.slots:
                if slot.location == "path":
                    mine = attacker.pool.candidates(slot.kind, 1, uuid_only=slot.uuid) or [str(uuid.uuid4())]
                    path = path.replace("{" + slot.name + "}", mine[0])
            base = world.required_body(op)
            body = {**(base if isinstance(base, dict) else {}), **smuggled}
            response = await world.apps.send(op.method, path, actor, json_body=body)
            tried += 1
            if response.status_code >= 500 or (response.status_code < 300 and str(b.id) in response.text):
                failures.append(f"{attacker.label} {op.method.upper()} {path} -> {response.status_code}")
    assert tried > 0
    assert failures == []


async def test_concurrent_requests_of_two_tenants_never_see_each_other(world: World) -> None:
    """Research D.14 (pool bleed): interleaved, concurrent requests of A and B on the same pools."""
    pairs = [
        ("A-buyer", "B-buyer"),
        ("B-buyer", "A-buyer"),
        ("A-provider", "B-provider"),
        ("B-provider", "A-provider"),
    ]
    gets = [op.path for op in _plain_gets(world)]
    calls = []
    for round_ in range(6):
        for caller, other in pairs:
            path = gets[round_ % len(gets)]
            calls.append((caller, other, path))
    responses = await asyncio.gather(
        *(world.apps.send("get", path, world.tenants[caller].strongest()) for caller, _, path in calls)
    )
    failures = []
    for (caller, other, path), response in zip(calls, responses, strict=True):
        secrets = world.tenants[other].secrets() - world.tenants[caller].secrets()
        leaked = leaks_in(response.text, secrets)
        if response.status_code >= 500 or leaked:
            failures.append(f"{caller} GET {path} -> {response.status_code} {leaked}")
    assert len(calls) >= 24
    assert failures == []
