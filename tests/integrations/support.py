"""Test support for the integrations service: internal events as producers publish them, and a
webhook receiver that verifies every delivery with the ``standardwebhooks`` library; the API
client, the producer and the callers' headers the tests share (the fixtures are conftest's)."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import asyncpg
import httpx
from cloudevents.core.bindings.http import HTTPMessage, from_structured_event
from litestar import Litestar
from litestar.testing import AsyncTestClient
from litestar.testing.transport import TestClientTransport
from nats.js import JetStreamContext
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from services.integrations.domain import catalogue
from services.integrations.domain.asyncapi import data_schema
from shared.contracts import Event
from shared.contracts.billing import InvoiceIssued
from shared.contracts.orders import CancellationTermsFact, OrderApproved, PriceItemFact
from shared.contracts.organisations import CostCentreCreated, PersonCreated
from shared.contracts.sessions import AttendanceFact, SessionCancelled, SessionHeld, SessionScheduled
from shared.db.tenant import tenant_transaction
from shared.events import encode_envelope, envelope_for
from shared.events.envelope import Envelope
from shared.testing.issuer import TestIssuer
from shared.testing.plugin import free_port

__all__ = [
    "OLD_SECRET_KEY",
    "SECRET_KEYS",
    "Client",
    "Parties",
    "Producer",
    "Receiver",
    "admin",
    "assert_public",
    "cost_centre_created",
    "invoice_issued",
    "order_approved",
    "parse_cloudevent",
    "person_created",
    "reader",
    "register",
    "session_cancelled",
    "session_held",
    "session_scheduled",
    "wait_for_cost_centre",
    "wait_for_person",
    "wait_until",
]

NOW = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Parties:
    buyer: uuid.UUID = field(default_factory=uuid.uuid4)
    provider: uuid.UUID = field(default_factory=uuid.uuid4)
    cost_centre: uuid.UUID = field(default_factory=uuid.uuid4)
    order: uuid.UUID = field(default_factory=uuid.uuid4)


def _envelope(
    event: Event, source: str, subject: uuid.UUID, tenants: list[uuid.UUID], at: dt.datetime | None
) -> Envelope:
    return envelope_for(event, source=source, subject=subject, version=1, tenant_ids=tenants, occurred_at=at)


def order_approved(p: Parties, *, at: dt.datetime | None = None) -> Envelope:
    event = OrderApproved(
        order_id=p.order,
        buyer_id=p.buyer,
        provider_id=p.provider,
        cost_centre_id=p.cost_centre,
        agreement_id=uuid.uuid4(),
        lot="Pohjois-Savo",
        form="group",
        participants=[uuid.uuid4(), uuid.uuid4()],
        planned_sessions=10,
        duration_minutes=90,
        starts_on=dt.date(2026, 12, 1),
        ends_on=dt.date(2027, 6, 30),
        mode="remote",
        selection="ranking",
        status="approved",
        committed_cents=150000,
    )
    return _envelope(event, "orders", p.order, [p.buyer, p.provider], at)


_PRICE = PriceItemFact(
    lot="Pohjois-Savo",
    form="group",
    duration_minutes=90,
    mode="remote",
    unit="per_session",
    net_price_cents=15000,
    valid_from=dt.date(2026, 1, 1),
)
_TERMS = CancellationTermsFact(
    late_threshold_hours=48,
    late_cancellation_charge_percent=100,
    no_show_charge_percent=100,
    illness_exempt=True,
)


def _session_facts(p: Parties, session: uuid.UUID, starts_at: dt.datetime) -> dict[str, Any]:
    return {
        "session_id": session,
        "process_id": uuid.uuid4(),
        "order_id": p.order,
        "buyer_id": p.buyer,
        "provider_id": p.provider,
        "supervisor_id": uuid.uuid4(),
        "cost_centre_id": p.cost_centre,
        "agreement_id": uuid.uuid4(),
        "form": "group",
        "mode": "at_buyer",
        "starts_at": starts_at,
        "duration_minutes": 90,
    }


def session_scheduled(p: Parties, *, at: dt.datetime | None = None) -> Envelope:
    session = uuid.uuid4()
    event = SessionScheduled(**_session_facts(p, session, NOW))
    return _envelope(event, "sessions", session, [p.buyer, p.provider], at)


def session_held(p: Parties, attendance: dict[uuid.UUID, bool], *, at: dt.datetime | None = None) -> Envelope:
    session = uuid.uuid4()
    event = SessionHeld(
        **_session_facts(p, session, NOW),
        price=_PRICE,
        cancellation_terms=_TERMS,
        participant_count=len(attendance),
        ends_at=NOW + dt.timedelta(minutes=90),
        attendance=[AttendanceFact(person_id=person, attended=came) for person, came in attendance.items()],
    )
    return _envelope(event, "sessions", session, [p.buyer, p.provider], at)


def session_cancelled(p: Parties, *, category: str = "late", charge_exempt: bool = False) -> Envelope:
    session = uuid.uuid4()
    event = SessionCancelled(
        **_session_facts(p, session, NOW),
        price=_PRICE,
        cancellation_terms=_TERMS,
        participant_count=3,
        category=category,  # type: ignore[arg-type]
        cancelled_at=NOW - dt.timedelta(hours=2),
        charge_exempt=charge_exempt,
    )
    return _envelope(event, "sessions", session, [p.buyer, p.provider], None)


def invoice_issued(p: Parties) -> Envelope:
    invoice = uuid.uuid4()
    event = InvoiceIssued(
        invoice_id=invoice,
        provider_id=p.provider,
        buyer_id=p.buyer,
        number="2026-0001",
        issue_date=dt.date(2026, 12, 1),
        due_date=dt.date(2026, 12, 22),
        net_cents=15000,
        vat_cents=3765,
        gross_cents=18765,
        payment_reference="1232",
        cost_centre_id=p.cost_centre,
        order_ids=[p.order],
        billing_month="2026-11",
    )
    return _envelope(event, "billing", invoice, [p.provider, p.buyer], None)


def cost_centre_created(tenant: uuid.UUID, cost_centre: uuid.UUID, code: str) -> Envelope:
    event = CostCentreCreated(
        cost_centre_id=cost_centre,
        org_unit_id=uuid.uuid4(),
        code=code,
        name="Lastensuojelu",
        yearly_budget_cents=10_000_000,
        active=True,
    )
    return _envelope(event, "organisations", cost_centre, [tenant], None)


def person_created(tenant: uuid.UUID, person: uuid.UUID, hr_employee_number: str | None) -> Envelope:
    event = PersonCreated(
        person_id=person, roles=["employee"], hr_employee_number=hr_employee_number, active=True
    )
    return _envelope(event, "organisations", person, [tenant], None)


def parse_cloudevent(body: bytes) -> Any:
    """The body read by the official CloudEvents SDK (structured JSON mode)."""
    return from_structured_event(
        HTTPMessage(headers={"content-type": "application/cloudevents+json"}, body=body)
    )


def assert_public(body: bytes) -> dict[str, Any]:
    """The event has only CloudEvents attributes, and ``data`` only fields of its public schema."""
    event = json.loads(body)
    assert set(event) == catalogue.CLOUDEVENTS_ATTRIBUTES, set(event) ^ catalogue.CLOUDEVENTS_ATTRIBUTES
    public = catalogue.public_type(event["type"])
    assert public is not None, event["type"]
    schema = data_schema(public)
    properties = (
        schema["$defs"][public.data.__name__]["properties"] if "$defs" in schema else schema["properties"]
    )
    assert set(event["data"]) <= set(properties), set(event["data"]) - set(properties)
    parsed = parse_cloudevent(body)
    assert parsed.get_type() == event["type"]
    assert str(parsed.get_id()) == event["id"]
    return event  # type: ignore[no-any-return]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    at: float


class Receiver:
    """A real HTTP server on loopback. Each path is an endpoint with its secrets; a request is
    answered 204 only when ``standardwebhooks`` verifies it with one of them, else 400.
    ``behaviour[path]`` makes a path answer 503 ("fail") or hang for ``hang_seconds`` ("hang")."""

    def __init__(self) -> None:
        self.port = free_port()
        self.secrets: dict[str, list[str]] = {}
        self.behaviour: dict[str, str] = {}
        self.hang_seconds = 5.0
        self.received: list[Received] = []
        self.hanging: dict[str, int] = {}
        self.max_hanging = 0
        self.max_per_path = 0
        """The most requests ever hanging at once, over all paths."""
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Down: connections are refused until :meth:`start`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def verify(self, path: str, headers: dict[str, str], body: bytes) -> bool:
        for secret in self.secrets.get(path, []):
            try:
                Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                continue
            return True
        return False

    def verified(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path and r.verified]

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [json.loads(r.body) for r in self.verified(path)]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for webhook deliveries")
            time.sleep(0.05)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            behaviour = receiver.behaviour.get(self.path, "ok")
            if behaviour == "hang":
                with receiver.lock:
                    receiver.hanging[self.path] = receiver.hanging.get(self.path, 0) + 1
                    receiver.max_hanging = max(receiver.max_hanging, sum(receiver.hanging.values()))
                    receiver.max_per_path = max(receiver.max_per_path, receiver.hanging[self.path])
                time.sleep(receiver.hang_seconds)
                with receiver.lock:
                    receiver.hanging[self.path] -= 1
            if behaviour == "fail":
                with receiver.lock:
                    receiver.received.append(Received(self.path, headers, body, False, time.monotonic()))
                self.send_response(503)
                self.end_headers()
                return
            verified = receiver.verify(self.path, headers, body)
            with receiver.lock:
                receiver.received.append(Received(self.path, headers, body, verified, time.monotonic()))
            self.send_response(204 if verified else 400)
            self.end_headers()

    return Handler


# --- the API client, the producer and the callers ---


class _ThreadedTransport(TestClientTransport["Client"]):
    """Litestar's test transport answers an async request synchronously (it blocks on its portal
    thread), which would stop this event loop, and the worker running in it, for the whole
    request: a request waiting on a row lock the worker holds in an open transaction (e.g.
    a replay's schedule row just after a delivery) then waits forever. Here the blocking call
    runs in a thread of its own, so the worker goes on as it does beside a real API process."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await asyncio.to_thread(self.handle_request, request)


class Client(AsyncTestClient[Litestar]):
    """The API under test on its own event loop, never blocking the worker's."""

    def __init__(self, app: Litestar) -> None:
        super().__init__(app)
        self._transport = _ThreadedTransport(client=self, raise_server_exceptions=True)  # type: ignore[assignment]


OLD_SECRET_KEY = "old:" + base64.b64encode(bytes(range(32))).decode()
SECRET_KEYS = OLD_SECRET_KEY + ",new:" + base64.b64encode(bytes(range(32, 64))).decode()
"""The tests' webhook secret keyring: ``new`` seals, ``old`` (an earlier keyring's only key) still opens."""


class Producer:
    """Publishes envelopes onto the producers' streams, as their outbox relays do."""

    def __init__(self, js: JetStreamContext) -> None:
        self.js = js

    async def publish(self, *envelopes: Envelope) -> None:
        for envelope in envelopes:
            await self.js.publish(
                envelope.type, encode_envelope(envelope), headers={"Nats-Msg-Id": str(envelope.id)}
            )


def admin(issuer: TestIssuer, tenant: uuid.UUID) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token(tenant_id=tenant, roles=['buyer_admin'])}"}


def reader(issuer: TestIssuer, tenant: uuid.UUID) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token(tenant_id=tenant, scopes=['events:read'])}"}


async def register(
    client: Client, issuer: TestIssuer, receiver: Receiver, tenant: uuid.UUID, event_types: list[str]
) -> tuple[str, str]:
    """A new endpoint of ``tenant`` at a fresh receiver path: (endpoint id, path)."""
    path = f"/hooks/{uuid.uuid4().hex}"
    response = await client.post(
        "/integrations/webhooks",
        json={"url": receiver.url(path), "eventTypes": event_types},
        headers=admin(issuer, tenant),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["secret"].startswith("whsec_")
    receiver.secrets[path] = [body["secret"]]
    return body["id"], path


async def wait_until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


async def wait_for_person(pool: asyncpg.Pool, tenant: uuid.UUID, person: uuid.UUID) -> None:
    for _ in range(400):
        async with tenant_transaction(pool, tenant) as conn:
            if await conn.fetchval(
                "select 1 from hr_people where tenant_id = $1 and person_id = $2", tenant, person
            ):
                return
        await asyncio.sleep(0.05)
    raise AssertionError("the person never reached the read model")


async def wait_for_cost_centre(pool: asyncpg.Pool, tenant: uuid.UUID, cost_centre: uuid.UUID) -> None:
    for _ in range(400):
        async with tenant_transaction(pool, tenant) as conn:
            if await conn.fetchval(
                "select 1 from cost_centre_codes where tenant_id = $1 and cost_centre_id = $2",
                tenant,
                cost_centre,
            ):
                return
        await asyncio.sleep(0.05)
    raise AssertionError("the cost centre never reached the read model")
