"""A Hypothesis state machine drives random sequences of organisations and orders calls across three
tenants — two buyers and one provider that both buyers' agreements admit (the shared party the
research names the likeliest source of leaks) — under random roles (security research §1.4 H.24).

After every step: no answer holds an id another tenant owns unless the model says it was shared with
the caller (an order and what it names become the provider's once offered; what the provider adds
becomes the buyer's), no answer holds another unrelated tenant's canary, the buyer's justification
never reaches the provider, and no content field reaches an employer-side role.

``make test`` runs a few short sequences (seconds); ``make security`` (marker ``security``) many longer ones.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import asyncpg
import httpx
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from shared.db.provision import DatabaseLayout
from shared.testing.issuer import TestIssuer
from tests.security.harness import BRIDGE_ERRORS, Actor, Apps, Tenant, World, agreement_body, order_body

T = TypeVar("T")

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

CONTENT_FIELDS = frozenset(
    {"notes", "note", "themes", "goals", "evaluation", "evaluations", "feedback", "content", "reason", "body"}
)
"""Keys that carry supervision content (handbook domain.md); an employer-side caller never gets one."""

EMPLOYER_ROLES = frozenset({"buyer_admin", "approver", "provider_admin"})

TENANTS = ("A-buyer", "B-buyer", "A-provider")
ROLES: dict[str, tuple[str, ...]] = {
    "A-buyer": ("buyer_admin", "approver", "employee"),
    "B-buyer": ("buyer_admin", "approver", "employee"),
    "A-provider": ("provider_admin", "supervisor"),
}

READS = (
    "/organisations/people",
    "/organisations/cost-centres",
    "/organisations/org-units",
    "/organisations/supervisor-profiles",
    "/organisations/tenants/me",
    "/orders/orders",
    "/orders/agreements",
    "/orders/cost-centres",
    "/orders/tenants/me",
)

SUPERVISOR_KINDS = ("private_note", "shared_note", "goal", "supervisor_evaluation", "summary")

BUYER_ACTIONS = ("submit", "approve", "offer", "cancel")
PROVIDER_ACTIONS = ("assign-supervisor", "declare-conflict", "accept", "decline", "start")


def _uuids(text: str) -> set[str]:
    return set(_UUID.findall(text))


def _keys(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {k for k, v in node.items() if v not in (None, [], "", {})}
        for value in node.values():
            found |= _keys(value)
        return found
    if isinstance(node, list):
        return set().union(*(_keys(v) for v in node)) if node else set()
    return set()


@dataclass
class Model:
    """Who may see which id: from what each tenant read while the world was seeded, then from the
    shares the machine makes (offers, the provider's answers)."""

    visible: dict[str, set[str]] = field(default_factory=dict)  # id → tenant labels
    public: set[str] = field(default_factory=set)  # provider tenant ids: a public catalogue
    related: set[frozenset[str]] = field(default_factory=set)  # tenant pairs with an agreement
    orders: dict[str, tuple[str, str]] = field(default_factory=dict)  # order id → (buyer, provider)
    justification: str = f"CANARY-JUSTIFICATION-{uuid.uuid4().hex[:8]}"
    content: str = f"CANARY-CONTENT-{uuid.uuid4().hex[:8]}"
    """Written by the supervisor; no goal is consented to and no summary approved, so only the
    supervisor and the participant may ever read it."""
    steps: int = 0
    content_written: int = 0
    requests: int = 0
    violations: list[str] = field(default_factory=list)

    def share(self, ids: set[str], *labels: str) -> None:
        for value in ids - self.public:
            self.visible.setdefault(value, set()).update(labels)


class Driver:
    """Runs the apps' coroutines on the test's event loop from Hypothesis' thread."""

    def __init__(self, world: World, loop: asyncio.AbstractEventLoop, model: Model) -> None:
        self.world, self.loop, self.model = world, loop, model

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    def actor(self, label: str, role: str) -> Actor:
        tenant = self.world.tenants[label]
        return tenant.actor(role, person=tenant.people.get(role))

    def send(self, label: str, role: str, method: str, path: str, body: Any = None) -> httpx.Response:
        headers = {"Idempotency-Key": uuid.uuid4().hex} if method == "post" and body is not None else {}
        response = self.run(
            self.world.apps.send(method, path, self.actor(label, role), json_body=body, headers=headers)
        )
        self.model.requests += 1
        self.check(label, role, f"{method.upper()} {path}", response, body)
        return response

    def check(self, label: str, role: str, what: str, response: httpx.Response, body: Any) -> None:
        model, text = self.model, response.text
        cell = f"{label}/{role} {what} -> {response.status_code}"
        if response.status_code >= 500:
            model.violations.append(f"{cell}: server error {text[:200]}")
        sent = _uuids(str(body)) | _uuids(what)
        for value in _uuids(text) - sent:
            owners = model.visible.get(value)
            if owners is not None and label not in owners:
                at = text.index(value)
                context = text[max(0, at - 300) : at + 60]
                model.violations.append(
                    f"{cell}: holds {value}, visible only to {sorted(owners)}: …{context}…"
                )
        for other in self.world.tenants.values():
            if other.label == label or frozenset({label, other.label}) in model.related:
                continue
            if other.canary in text:
                model.violations.append(f"{cell}: holds the canary of unrelated {other.label}")
        if self.world.tenants[label].kind == "provider" and model.justification in text:
            model.violations.append(f"{cell}: the buyer's justification reached the provider")
        if role not in ("supervisor", "employee") and model.content in text:
            model.violations.append(f"{cell}: supervision content reached an employer-side role")
        if role in EMPLOYER_ROLES and "json" in response.headers.get("content-type", ""):
            leaked = _keys(response.json()) & CONTENT_FIELDS
            if leaked:
                model.violations.append(f"{cell}: content fields {sorted(leaked)} reached an employer role")


class TenantMachine(RuleBasedStateMachine):
    driver: ClassVar[Driver]

    orders = Bundle("orders")

    def __init__(self) -> None:
        super().__init__()
        self.d = type(self).driver
        self.model = self.d.model

    @initialize()
    def both_buyers_admit_the_provider(self) -> None:
        """B's buyer admits A's provider too (once), so the provider serves two buyers."""
        if frozenset({"B-buyer", "A-provider"}) in self.model.related:
            return
        buyer, provider = self.d.world.tenants["B-buyer"], self.d.world.tenants["A-provider"]
        response = self.d.send("B-buyer", "buyer_admin", "post", "/orders/agreements", _agreement(provider))
        assert response.status_code == 201, response.text
        agreement = response.json()
        self.model.share(_uuids(response.text), "B-buyer")
        activated = self.d.send(
            "B-buyer", "buyer_admin", "post", f"/orders/agreements/{agreement['id']}/activate"
        )
        assert activated.status_code == 200, activated.text
        buyer.pool.add("machine_agreement", agreement["id"])

    @rule(target=orders, buyer=st.sampled_from(("A-buyer", "B-buyer")))
    def an_approver_drafts_an_order(self, buyer: str) -> str:
        tenant = self.d.world.tenants[buyer]
        provider = self.d.world.tenants["A-provider"]
        agreement = (tenant.pool.by_kind.get("machine_agreement") or tenant.pool.by_kind["agreement"])[0]
        body = order_body(tenant, provider, agreement) | {
            "justification": f"{self.model.justification} perustelu"
        }
        response = self.d.send(buyer, "approver", "post", "/orders/orders", body)
        self.model.steps += 1
        if response.status_code != 201:
            return ""
        made = response.json()
        self.model.share(_uuids(response.text) - set(self.model.visible), buyer)
        self.model.orders[made["id"]] = (buyer, provider.label)
        return str(made["id"])

    @rule(order=orders, action=st.sampled_from(BUYER_ACTIONS))
    def the_buyer_moves_an_order(self, order: str, action: str) -> None:
        if not order:
            return
        buyer, provider = self.model.orders[order]
        response = self.d.send(buyer, "approver", "post", f"/orders/orders/{order}/{action}")
        self.model.steps += 1
        if response.status_code == 200 and response.json().get("status") == "offered":
            self.model.share(_uuids(response.text), provider)

    @rule(order=orders, action=st.sampled_from(PROVIDER_ACTIONS), role=st.sampled_from(ROLES["A-provider"]))
    def the_provider_answers_an_order(self, order: str, action: str, role: str) -> None:
        if not order:
            return
        buyer, provider = self.model.orders[order]
        tenant = self.d.world.tenants[provider]
        body: Any = None
        if action == "assign-supervisor":
            body = {"supervisorId": tenant.people["supervisor"]}
        elif action == "declare-conflict":
            body = {"relatedParticipants": []}
        response = self.d.send(provider, role, "post", f"/orders/orders/{order}/{action}", body)
        self.model.steps += 1
        if response.status_code == 200:
            self.model.share(_uuids(response.text), buyer)

    @rule(label=st.sampled_from(TENANTS), data=st.data())
    def someone_reads_a_list(self, label: str, data: st.DataObject) -> None:
        role = data.draw(st.sampled_from(ROLES[label]))
        path = data.draw(st.sampled_from(READS))
        self.d.send(label, role, "get", path)
        self.model.steps += 1

    @rule(label=st.sampled_from(TENANTS), order=orders, data=st.data())
    def someone_reads_an_order(self, label: str, order: str, data: st.DataObject) -> None:
        if not order:
            return
        role = data.draw(st.sampled_from(ROLES[label]))
        response = self.d.send(label, role, "get", f"/orders/orders/{order}")
        self.model.steps += 1
        buyer, provider = self.model.orders[order]
        if label not in (buyer, provider) and response.status_code not in (403, 404):
            self.model.violations.append(
                f"{label}/{role} read order {order} of {buyer}: {response.status_code}"
            )

    @rule(kind=st.sampled_from(SUPERVISOR_KINDS))
    def the_supervisor_writes_content(self, kind: str) -> None:
        process = self._process()
        if process is None:
            return
        body = {"kind": kind, "body": f"{self.model.content} {kind}"}
        if kind == "supervisor_evaluation":
            body["phase"] = "mid"
        response = self.d.send(
            "A-provider", "supervisor", "post", f"/sessions/processes/{process}/content", body
        )
        self.model.content_written += response.status_code == 201
        self.model.steps += 1

    @rule(label=st.sampled_from(TENANTS), data=st.data())
    def someone_reads_a_process_content(self, label: str, data: st.DataObject) -> None:
        process = self._process()
        if process is None:
            return
        role = data.draw(st.sampled_from(ROLES[label]))
        suffix = data.draw(st.sampled_from(("content", "content-status")))
        self.d.send(label, role, "get", f"/sessions/processes/{process}/{suffix}")
        self.model.steps += 1

    def _process(self) -> str | None:
        processes = self.d.world.tenants["A-provider"].pool.by_kind.get("process")
        return processes[0] if processes else None

    @invariant()
    def nothing_crossed_a_tenant_wall(self) -> None:
        assert not self.model.violations, "\n".join(self.model.violations[:20])


def _agreement(provider: Tenant) -> dict[str, Any]:
    body = agreement_body(provider.id, "Sopimus")
    return body


def _model(world: World) -> Model:
    model = Model()
    for tenant in world.tenants.values():
        model.share(tenant.pool.all() | tenant.pool.seen | {str(tenant.id)}, tenant.label)
    for buyer, provider in (("A-buyer", "A-provider"), ("B-buyer", "B-provider")):
        model.related.add(frozenset({buyer, provider}))
    model.related.add(frozenset({"B-buyer", "A-provider"}))  # the machine's first step
    for tenant in world.tenants.values():
        if tenant.kind == "provider":  # provider tenants are a public catalogue
            model.visible.pop(str(tenant.id), None)
            model.public.add(str(tenant.id))
    return model


async def run_machine(world: World, examples: int, steps: int) -> Model:
    model = _model(world)
    TenantMachine.driver = Driver(world, asyncio.get_running_loop(), model)
    config = settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        database=None,
        derandomize=True,
        # No shrinking: the databases keep what earlier runs did, so a replay is never the same run.
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    try:
        await asyncio.to_thread(run_state_machine_as_test, TenantMachine, settings=config)
    finally:
        # A failure is replayed once on databases that have moved on, which Hypothesis then calls
        # flaky: the violations say what failed first.
        for violation in model.violations[:20]:
            print(f"VIOLATION {violation}")
    print(
        f"\nstateful: {examples} sequences × ≤{steps} steps: {model.steps} steps, {model.requests} requests,"
        f" {len(model.orders)} orders, {model.content_written} content items,"
        f" {len(model.violations)} violations"
    )
    return model


@pytest_asyncio.fixture(scope="module")
async def own_world(
    apps: Apps,
    issuer: TestIssuer,
    platform_databases: dict[str, DatabaseLayout],
    app_pools: dict[str, asyncpg.Pool],
) -> World:
    """Tenants of its own: the isolation matrix's attacks leave (refused or harmless) traces in the
    shared world's tenants, such as an order of A naming B's supervisor as its wish."""
    made = World(apps, issuer, dict(platform_databases), app_pools)
    await made.seed()
    return made


async def test_the_checks_flag_a_foreign_id_an_unrelated_canary_a_justification_and_content(
    own_world: World,
) -> None:
    world = own_world
    model = _model(world)
    driver = Driver(world, asyncio.get_running_loop(), model)
    b_person = world.tenants["B-buyer"].people["employee"]
    leaks = [
        ("A-buyer", "approver", {"items": [{"id": b_person}]}),
        ("A-buyer", "approver", {"name": world.tenants["B-buyer"].canary}),
        ("A-provider", "provider_admin", {"justification": model.justification}),
        ("A-buyer", "buyer_admin", {"notes": "istunnon muistiinpanot"}),
    ]
    for label, role, body in leaks:
        driver.check(label, role, "GET /x", httpx.Response(200, json=body), None)
    assert len(model.violations) == len(leaks), model.violations
    model.violations.clear()
    driver.check(
        "A-buyer", "approver", "GET /x", httpx.Response(200, json={"id": b_person}), {"id": b_person}
    )
    driver.check("A-buyer", "employee", "GET /x", httpx.Response(200, json={"notes": "omat"}), None)
    assert model.violations == []  # an echo of what was sent, and content to a participant, pass


async def test_random_sequences_across_three_tenants_keep_every_wall(own_world: World) -> None:
    model = await run_machine(
        own_world,
        int(os.environ.get("TILA_STATEFUL_EXAMPLES", "6")),
        int(os.environ.get("TILA_STATEFUL_STEPS", "15")),
    )
    assert model.steps > 0
    assert model.orders, "the machine drafted no order"
    # What the sequences did reaches the other services' consumers, none of which refuses it.
    before = len(BRIDGE_ERRORS)
    await own_world.bridge()
    assert BRIDGE_ERRORS[before:] == []


@pytest.mark.security
async def test_long_random_sequences_across_three_tenants_keep_every_wall(own_world: World) -> None:
    model = await run_machine(own_world, 40, 40)
    before = len(BRIDGE_ERRORS)
    await own_world.bridge()
    assert BRIDGE_ERRORS[before:] == []
    assert model.orders
    assert model.content_written, "the supervisor wrote content the others then asked for"
