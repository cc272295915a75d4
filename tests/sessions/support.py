"""Helpers the sessions tests share (test modules import these, never each other).

Builders: an accepted order's event, its envelope, an opened process, and callers of the buyer and
the provider with tokens from the test issuer; the frame API's world; the content wall's world
(a process with its people, a keyring on the app, items); and checks of answers.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import msgspec
from litestar import Litestar
from litestar.testing import AsyncTestClient

from services.sessions.adapters.crypto import ContentKeyring
from services.sessions.api.content import CONTENT_KEYRING_STATE_KEY
from services.sessions.domain.processes import Process
from services.sessions.handlers import processes as handlers
from services.sessions.handlers import processes as process_handlers
from services.sessions.store import processes as store
from shared import approvers
from shared.contracts import Event
from shared.contracts import orders as orders_events
from shared.contracts import organisations as organisations_events
from shared.db.tenant import tenant_transaction
from shared.events.envelope import Envelope, envelope_for
from shared.testing.issuer import TestIssuer

Client = AsyncTestClient[Litestar]
PROBLEM_JSON = "application/problem+json"
Headers = dict[str, str]
LOT = "Ryhmätyönohjaus"
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def price_item(
    duration: int = 90,
    mode: orders_events.DeliveryMode = "remote",
    cents: int = 18000,
    form: orders_events.SupervisionForm = "group",
) -> orders_events.PriceItemFact:
    return orders_events.PriceItemFact(
        lot=LOT,
        form=form,
        duration_minutes=duration,
        mode=mode,
        unit="per_session",
        net_price_cents=cents,
        valid_from=dt.date(2026, 1, 1),
    )


TERMS = orders_events.CancellationTermsFact(
    late_threshold_hours=24,
    late_cancellation_charge_percent=100,
    no_show_charge_percent=100,
    illness_exempt=True,
)


@dataclass
class Parties:
    """An order's buyer, provider, supervisor and participants."""

    buyer_id: uuid.UUID = field(default_factory=uuid.uuid4)
    provider_id: uuid.UUID = field(default_factory=uuid.uuid4)
    supervisor_id: uuid.UUID = field(default_factory=uuid.uuid4)
    participants: list[uuid.UUID] = field(default_factory=lambda: [uuid.uuid4(), uuid.uuid4()])
    order_id: uuid.UUID = field(default_factory=uuid.uuid4)
    cost_centre_id: uuid.UUID = field(default_factory=uuid.uuid4)
    agreement_id: uuid.UUID = field(default_factory=uuid.uuid4)
    approver_id: uuid.UUID = field(default_factory=uuid.uuid4)
    """An approver of the buyer holding the order's cost centre (``open_process`` assigns them)."""


def order_event(
    cls: type[orders_events.OrderFacts],
    parties: Parties,
    *,
    planned_sessions: int = 4,
    price_list: list[orders_events.PriceItemFact] | None = None,
    price: orders_events.PriceItemFact | None = None,
    status: orders_events.OrderStatus = "accepted",
    form: orders_events.SupervisionForm = "group",
    **extra: Any,
) -> orders_events.OrderFacts:
    items = [
        price_item(90, "remote", form=form),
        price_item(90, "at_buyer", 21000, form=form),
        price_item(60, "remote", 13000, form=form),
    ]
    return cls(
        order_id=parties.order_id,
        buyer_id=parties.buyer_id,
        provider_id=parties.provider_id,
        cost_centre_id=parties.cost_centre_id,
        agreement_id=parties.agreement_id,
        lot=LOT,
        form=form,
        participants=list(parties.participants),
        planned_sessions=planned_sessions,
        duration_minutes=90,
        starts_on=dt.date(2026, 3, 1),
        ends_on=dt.date(2028, 12, 31),
        mode="remote",
        selection="ranking",
        status=status,
        supervisor_id=parties.supervisor_id,
        price=price or items[0],
        cancellation=TERMS,
        committed_cents=72000,
        price_list=items if price_list is None else price_list,
        agreement_number="PIR-2026-1",
        **extra,
    )


def orders_envelope(
    event: Event, parties: Parties, *, version: int, occurred_at: dt.datetime | None = None
) -> Envelope:
    return envelope_for(
        event,
        source="orders",
        subject=parties.order_id,
        version=version,
        tenant_ids=(parties.buyer_id, parties.provider_id),
        occurred_at=occurred_at,
    )


async def open_process(
    pool: asyncpg.Pool,
    parties: Parties,
    *,
    accepted_at: dt.datetime = NOW - dt.timedelta(days=30),
    **event_fields: Any,
) -> Process:
    """The process of an accepted order, opened as the consumer does (without NATS)."""
    event = order_event(orders_events.OrderAccepted, parties, **event_fields)
    envelope = orders_envelope(event, parties, version=6, occurred_at=accepted_at)
    async with tenant_transaction(pool, parties.buyer_id) as conn:
        await handlers.apply_order_accepted(conn, envelope, envelope.event_as(orders_events.OrderAccepted))
        process = await store.fetch_process_by_order(conn, parties.order_id)
    assert process is not None
    await assign_approver(pool, parties.buyer_id, parties.cost_centre_id, parties.approver_id)
    return process


def approver_envelope(
    cls: type[organisations_events.ApproverAssigned | organisations_events.ApproverRemoved],
    buyer_id: uuid.UUID,
    cost_centre_id: uuid.UUID,
    person_id: uuid.UUID,
    *,
    version: int,
) -> Envelope:
    return envelope_for(
        cls(cost_centre_id=cost_centre_id, person_id=person_id),
        source="organisations",
        subject=cost_centre_id,
        version=version,
        tenant_ids=(buyer_id,),
    )


async def assign_approver(
    pool: asyncpg.Pool,
    buyer_id: uuid.UUID,
    cost_centre_id: uuid.UUID,
    person_id: uuid.UUID,
    *,
    version: int = 1,
) -> None:
    """As the organisations consumer records an ``ApproverAssigned`` (without NATS)."""
    envelope = approver_envelope(
        organisations_events.ApproverAssigned, buyer_id, cost_centre_id, person_id, version=version
    )
    async with tenant_transaction(pool, buyer_id) as conn:
        await approvers.apply_approver_assigned(
            conn, envelope, envelope.event_as(organisations_events.ApproverAssigned)
        )


@dataclass
class Callers:
    """Tokens for the people around one process."""

    issuer: TestIssuer
    parties: Parties

    def _headers(self, tenant_id: uuid.UUID, person: uuid.UUID, *roles: str, **extra: str) -> Headers:
        token = self.issuer.token(tenant_id=tenant_id, roles=roles, subject=str(person))
        return {"Authorization": f"Bearer {token}", **extra}

    def supervisor(self, **extra: str) -> Headers:
        return self._headers(self.parties.provider_id, self.parties.supervisor_id, "supervisor", **extra)

    def other_supervisor(self) -> Headers:
        return self._headers(self.parties.provider_id, uuid.uuid4(), "supervisor")

    def provider_admin(self) -> Headers:
        return self._headers(self.parties.provider_id, uuid.uuid4(), "provider_admin")

    def buyer_admin(self) -> Headers:
        return self._headers(self.parties.buyer_id, uuid.uuid4(), "buyer_admin")

    def approver(self) -> Headers:
        """The approver of the process's cost centre."""
        return self._headers(self.parties.buyer_id, self.parties.approver_id, "approver")

    def other_approver(self) -> Headers:
        """An approver of the buyer who holds none of the process's cost centre."""
        return self._headers(self.parties.buyer_id, uuid.uuid4(), "approver")

    def participant(self, index: int = 0) -> Headers:
        return self._headers(self.parties.buyer_id, self.parties.participants[index], "employee")

    def other_employee(self) -> Headers:
        return self._headers(self.parties.buyer_id, uuid.uuid4(), "employee")

    def stranger(self, *roles: str) -> Headers:
        """Someone of another tenant, in any role."""
        return self._headers(uuid.uuid4(), uuid.uuid4(), *(roles or ("buyer_admin",)))


def iso(value: dt.datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def decode(raw: str | bytes) -> Any:
    return msgspec.json.decode(raw)


async def outbox_events(relay_url: str, subject: str) -> list[Envelope]:
    """The sessions outbox as the relay sees it (the app role may only insert there), for one aggregate."""
    from shared.events.envelope import decode_envelope

    conn = await asyncpg.connect(relay_url)
    try:
        rows = await conn.fetch(
            "select payload from outbox where subject like 'sessions.%' order by created_at"
        )
    finally:
        await conn.close()
    envelopes = [decode_envelope(bytes(row["payload"])) for row in rows]
    return [e for e in envelopes if e.subject == subject]


# --- answers ---


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    return body


def fields(response: httpx.Response, status: int) -> list[str]:
    return [error["field"] for error in problem(response, status).get("errors") or []]


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


# --- the frame API: one open process and its callers ---


@dataclass
class FrameWorld:
    """One open process, its parties and their callers, as the frame API tests see it."""

    process: Process
    parties: Parties
    who: Callers

    @property
    def path(self) -> str:
        return f"/sessions/processes/{self.process.process_id}"


def everyone_attended(world: FrameWorld) -> dict[str, Any]:
    return {"attendance": [{"personId": str(p), "attended": True} for p in world.parties.participants]}


# --- the content wall: a process with its people, a keyring on the app, items ---


def use_keyring(client: Client, keyring: ContentKeyring | None = None) -> ContentKeyring:
    """Give the app a generated content keyring (tests never use the environment's)."""
    keyring = keyring or ContentKeyring.generate()
    client.app.state[CONTENT_KEYRING_STATE_KEY] = keyring
    return keyring


@dataclass
class World:
    """One process between a buyer and a provider, and tokens for everyone around it."""

    issuer: TestIssuer
    parties: Parties
    process_id: uuid.UUID
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"/sessions/processes/{self.process_id}"

    def headers(self, tenant_id: uuid.UUID, subject: str, *roles: str, **claims: Any) -> Headers:
        token = self.issuer.token(tenant_id=tenant_id, roles=roles, subject=subject, **claims)
        return {"Authorization": f"Bearer {token}"}

    def supervisor(self) -> Headers:
        return self.headers(self.parties.provider_id, str(self.parties.supervisor_id), "supervisor")

    def participant(self, index: int = 0) -> Headers:
        return self.headers(self.parties.buyer_id, str(self.parties.participants[index]), "employee")

    def buyer_admin(self) -> Headers:
        return self.headers(self.parties.buyer_id, str(uuid.uuid4()), "buyer_admin")

    def approver(self) -> Headers:
        """The approver of the process's cost centre."""
        return self.headers(self.parties.buyer_id, str(self.parties.approver_id), "approver")

    def other_approver(self) -> Headers:
        """An approver of the buyer who does not hold the process's cost centre."""
        return self.headers(self.parties.buyer_id, str(uuid.uuid4()), "approver")


async def new_world(pool: asyncpg.Pool, issuer: TestIssuer, *, participants: int = 2) -> World:
    parties = Parties(participants=[uuid.uuid4() for _ in range(participants)])
    process = await open_process(pool, parties)
    return World(issuer=issuer, parties=parties, process_id=process.process_id)


async def close_process(pool: asyncpg.Pool, world: World, closed_at: dt.datetime) -> None:
    """Close the process the way the frame does when its order completes."""
    event = order_event(orders_events.OrderCompleted, world.parties, status="completed")
    envelope = orders_envelope(event, world.parties, version=9, occurred_at=closed_at)
    async with tenant_transaction(pool, world.parties.buyer_id) as conn:
        await process_handlers.apply_order_closed(conn, envelope, event)


def body_of(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, (response.status_code, response.text)
    return response.json()


async def write(
    client: Client, world: World, headers: Headers, kind: str, text: str, phase: str | None = None
) -> dict[str, Any]:
    payload: dict[str, Any] = {"kind": kind, "body": text}
    if phase:
        payload["phase"] = phase
    response = await client.post(f"{world.base}/content", json=payload, headers=headers)
    result: dict[str, Any] = body_of(response, 201)
    return result
