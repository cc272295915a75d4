"""Shared helpers of the orders tests: read models and agreements put straight into the orders
database (as the consumers and the agreement routes would), a buyer-and-provider scene, and orders
taken over HTTP to submitted, offered or accepted."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient

from services.orders import store
from services.orders.domain.agreements import (
    AdmittedProvider,
    AgreementContent,
    AgreementStatus,
    CancellationTerms,
    DeliveryMode,
    FrameworkAgreement,
    Lot,
    PriceItem,
    PriceUnit,
    QualificationKind,
    SupervisionForm,
    Validity,
)
from shared import approvers as shared_approvers
from shared.db.provision import DatabaseLayout
from shared.db.tenant import tenant_transaction
from shared.events.envelope import Envelope, decode_envelope
from shared.testing.issuer import TestIssuer
from tests.factories import business_id

Client = AsyncTestClient[Litestar]
Headers = dict[str, str]

PROBLEM_JSON = "application/problem+json"
LOT = "Yksilötyönohjaus"


@dataclass
class Org:
    id: uuid.UUID
    issuer: TestIssuer

    def as_(self, *roles: str, person: uuid.UUID | None = None) -> Headers:
        subject = str(person or uuid.uuid4())
        token = self.issuer.token(tenant_id=self.id, roles=roles, subject=subject)
        return {"Authorization": f"Bearer {token}"}


async def known_tenant(pool: asyncpg.Pool, issuer: TestIssuer, kind: str) -> Org:
    tenant_id = uuid.uuid4()
    async with tenant_transaction(pool, tenant_id) as conn:
        await conn.execute(
            "insert into tenant_directory (tenant_id, name, kind, business_id, version)"
            " values ($1, $2, $3, $4, 1)",
            tenant_id,
            f"{kind} {tenant_id.hex[:6]}",
            kind,
            business_id(),
        )
    return Org(tenant_id, issuer)


async def cost_centre(
    pool: asyncpg.Pool, buyer: Org, *approvers: uuid.UUID, budget: int = 1_000_000
) -> uuid.UUID:
    cost_centre_id = uuid.uuid4()
    async with tenant_transaction(pool, buyer.id) as conn:
        await conn.execute(
            "insert into known_cost_centres"
            " (tenant_id, cost_centre_id, code, name, yearly_budget_cents, active, version)"
            " values ($1, $2, '4100', 'Lastensuojelu', $3, true, 1)",
            buyer.id,
            cost_centre_id,
            budget,
        )
        for person_id in approvers:
            await shared_approvers.set_approver(
                conn, buyer.id, cost_centre_id, person_id, assigned=True, version=1
            )
    return cost_centre_id


async def known_person(pool: asyncpg.Pool, org: Org, *, active: bool = True) -> uuid.UUID:
    """A person of ``org`` as the organisations consumer records them in orders."""
    person_id = uuid.uuid4()
    async with tenant_transaction(pool, org.id) as conn:
        await conn.execute(
            "insert into known_people (tenant_id, person_id, roles, active, version)"
            " values ($1, $2, '{employee}', $3, 1)",
            org.id,
            person_id,
            active,
        )
    return person_id


async def agreement(
    pool: asyncpg.Pool,
    buyer: Org,
    provider: Org,
    *also: Org,
    starts: str = "2026-01-01",
    ends: str = "2029-12-31",
) -> uuid.UUID:
    """An active agreement with one lot admitting ``provider``, straight into the buyer's table."""
    content = AgreementContent(
        number=f"PIR-{uuid.uuid4().hex[:6]}",
        title="Työnohjauspalvelut",
        validity=Validity(
            starts_on=dt.date.fromisoformat(starts),
            first_term_ends_on=dt.date.fromisoformat(ends),
            hard_end_on=dt.date.fromisoformat(ends),
        ),
        lots=(
            Lot(
                name=LOT,
                forms=(SupervisionForm.INDIVIDUAL, SupervisionForm.PAIR),
                region="Pirkanmaa",
                required_qualifications=frozenset({QualificationKind.STORY_TRAINING}),
                providers=tuple(
                    AdmittedProvider(provider_id=p.id, rank=i + 1) for i, p in enumerate((provider, *also))
                ),
            ),
        ),
        price_items=(
            PriceItem(
                lot=LOT,
                form=SupervisionForm.INDIVIDUAL,
                duration_minutes=90,
                mode=DeliveryMode.REMOTE,
                unit=PriceUnit.PER_SESSION,
                net_price_cents=12_000,
                valid_from=dt.date.fromisoformat(starts),
            ),
            PriceItem(
                lot=LOT,
                form=SupervisionForm.PAIR,
                duration_minutes=90,
                mode=DeliveryMode.REMOTE,
                unit=PriceUnit.PER_SESSION,
                net_price_cents=15_000,
                valid_from=dt.date.fromisoformat(starts),
            ),
        ),
        cancellation=CancellationTerms(
            late_threshold_hours=48,
            late_cancellation_charge_percent=100,
            no_show_charge_percent=50,
            illness_exempt=True,
        ),
    )
    made = FrameworkAgreement(
        agreement_id=uuid.uuid4(), status=AgreementStatus.ACTIVE, version=2, content=content
    )
    async with tenant_transaction(pool, buyer.id) as conn:
        await store.insert_agreement(conn, buyer.id, made)
    return made.agreement_id


@dataclass
class Scene:
    buyer: Org
    provider: Org
    approver: uuid.UUID
    cost_centre_id: uuid.UUID
    agreement_id: uuid.UUID
    supervisor: uuid.UUID
    people: list[uuid.UUID]
    """Active employees of the buyer; the first takes part in every order unless told otherwise."""

    def approver_headers(self, **extra: str) -> Headers:
        return {**self.buyer.as_("approver", person=self.approver), **extra}

    def body(self, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "costCentreId": str(self.cost_centre_id),
            "agreementId": str(self.agreement_id),
            "lot": LOT,
            "form": "individual",
            "participants": [str(self.people[0])],
            "plannedSessions": 10,
            "durationMinutes": 90,
            "startsOn": "2026-12-01",
            "endsOn": "2027-06-30",
            "mode": "remote",
            "selection": "needs_based",
            "justification": "Tiimin tarpeisiin sopiva menetelmä",
            "providerId": str(self.provider.id),
            "supervisorId": str(self.supervisor),
        }
        body.update(overrides)
        return body


async def scene(pool: asyncpg.Pool, issuer: TestIssuer, *, budget: int = 1_000_000) -> Scene:
    buyer = await known_tenant(pool, issuer, "buyer")
    provider = await known_tenant(pool, issuer, "provider")
    approver = uuid.uuid4()
    return Scene(
        buyer=buyer,
        provider=provider,
        approver=approver,
        cost_centre_id=await cost_centre(pool, buyer, approver, budget=budget),
        agreement_id=await agreement(pool, buyer, provider),
        supervisor=uuid.uuid4(),
        people=[await known_person(pool, buyer) for _ in range(3)],
    )


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def problem_fields(response: httpx.Response, status: int) -> list[str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    return [error["field"] for error in response.json().get("errors") or []]


async def events_of(layout: DatabaseLayout, subject: str) -> list[Envelope]:
    """The outbox as the relay sees it (the app role may only insert there)."""
    conn = await asyncpg.connect(layout.relay_url)
    try:
        rows = await conn.fetch(
            "select payload from outbox where subject like 'orders.order.%' order by created_at"
        )
    finally:
        await conn.close()
    envelopes = [decode_envelope(bytes(row["payload"])) for row in rows]
    return [e for e in envelopes if e.subject == subject]


async def create(client: Client, world: Scene, **overrides: Any) -> dict[str, Any]:
    return ok(
        await client.post("/orders/orders", json=world.body(**overrides), headers=world.approver_headers()),
        201,
    )


async def submitted(client: Client, world: Scene, **overrides: Any) -> str:
    order = await create(client, world, **overrides)
    path = f"/orders/orders/{order['id']}"
    ok(await client.post(f"{path}/submit", headers=world.approver_headers()))
    return path


async def known_supervisor(pool: asyncpg.Pool, provider: Org, *kinds: str) -> uuid.UUID:
    """A supervisor profile in the provider's own tenant scope, as the organisations consumer writes it."""
    person_id = uuid.uuid4()
    async with tenant_transaction(pool, provider.id) as conn:
        await conn.execute(
            "insert into known_supervisors (tenant_id, person_id, forms, languages, regions,"
            " delivery_modes, available, qualifications, version)"
            " values ($1, $2, '{individual}', '{fi}', '{Pirkanmaa}', '{remote}', true, $3::jsonb, 1)",
            provider.id,
            person_id,
            [{"type": kind} for kind in kinds],
        )
    return person_id


async def offered(client: Client, world: Scene, **overrides: Any) -> str:
    path = await submitted(client, world, **overrides)
    for action in ("approve", "offer"):
        ok(await client.post(f"{path}/{action}", headers=world.approver_headers()))
    return path


async def accepted(client: Client, world: Scene, pool: asyncpg.Pool, **overrides: Any) -> str:
    """An order taken to accepted: approved and offered, a supervisor assigned who declares no conflict."""
    path = await submitted(client, world, **overrides)
    for action in ("approve", "offer"):
        ok(await client.post(f"{path}/{action}", headers=world.approver_headers()))
    supervisor = await known_supervisor(pool, world.provider, "story_training")
    provider_admin = world.provider.as_("provider_admin")
    body = {"supervisorId": str(supervisor)}
    ok(await client.post(f"{path}/assign-supervisor", json=body, headers=provider_admin))
    as_supervisor = world.provider.as_("supervisor", person=supervisor)
    ok(await client.post(f"{path}/declare-conflict", json={"relatedParticipants": []}, headers=as_supervisor))
    ok(await client.post(f"{path}/accept", headers=provider_admin))
    return path


def order_id(path: str) -> str:
    return path.rsplit("/", 1)[1]
