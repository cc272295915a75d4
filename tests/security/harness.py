"""The security suite's world: every service's app over HTTP, tenants seeded through the APIs, their
ids harvested from what they are answered, and the checks every response must pass.

Events cross between services as in production, only without NATS in between: :func:`bridge` reads a
service's outbox (as its relay role does) and hands each envelope to every other service's consumer
handlers, in the consumer's own transaction shape (tenant set, inbox row, handler).
"""

from __future__ import annotations

import importlib
import json
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient

from shared.db.provision import DatabaseLayout
from shared.db.tenant import set_tenant
from shared.events.consumer import apply_event
from shared.events.envelope import Envelope, decode_envelope
from shared.events.worker import Subscription
from shared.testing.issuer import TestIssuer
from tests.factories import business_id
from tests.security.openapi import Operation, generate, kind_of, operations, resource_kind

__all__ = [
    "BUYER_ROLES",
    "PROVIDER_ROLES",
    "Actor",
    "Apps",
    "IdPool",
    "Tally",
    "Tenant",
    "World",
    "bridge",
    "leaks_in",
]

Client = AsyncTestClient[Litestar]

BUYER_ROLES = ("buyer_admin", "approver", "employee")
PROVIDER_ROLES = ("provider_admin", "supervisor")

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _is_uuid(value: object) -> bool:
    return isinstance(value, str) and _UUID.fullmatch(value) is not None


# --- ids harvested from responses ---


@dataclass
class IdPool:
    """Ids a tenant's callers were answered with, by the noun they name (``order``, ``person``…)."""

    by_kind: dict[str, list[str]] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    """Every uuid in any answer harvested, named or not (``requestedBy``…)."""

    def add(self, kind: str, value: str) -> None:
        values = self.by_kind.setdefault(kind, [])
        if value not in values:
            values.append(value)

    def all(self) -> set[str]:
        return {v for values in self.by_kind.values() for v in values}

    def harvest(self, path: str, body: Any, method: str = "get") -> None:
        """Record every id in ``body``, an answer to a request on ``path`` (a path template)."""
        self._walk(body, resource_kind(path, method))
        self.seen |= set(_UUID.findall(json.dumps(body)))

    def _walk(self, node: Any, context: str | None) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "id" and _is_uuid(value) and context:
                    self.add(context, value)
                elif key.endswith(("Id", "_id")) and isinstance(value, str) and len(value) >= 6:
                    self.add(kind_of(key), value)  # uuids, and ids of other shapes (clientId, businessId)
                elif isinstance(value, list) and value and all(_is_uuid(v) for v in value):
                    for v in value:
                        self.add(kind_of(key), v)
                elif key == "items":
                    self._walk(value, context)
                else:
                    self._walk(value, kind_of(key) if isinstance(value, (dict, list)) else context)
        elif isinstance(node, list):
            for item in node:
                self._walk(item, context)

    def candidates(self, kind: str, limit: int = 2, *, uuid_only: bool = False) -> list[str]:
        """Ids for a slot naming ``kind``: those of that noun, else of a noun that ends like it,
        else one of every noun (``uuid_only``: only uuids, for a slot whose schema says so)."""
        by_kind = {
            k: [v for v in values if _is_uuid(v) or not uuid_only] for k, values in self.by_kind.items()
        }
        by_kind = {k: values for k, values in by_kind.items() if values}
        if kind in by_kind:
            return by_kind[kind][:limit]
        similar = [k for k in by_kind if k.endswith(kind) or kind.endswith(k)]
        if similar:
            return [v for k in similar for v in by_kind[k][:1]][:limit]
        return [values[0] for values in by_kind.values()][: limit * 3]


# --- actors and tenants ---


@dataclass
class Actor:
    tenant_id: uuid.UUID | None
    roles: tuple[str, ...]
    subject: str
    issuer: TestIssuer
    scopes: tuple[str, ...] = ()

    def headers(self) -> dict[str, str]:
        token = self.issuer.token(
            tenant_id=self.tenant_id, roles=self.roles, subject=self.subject, scopes=self.scopes
        )
        return {"Authorization": f"Bearer {token}"}


@dataclass
class Tenant:
    label: str
    kind: str  # buyer | provider
    id: uuid.UUID
    canary: str
    issuer: TestIssuer
    admin_person: str = ""
    people: dict[str, str] = field(default_factory=dict)  # role → person id
    pool: IdPool = field(default_factory=IdPool)

    def actor(self, *roles: str, person: str | None = None) -> Actor:
        subject = person or self.people.get(roles[0] if roles else "", "") or str(uuid.uuid4())
        return Actor(self.id, roles, subject, self.issuer)

    def strongest(self) -> Actor:
        """Every role of the tenant's side at once: the most an attacker of this tenant can hold."""
        if self.kind == "buyer":
            return self.actor(*BUYER_ROLES, person=self.people.get("approver"))
        return self.actor(*PROVIDER_ROLES, person=self.people.get("supervisor"))

    def secrets(self) -> set[str]:
        """What must never reach another tenant: its ids and its canary."""
        return {*self.pool.all(), str(self.id), self.canary}


# --- apps ---


class Apps:
    """One test client per service, each the app its ``create_app`` builds."""

    def __init__(self, clients: dict[str, Client], docs: dict[str, dict[str, Any]]) -> None:
        self.clients = clients
        self.docs = docs
        self.requests = 0
        self.server_errors: list[str] = []

    def operations(self) -> list[Operation]:
        return [op for service, doc in self.docs.items() for op in operations(service, doc)]

    def client_for(self, path: str) -> Client:
        return self.clients[path.strip("/").split("/")[0]]

    async def send(
        self,
        method: str,
        path: str,
        actor: Actor | None,
        *,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        all_headers = {**(actor.headers() if actor else {}), **(headers or {})}
        kwargs: dict[str, Any] = {"headers": all_headers, "params": params}
        if json_body is not None:
            kwargs["json"] = json_body
        response = await self.client_for(path).request(method.upper(), path, **kwargs)
        self.requests += 1
        if response.status_code >= 500:
            self.server_errors.append(
                f"{method.upper()} {path} -> {response.status_code}: {response.text[:300]}"
            )
        return response


def leaks_in(text: str, secrets: Iterable[str], sent: Iterable[str] = ()) -> list[str]:
    """The secrets found in ``text``, except those the request itself carried (an echo is no leak)."""
    echoed = [x for x in sent if x]
    return sorted(s for s in secrets if s and s in text and not any(s in x for x in echoed))


@dataclass
class Tally:
    """Counts a run prints: operations × vectors tried, requests sent, leaks, server errors."""

    operations: set[str] = field(default_factory=set)
    vectors: int = 0
    requests: int = 0
    leaks: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    by_action: Counter[str] = field(default_factory=Counter)
    by_location: Counter[str] = field(default_factory=Counter)

    def summary(self, title: str) -> str:
        return (
            f"{title}: {len(self.operations)} operations, {self.vectors} vectors, {self.requests} requests, "
            f"{len(self.leaks)} leaks, {len(self.server_errors)} server errors; "
            f"actions {dict(self.by_action)}, locations {dict(self.by_location)}, "
            f"statuses {dict(self.statuses)}"
        )


# --- events between services ---


BRIDGE_ERRORS: list[str] = []
"""Events a consumer's handler failed on while the suite carried them (a test asserts there are none)."""


def _subject_matches(pattern: str, subject: str) -> bool:
    p, s = pattern.split("."), subject.split(".")
    for i, token in enumerate(p):
        if token == ">":
            return len(s) > i
        if i >= len(s) or (token != "*" and token != s[i]):
            return False
    return len(p) == len(s)


def _subscriptions(service: str) -> list[Subscription]:
    try:
        module = importlib.import_module(f"services.{service}.consumers")
    except ModuleNotFoundError:
        return []
    subscriptions: list[Subscription] = getattr(module, "SUBSCRIPTIONS", [])
    return subscriptions


async def _outbox(layout: DatabaseLayout) -> list[tuple[str, Envelope]]:
    """(NATS subject, envelope) of every event in a service's outbox, in order."""
    conn = await asyncpg.connect(layout.relay_url)
    try:
        rows = await conn.fetch("select subject, payload from outbox order by created_at, id")
    finally:
        await conn.close()
    return [(row["subject"], decode_envelope(bytes(row["payload"]))) for row in rows]


async def bridge(
    layouts: dict[str, DatabaseLayout],
    pools: dict[str, asyncpg.Pool],
    tenants: Iterable[uuid.UUID] | None = None,
) -> int:
    """Deliver every outboxed event of every service to every consumer that subscribes to it, once
    (the consumers' inbox drops what was delivered before); with ``tenants``, only events addressed
    to one of them (other tests share these databases). Returns the number applied."""
    ours = set(tenants) if tenants is not None else None
    applied = 0
    for _ in range(3):  # an event may cause events (organisations → orders → sessions …)
        round_applied = 0
        for producer, layout in layouts.items():
            envelopes = await _outbox(layout)
            for consumer_service, pool in pools.items():
                if consumer_service == producer:
                    continue
                for sub in _subscriptions(consumer_service):
                    if sub.spec.producer != producer:
                        continue
                    for subject, envelope in envelopes:
                        if ours is not None and not ours & set(envelope.tenant_ids):
                            continue
                        filters = sub.spec.filter_subjects or (f"{producer}.>",)
                        if not any(_subject_matches(f, subject) for f in filters):
                            continue
                        if not any(h.event.event_type == envelope.type for h in sub.handlers):
                            continue
                        try:
                            async with pool.acquire() as conn, conn.transaction():
                                await set_tenant(conn, envelope.tenant_ids[0])
                                first = await conn.fetchval(
                                    "insert into inbox (consumer, message_id, tenant_id) values ($1, $2, $3)"
                                    " on conflict do nothing returning true",
                                    sub.spec.durable,
                                    envelope.id,
                                    envelope.tenant_ids[0],
                                )
                                if first:
                                    await apply_event(sub.handlers, conn, envelope)
                                    round_applied += 1
                        except Exception as exc:  # the consumer would retry or dead-letter it
                            BRIDGE_ERRORS.append(f"{sub.spec.durable} {envelope.type}: {exc!r}"[:300])
        applied += round_applied
        if round_applied == 0:
            break
    return applied


# --- the world ---


def _created(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    assert response.status_code in (statuses or (200, 201)), f"{response.request.url}: {response.text}"
    if response.status_code == 204:
        return {}
    body: dict[str, Any] = response.json()
    return body


@dataclass
class World:
    """Two buyers and two providers (A's and B's), each with people, cost centres, an agreement and
    orders, made through the APIs. ``recorded`` keeps A's successful request bodies by operation, so
    the matrix can send a valid body with one id swapped."""

    apps: Apps
    issuer: TestIssuer
    layouts: dict[str, DatabaseLayout]
    pools: dict[str, asyncpg.Pool]
    tenants: dict[str, Tenant] = field(default_factory=dict)
    recorded: dict[str, dict[str, Any]] = field(default_factory=dict)
    platform_tenant: uuid.UUID = field(default_factory=uuid.uuid4)

    async def bridge(self) -> int:
        """Carry the events of this world's tenants to their consumers."""
        return await bridge(self.layouts, self.pools, [t.id for t in self.tenants.values()])

    @property
    def platform_admin(self) -> Actor:
        return Actor(self.platform_tenant, ("platform_admin",), f"user:{uuid.uuid4()}", self.issuer)

    async def call(
        self,
        tenant: Tenant,
        actor: Actor,
        method: str,
        template: str,
        body: Any = None,
        *,
        values: dict[str, str] | None = None,
        status: tuple[int, ...] = (200, 201, 204),
    ) -> dict[str, Any]:
        path = template.format(**(values or {}))
        headers = {"Idempotency-Key": uuid.uuid4().hex} if method == "post" else {}
        response = await self.apps.send(method, path, actor, json_body=body, headers=headers)
        made = _created(response, *status)
        tenant.pool.harvest(template, made, method)
        if body is not None and tenant.label.startswith("A"):
            self.recorded.setdefault(f"{method.upper()} {template}", body)
        return made

    async def seed(self) -> None:
        for side in ("A", "B"):
            buyer = await self._tenant(f"{side}-buyer", "buyer")
            provider = await self._tenant(f"{side}-provider", "provider")
            await self._buyer_directory(buyer)
            await self._provider_directory(provider)
            self.tenants[buyer.label], self.tenants[provider.label] = buyer, provider
        await self.bridge()
        for side in ("A", "B"):
            await self.order_flow(self.tenants[f"{side}-buyer"], self.tenants[f"{side}-provider"])
        await self.bridge()
        for tenant in self.tenants.values():
            await self.harvest(tenant)

    async def _tenant(self, label: str, kind: str) -> Tenant:
        canary = f"CANARY-{label}-{uuid.uuid4().hex[:6]}"
        body = {"name": f"{canary} Oy", "kind": kind, "businessId": business_id()}
        response = await self.apps.send("post", "/organisations/tenants", self.platform_admin, json_body=body)
        made = _created(response, 201)
        tenant = Tenant(label, kind, uuid.UUID(made["id"]), canary, self.issuer)
        tenant.pool.harvest("/organisations/tenants", made)
        return tenant

    async def _person(self, tenant: Tenant, role: str) -> str:
        admin = tenant.actor("buyer_admin" if tenant.kind == "buyer" else "provider_admin")
        body = {
            "name": f"{tenant.canary} {role}",
            "email": f"{role}.{uuid.uuid4().hex[:6]}@example.fi",
            "roles": [role],
            **({"hrEmployeeNumber": f"HR-{uuid.uuid4().hex[:5]}"} if tenant.kind == "buyer" else {}),
        }
        person = await self.call(tenant, admin, "post", "/organisations/people", body, status=(201,))
        tenant.people[role] = person["id"]
        return str(person["id"])

    async def _buyer_directory(self, buyer: Tenant) -> None:
        await self._person(buyer, "buyer_admin")
        approver = await self._person(buyer, "approver")
        await self._person(buyer, "employee")
        admin = buyer.actor("buyer_admin")
        unit = await self.call(
            buyer, admin, "post", "/organisations/org-units", {"name": f"{buyer.canary} yksikkö"}
        )
        centre = await self.call(
            buyer,
            admin,
            "post",
            "/organisations/cost-centres",
            {
                "orgUnitId": unit["id"],
                "code": f"KP-{uuid.uuid4().hex[:4]}",
                "name": f"{buyer.canary} kustannuspaikka",
                "yearlyBudgetCents": 5_000_000,
            },
        )
        await self.call(
            buyer,
            admin,
            "put",
            "/organisations/cost-centres/{cost_centre_id}/approvers/{person_id}",
            values={"cost_centre_id": centre["id"], "person_id": approver},
        )
        await self.call(
            buyer,
            admin,
            "post",
            "/organisations/machine-clients",
            {"name": f"{buyer.canary} HR", "scopes": ["events:read"]},
        )

    async def _provider_directory(self, provider: Tenant) -> None:
        await self._person(provider, "provider_admin")
        supervisor = await self._person(provider, "supervisor")
        admin = provider.actor("provider_admin")
        await self.call(
            provider,
            admin,
            "post",
            "/organisations/supervisor-profiles",
            {
                "personId": supervisor,
                "forms": ["individual"],
                "languages": ["fi"],
                "regions": ["Pirkanmaa"],
                "deliveryModes": ["remote"],
                "available": True,
                "qualifications": [
                    {
                        "type": "story_training",
                        "institution": "Tampereen yliopisto",
                        "completedOn": "2020-05-01",
                        "ects": 60,
                    }
                ],
            },
            status=(201,),
        )

    async def order_flow(self, buyer: Tenant, provider: Tenant) -> None:
        admin = buyer.actor("buyer_admin")
        agreement = await self.call(
            buyer,
            admin,
            "post",
            "/orders/agreements",
            agreement_body(provider.id, buyer.canary),
            status=(201,),
        )
        await self.call(
            buyer,
            admin,
            "post",
            "/orders/agreements/{agreement_id}/activate",
            values={"agreement_id": agreement["id"]},
        )
        approver = buyer.actor("approver")
        order = order_body(buyer, provider, agreement["id"])
        draft = await self.call(buyer, approver, "post", "/orders/orders", order, status=(201,))
        offered = await self.call(
            buyer, approver, "post", "/orders/orders", order | {"lot": order["lot"]}, status=(201,)
        )
        path = "/orders/orders/{order_id}"
        for action in ("submit", "approve", "offer"):
            await self.call(buyer, approver, "post", f"{path}/{action}", values={"order_id": offered["id"]})
        provider_admin = provider.actor("provider_admin")
        await self.call(
            provider,
            provider_admin,
            "post",
            f"{path}/assign-supervisor",
            {"supervisorId": provider.people["supervisor"]},
            values={"order_id": offered["id"]},
        )
        await self.call(
            provider,
            provider.actor("supervisor"),
            "post",
            f"{path}/declare-conflict",
            {"relatedParticipants": []},
            values={"order_id": offered["id"]},
        )
        await self.call(
            provider, provider_admin, "post", f"{path}/accept", values={"order_id": offered["id"]}
        )
        del draft

    async def harvest(self, tenant: Tenant) -> dict[str, Any]:
        """Read everything ``tenant`` may read, through its own GETs, recording the ids it sees.
        Returns ``{request: (status, body)}``: a snapshot to compare before and after an attack."""
        snapshot: dict[str, Any] = {}
        actor = tenant.strongest()
        gets = [op for op in self.apps.operations() if op.method == "get" and not op.public]
        for _ in range(2):  # ids found by the lists open the reads by id
            for op in gets:
                for path in self._paths_for(op, tenant):
                    response = await self.apps.send("get", path, actor)
                    body = (
                        response.json()
                        if "json" in response.headers.get("content-type", "")
                        else response.text
                    )
                    if isinstance(body, dict):  # a problem's requestId differs on every request
                        body = {k: v for k, v in body.items() if k != "requestId"}
                    snapshot[path] = (response.status_code, body)
                    if response.status_code == 200:
                        tenant.pool.harvest(op.path, body)
        return snapshot

    def _paths_for(self, op: Operation, tenant: Tenant) -> Iterator[str]:
        path_slots = [s for s in op.slots if s.location == "path"]
        if any(p.get("required") and p["in"] == "query" for p in op.parameters):
            return
        if not path_slots:
            if "{" not in op.path:
                yield op.path
            return
        first = path_slots[0]
        if any(other.kind not in tenant.pool.by_kind for other in path_slots[1:]):
            return  # reads only what the tenant has ids for: a snapshot is the same twice
        for value in tenant.pool.by_kind.get(first.kind, [])[:3]:
            values = {first.name: value}
            for other in path_slots[1:]:
                values[other.name] = tenant.pool.by_kind[other.kind][0]
            if "{" not in _fill(op.path, values):
                yield _fill(op.path, values)

    def required_body(self, op: Operation) -> Any:
        """A body for ``op``: A's own successful one if the seeding made one, else one from its schema."""
        if op.key in self.recorded:
            return _fresh(self.recorded[op.key])
        if op.body_schema is not None and "$ref" in op.body_schema:
            # Another operation taking the same schema (PUT after POST) takes the same valid body.
            for other in self.apps.operations():
                if (
                    other.service == op.service
                    and other.body_schema == op.body_schema
                    and other.key in self.recorded
                ):
                    return _fresh(self.recorded[other.key])
        if op.body_schema is None:
            return None
        return generate(self.apps.docs[op.service], op.body_schema)


_UNIQUE_FIELDS = ("number", "code", "email")


def _fresh(body: Any) -> Any:
    """A copy of a recorded body whose usually-unique strings (numbers, codes, e-mails) are new."""
    copied = json.loads(json.dumps(body))
    if isinstance(copied, dict):
        for key in _UNIQUE_FIELDS:
            if isinstance(copied.get(key), str):
                tag = uuid.uuid4().hex[:5]
                copied[key] = f"{tag}.{copied[key]}" if key == "email" else f"{copied[key][:20]}-{tag}"
    return copied


def _fill(template: str, values: dict[str, str]) -> str:
    path = template
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    return path


def agreement_body(provider_id: uuid.UUID, canary: str) -> dict[str, Any]:
    return {
        "number": f"PIR-{uuid.uuid4().hex[:6]}",
        "title": f"{canary} puitesopimus",
        "validity": {"startsOn": "2026-01-01", "firstTermEndsOn": "2027-12-31", "hardEndOn": "2029-12-31"},
        "lots": [
            {
                "name": "Yksilötyönohjaus",
                "forms": ["individual"],
                "region": "Pirkanmaa",
                "requiredQualifications": ["story_training"],
                "providers": [{"providerId": str(provider_id), "rank": 1}],
            }
        ],
        "priceItems": [
            {
                "lot": "Yksilötyönohjaus",
                "form": "individual",
                "durationMinutes": 90,
                "mode": "remote",
                "unit": "per_session",
                "netPriceCents": 12_000,
                "validFrom": "2026-01-01",
            }
        ],
        "cancellation": {
            "lateThresholdHours": 48,
            "lateCancellationChargePercent": 100,
            "noShowChargePercent": 100,
            "illnessExempt": True,
        },
    }


def order_body(buyer: Tenant, provider: Tenant, agreement_id: str) -> dict[str, Any]:
    return {
        "costCentreId": buyer.pool.by_kind["cost_centre"][0],
        "agreementId": agreement_id,
        "lot": "Yksilötyönohjaus",
        "form": "individual",
        "participants": [buyer.people["employee"]],
        "plannedSessions": 10,
        "durationMinutes": 90,
        "startsOn": "2026-12-01",
        "endsOn": "2027-06-30",
        "mode": "remote",
        "selection": "needs_based",
        "justification": f"{buyer.canary} perustelu",
        "providerId": str(provider.id),
        "supervisorId": provider.people["supervisor"],
    }
