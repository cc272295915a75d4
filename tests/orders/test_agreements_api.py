"""Framework agreements over HTTP, on real servers: draft, change, activate, end, and every refusal.

Tenants are put straight into the orders service's tenant directory (its read model of
organisations' tenants), as the tenant consumer would.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient

from shared.contracts import orders as events
from shared.db.provision import DatabaseLayout
from shared.db.tenant import tenant_transaction
from shared.events.envelope import Envelope, decode_envelope
from shared.testing.issuer import TestIssuer
from tests.factories import business_id

Client = AsyncTestClient[Litestar]
Headers = dict[str, str]

PROBLEM_JSON = "application/problem+json"


@dataclass
class Org:
    id: uuid.UUID
    issuer: TestIssuer

    def as_(self, *roles: str) -> Headers:
        return {"Authorization": f"Bearer {self.issuer.token(tenant_id=self.id, roles=roles)}"}


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
        if kind == "provider":  # what the tenant-created event puts in the public catalogue
            await conn.execute(
                "insert into provider_catalogue (provider_id, name, active, version)"
                " values ($1, $2, true, 1)",
                tenant_id,
                f"{kind} {tenant_id.hex[:6]}",
            )
    return Org(tenant_id, issuer)


@pytest_asyncio.fixture
async def buyer(orders_pool: asyncpg.Pool, issuer: TestIssuer) -> Org:
    return await known_tenant(orders_pool, issuer, "buyer")


@pytest_asyncio.fixture
async def provider(orders_pool: asyncpg.Pool, issuer: TestIssuer) -> Org:
    return await known_tenant(orders_pool, issuer, "provider")


def admin(org: Org) -> Headers:
    return org.as_("buyer_admin")


def agreement_body(provider_ids: list[uuid.UUID], **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "number": f"PIR-{uuid.uuid4().hex[:6]}",
        "title": "Työnohjauspalvelut 2026–2029",
        "validity": {"startsOn": "2026-01-01", "firstTermEndsOn": "2027-12-31", "hardEndOn": "2029-12-31"},
        "lots": [
            {
                "name": "Yksilötyönohjaus",
                "forms": ["individual", "manager"],
                "region": "Pirkanmaa",
                "requiredQualifications": ["story_training"],
                "providers": [{"providerId": str(p), "rank": i + 1} for i, p in enumerate(provider_ids)],
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
    body.update(overrides)
    return body


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def problem_fields(response: httpx.Response, status: int) -> list[str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    return [error["field"] for error in response.json().get("errors") or []]


async def create(client: Client, buyer: Org, body: dict[str, Any]) -> httpx.Response:
    return await client.post("/orders/agreements", json=body, headers=admin(buyer))


async def events_of(layout: DatabaseLayout, subject: str) -> list[Envelope]:
    """The outbox as the relay sees it (the app role may only insert there)."""
    conn = await asyncpg.connect(layout.relay_url)
    try:
        rows = await conn.fetch(
            "select payload from outbox where subject like 'orders.agreement.%' order by created_at"
        )
    finally:
        await conn.close()
    envelopes = [decode_envelope(bytes(row["payload"])) for row in rows]
    return [e for e in envelopes if e.subject == subject]


async def test_a_buyer_drafts_activates_changes_and_ends_an_agreement(
    client: Client, buyer: Org, provider: Org, layout: DatabaseLayout, orders_pool: asyncpg.Pool
) -> None:
    response = await create(client, buyer, agreement_body([provider.id]))
    draft = ok(response, 201)
    assert draft["status"] == "draft"
    assert response.headers["etag"] == '"1"'
    assert draft["lots"][0]["providers"] == [{"providerId": str(provider.id), "rank": 1}]
    path = f"/orders/agreements/{draft['id']}"
    assert await events_of(layout, draft["id"]) == []  # a draft is not announced
    async with tenant_transaction(orders_pool, buyer.id) as conn:
        stored = await conn.fetchrow(
            "select lots -> 0 ->> 'name' as lot, provider_ids from framework_agreements"
            " where agreement_id = $1",
            uuid.UUID(draft["id"]),
        )
    assert stored is not None
    assert (stored["lot"], stored["provider_ids"]) == ("Yksilötyönohjaus", [provider.id])

    read = await client.get(path, headers=buyer.as_("approver"))
    assert ok(read) == draft
    listed = ok(await client.get("/orders/agreements", headers=admin(buyer)))
    assert [a["id"] for a in listed["items"]] == [draft["id"]]

    response = await client.post(f"{path}/activate", headers={**admin(buyer), "If-Match": '"1"'})
    active = ok(response)
    assert active["status"] == "active"
    assert response.headers["etag"] == '"2"'

    [activated] = await events_of(layout, draft["id"])
    assert activated.type == events.AgreementActivated.event_type
    assert activated.tenant_ids == (buyer.id, provider.id)
    assert activated.version == 2
    event = activated.event_as(events.AgreementActivated)
    assert event.buyer_id == buyer.id
    assert event.number == draft["number"]
    assert str(event.hard_end_on) == "2029-12-31"
    assert event.lots[0].providers == [events.AdmittedProviderFact(provider_id=provider.id, rank=1)]
    assert event.lots[0].required_qualifications == ["story_training"]
    assert event.price_items[0].net_price_cents == 12_000
    assert event.cancellation.illness_exempt is True
    assert draft["paymentTermsDays"] == 21

    # Of an active agreement the price list and providers change, announced to old and new providers.
    newcomer = (await known_tenant(orders_pool, provider.issuer, "provider")).id
    body = agreement_body([newcomer], number=draft["number"])
    body["priceItems"].append({**body["priceItems"][0], "netPriceCents": 12_500, "validFrom": "2027-01-01"})
    changed = ok(await client.put(path, json=body, headers={**admin(buyer), "If-Match": '"2"'}))
    assert changed["version"] == 3
    assert len(changed["priceItems"]) == 2
    *_, changed_event = await events_of(layout, draft["id"])
    assert changed_event.type == events.AgreementChanged.event_type
    assert set(changed_event.tenant_ids) == {buyer.id, provider.id, newcomer}
    assert changed_event.tenant_ids[0] == buyer.id
    assert len(changed_event.event_as(events.AgreementChanged).price_items) == 2

    retitled = {**body, "title": "Toinen"}
    fields = problem_fields(await client.put(path, json=retitled, headers=admin(buyer)), 422)
    assert fields == ["body.title"]
    repriced_terms = {**body, "paymentTermsDays": 45}
    fields = problem_fields(await client.put(path, json=repriced_terms, headers=admin(buyer)), 422)
    assert fields == ["body.paymentTermsDays"]

    ended = ok(await client.post(f"{path}/end", headers={**admin(buyer), "If-Match": '"3"'}))
    assert ended["status"] == "ended"
    *_, ended_event = await events_of(layout, draft["id"])
    assert ended_event.type == events.AgreementEnded.event_type
    assert (await client.put(path, json=body, headers=admin(buyer))).status_code == 409
    assert (await client.post(f"{path}/end", headers=admin(buyer))).status_code == 409


@pytest.mark.parametrize("roles", [("approver",), ("employee",), ("provider_admin",)])
async def test_only_a_buyer_admin_drafts_agreements(
    client: Client, buyer: Org, roles: tuple[str, ...]
) -> None:
    response = await client.post("/orders/agreements", json=agreement_body([]), headers=buyer.as_(*roles))
    assert response.status_code == 403, response.text


async def test_a_provider_tenant_keeps_no_agreements(client: Client, provider: Org) -> None:
    # Even with a buyer_admin role in its token, a provider tenant is no buyer.
    response = await client.post("/orders/agreements", json=agreement_body([]), headers=admin(provider))
    assert response.status_code == 403, response.text


async def test_another_tenants_agreement_is_not_found(
    client: Client, buyer: Org, provider: Org, orders_pool: asyncpg.Pool
) -> None:
    draft = ok(await create(client, buyer, agreement_body([provider.id])), 201)
    stranger = await known_tenant(orders_pool, buyer.issuer, "buyer")
    path = f"/orders/agreements/{draft['id']}"
    assert (await client.get(path, headers=admin(stranger))).status_code == 404
    assert (await client.put(path, json=agreement_body([]), headers=admin(stranger))).status_code == 404
    assert (await client.post(f"{path}/activate", headers=admin(stranger))).status_code == 404
    assert (await client.post(f"{path}/end", headers=admin(stranger))).status_code == 404
    assert ok(await client.get("/orders/agreements", headers=admin(stranger)))["items"] == []
    assert ok(await client.get(path, headers=admin(buyer)))["status"] == "draft"


async def test_a_stale_if_match_is_refused(client: Client, buyer: Org, provider: Org) -> None:
    draft = ok(await create(client, buyer, agreement_body([provider.id])), 201)
    path = f"/orders/agreements/{draft['id']}"
    body = agreement_body([provider.id], number=draft["number"], title="Uusi otsikko")
    renamed = ok(await client.put(path, json=body, headers={**admin(buyer), "If-Match": '"1"'}))
    assert renamed["version"] == 2
    stale = {**admin(buyer), "If-Match": '"1"'}
    assert problem_fields(await client.put(path, json=body | {"title": "X"}, headers=stale), 412) == []
    assert problem_fields(await client.post(f"{path}/activate", headers=stale), 412) == []
    assert ok(await client.get(path, headers=admin(buyer)))["title"] == "Uusi otsikko"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {
                "validity": {
                    "startsOn": "2026-01-01",
                    "firstTermEndsOn": "2025-12-31",
                    "hardEndOn": "2029-12-31",
                }
            },
            "body.validity.firstTermEndsOn",
        ),
        (
            {
                "validity": {
                    "startsOn": "2026-01-01",
                    "firstTermEndsOn": "2027-12-31",
                    "hardEndOn": "2027-12-30",
                }
            },
            "body.validity.hardEndOn",
        ),
        ({"durationMinutes": 20}, "body.priceItems[0].durationMinutes"),
        ({"netPriceCents": -100}, "body.priceItems[0].netPriceCents"),
        ({"form": "crisis"}, "body.priceItems[0].form"),
        ({"cancellation": {"noShowChargePercent": 120}}, "body.cancellation.noShowChargePercent"),
        ({"cancellation": {"lateThresholdHours": 400}}, "body.cancellation.lateThresholdHours"),
        ({"paymentTermsDays": 121}, "body.paymentTermsDays"),
        ({"paymentTermsDays": -1}, "body.paymentTermsDays"),
    ],
)
async def test_invalid_dates_prices_and_terms_are_refused_with_the_field(
    client: Client, buyer: Org, provider: Org, change: dict[str, Any], field: str
) -> None:
    body = agreement_body([provider.id])
    if "validity" in change or "cancellation" in change or "paymentTermsDays" in change:
        body.update(change)
    else:
        body["priceItems"][0].update(change)
    assert problem_fields(await create(client, buyer, body), 422) == [field]
    assert ok(await client.get("/orders/agreements", headers=admin(buyer)))["items"] == []


async def test_an_unknown_provider_or_a_buyer_cannot_be_admitted(client: Client, buyer: Org) -> None:
    fields = problem_fields(await create(client, buyer, agreement_body([uuid.uuid4()])), 422)
    assert fields == ["body.lots[0].providers[0].providerId"]
    fields = problem_fields(await create(client, buyer, agreement_body([buyer.id])), 422)
    assert fields == ["body.lots[0].providers[0].providerId"]


async def test_a_number_is_used_once_per_buyer(client: Client, buyer: Org, provider: Org) -> None:
    body = agreement_body([provider.id])
    ok(await create(client, buyer, body), 201)
    assert problem_fields(await create(client, buyer, body), 409) == ["body.number"]


async def test_activation_without_lots_is_refused(client: Client, buyer: Org, layout: DatabaseLayout) -> None:
    draft = ok(await create(client, buyer, agreement_body([], lots=[], priceItems=[])), 201)
    path = f"/orders/agreements/{draft['id']}"
    assert problem_fields(await client.post(f"{path}/activate", headers=admin(buyer)), 422) == ["body.lots"]
    assert ok(await client.get(path, headers=admin(buyer)))["status"] == "draft"
    assert await events_of(layout, draft["id"]) == []


async def test_activation_without_a_provider_or_a_price_is_refused(
    client: Client, buyer: Org, provider: Org
) -> None:
    no_provider = ok(await create(client, buyer, agreement_body([])), 201)
    response = await client.post(f"/orders/agreements/{no_provider['id']}/activate", headers=admin(buyer))
    assert problem_fields(response, 422) == ["body.lots"]
    no_price = ok(await create(client, buyer, agreement_body([provider.id], priceItems=[])), 201)
    response = await client.post(f"/orders/agreements/{no_price['id']}/activate", headers=admin(buyer))
    assert problem_fields(response, 422) == ["body.priceItems"]


async def test_a_draft_cannot_be_ended(client: Client, buyer: Org, provider: Org) -> None:
    draft = ok(await create(client, buyer, agreement_body([provider.id])), 201)
    response = await client.post(f"/orders/agreements/{draft['id']}/end", headers=admin(buyer))
    assert response.status_code == 409, response.text


async def test_agreements_are_listed_a_page_at_a_time(client: Client, buyer: Org, provider: Org) -> None:
    made = {ok(await create(client, buyer, agreement_body([provider.id])), 201)["id"] for _ in range(3)}
    first = ok(await client.get("/orders/agreements", params={"limit": 2}, headers=admin(buyer)))
    assert len(first["items"]) == 2
    second = ok(
        await client.get(
            "/orders/agreements", params={"limit": 2, "cursor": first["nextCursor"]}, headers=admin(buyer)
        )
    )
    assert "nextCursor" not in second
    assert {a["id"] for a in first["items"] + second["items"]} == made
    drafts = ok(await client.get("/orders/agreements", params={"status": "active"}, headers=admin(buyer)))
    assert drafts["items"] == []
