"""Text XML 1.0 cannot carry never breaks a document mid-stream.

A buyer named ``Attacker\\u0008Buyer`` at ``Katu\\u000b2`` once made its seller's issued invoice
answer a 200 whose body broke off (the writer failed after the status line). Now:

- the read models store such text with U+FFFD in place of each illegal character (the event is
  applied, not dead-lettered), so invoices issued from them are written whole;
- a party row stored before that (legacy) stops issuing with a 422 naming the field;
- an invoice issued before that with such text answers its documents with a 422 naming the
  field, before the first byte — and its credit note (U+FFFD in place) can always be written.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from lxml import etree
from nats.aio.client import Client as NATS

from services.billing.consumers import organisations_subscription
from services.billing.domain.documents import DocumentHeader, header_problems
from shared.contracts.organisations import EInvoiceAddress, PostalAddress, TenantUpdated
from shared.db.provision import DatabaseLayout
from shared.db.tenant import tenant_transaction
from shared.events import STREAMS, ensure_stream, envelope_for
from shared.testing.issuer import TestIssuer
from tests.billing.einvoice import NS, assert_valid_finvoice, assert_valid_ubl
from tests.billing.support import Scene, deliver, make_scene, session_event
from tests.factories import business_id, ovt, vat_id

Client = AsyncTestClient[Litestar]
UTC = dt.UTC
NAME, STREET = "Attacker\u0008Buyer", "Katu\u000b2"


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture
async def scene(billing_pool: asyncpg.Pool, issuer: TestIssuer) -> Scene:
    return await make_scene(billing_pool, issuer)


async def _draft(client: Client, nc: NATS, pool: asyncpg.Pool, scene: Scene) -> str:
    await deliver(nc, pool, [session_event(scene, "held", dt.datetime(2025, 9, 8, 9, 0, tzinfo=UTC))])
    [draft] = ok(await client.post("/billing/invoice-runs", json={}, headers=scene.provider_admin()))
    draft_id: str = draft["id"]
    return draft_id


async def test_illegal_text_heard_from_organisations_is_stored_with_u_fffd_and_documents_are_whole(
    client: Client, nc: NATS, billing_pool: asyncpg.Pool, scene: Scene, finvoice_xsd: etree.XMLSchema
) -> None:
    await ensure_stream(nc.jetstream(), STREAMS["organisations"])
    y = business_id()
    updated = TenantUpdated(
        tenant_id=scene.buyer,
        name=NAME,
        kind="buyer",
        business_id=y,
        vat_id=vat_id(y),
        postal_address=PostalAddress(street=STREET, postcode="33100", city="Tampere", country="FI"),
        e_invoice_address=EInvoiceAddress(scheme="ovt", address=ovt(y), operator_id="003723327487"),
    )
    envelope = envelope_for(
        updated, source="organisations", subject=scene.buyer, version=2, tenant_ids=[scene.buyer]
    )
    consumer = await deliver(nc, billing_pool, [envelope], subscription=organisations_subscription())
    assert consumer.dead_lettered == 0
    async with tenant_transaction(billing_pool, scene.buyer) as conn:
        stored = await conn.fetchrow(
            "select name, street from billing_parties where tenant_id = $1", scene.buyer
        )
    assert (stored["name"], stored["street"]) == ("Attacker\ufffdBuyer", "Katu\ufffd2")

    draft = await _draft(client, nc, billing_pool, scene)
    ok(await client.post(f"/billing/invoices/{draft}/issue", headers=scene.provider_admin()))
    ubl = await client.get(f"/billing/invoices/{draft}/ubl", headers=scene.provider_admin())
    assert ubl.status_code == 200, ubl.text
    root = assert_valid_ubl(ubl.content)
    party = "cac:AccountingCustomerParty/cac:Party"
    assert root.findtext(f"{party}/cac:PartyName/cbc:Name", namespaces=NS) == "Attacker\ufffdBuyer"
    assert root.findtext(f"{party}/cac:PostalAddress/cbc:StreetName", namespaces=NS) == "Katu\ufffd2"
    finvoice = await client.get(f"/billing/invoices/{draft}/finvoice", headers=scene.buyer_admin())
    assert finvoice.status_code == 200, finvoice.text
    assert assert_valid_finvoice(finvoice.content, finvoice_xsd).findtext(
        "BuyerPartyDetails/BuyerOrganisationName"
    ) == ("Attacker\ufffdBuyer")


async def test_a_legacy_party_row_with_illegal_text_stops_issuing_naming_the_field(
    client: Client, nc: NATS, billing_pool: asyncpg.Pool, scene: Scene
) -> None:
    draft = await _draft(client, nc, billing_pool, scene)
    async with tenant_transaction(billing_pool, scene.buyer) as conn:  # stored before the fix
        await conn.execute(
            "update billing_parties set name = $2, street = $3 where tenant_id = $1",
            scene.buyer,
            NAME,
            STREET,
        )
    response = await client.post(f"/billing/invoices/{draft}/issue", headers=scene.provider_admin())
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == ["buyer.name", "buyer.postalAddress.street"]
    still = ok(await client.get(f"/billing/invoices/{draft}", headers=scene.provider_admin()))
    assert still["status"] == "draft"


def _superuser_url(layout: DatabaseLayout) -> str:
    parts = urlsplit(layout.admin_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{layout.database}", "", ""))


async def test_a_legacy_issued_invoice_with_illegal_text_answers_422_before_any_byte_and_is_credited(
    client: Client,
    nc: NATS,
    billing_pool: asyncpg.Pool,
    scene: Scene,
    layout: DatabaseLayout,
    finvoice_xsd: etree.XMLSchema,
) -> None:
    draft = await _draft(client, nc, billing_pool, scene)
    invoice = ok(await client.post(f"/billing/invoices/{draft}/issue", headers=scene.provider_admin()))
    # An invoice issued before the fix: its snapshotted header holds the buyer's illegal text.
    # (Issued invoices are immutable, so only a superuser with triggers off can make one now.)
    admin = await asyncpg.connect(_superuser_url(layout))
    try:
        async with admin.transaction():
            await admin.execute("set local session_replication_role = replica")
            header = await admin.fetchval(
                "select header::text from invoices where invoice_id = $1", uuid.UUID(draft)
            )
            facts = msgspec.json.decode(header)
            facts["buyer"]["name"], facts["buyer"]["street"] = NAME, STREET
            await admin.execute(
                "update invoices set header = $2::jsonb where invoice_id = $1",
                uuid.UUID(draft),
                msgspec.json.encode(facts).decode(),
            )
    finally:
        await admin.close()

    for document in ("ubl", "finvoice"):
        for headers in (scene.provider_admin(), scene.buyer_admin()):
            response = await client.get(f"/billing/invoices/{draft}/{document}", headers=headers)
            assert response.status_code == 422, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            fields = [e["field"] for e in response.json()["errors"]]
            assert fields == ["buyer.name", "buyer.postalAddress.street"], fields
            assert "U+0008" in response.json()["errors"][0]["message"]

    # The way out: credit it (its credit note carries U+FFFD there) and bill again.
    note = ok(
        await client.post(f"/billing/invoices/{draft}/credit-note", headers=scene.provider_admin()), 201
    )
    ubl = await client.get(f"/billing/invoices/{note['id']}/ubl", headers=scene.buyer_admin())
    assert ubl.status_code == 200, ubl.text
    root = assert_valid_ubl(ubl.content)
    assert (
        root.findtext("cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID", namespaces=NS)
        == (invoice["number"])
    )
    assert (
        root.findtext("cac:AccountingCustomerParty/cac:Party/cac:PartyName/cbc:Name", namespaces=NS)
        == "Attacker\ufffdBuyer"
    )
    finvoice = await client.get(f"/billing/invoices/{note['id']}/finvoice", headers=scene.buyer_admin())
    assert finvoice.status_code == 200, finvoice.text
    assert_valid_finvoice(finvoice.content, finvoice_xsd)


def test_every_header_text_is_checked() -> None:
    """The pre-pass covers each text field of the header, so nothing reaches the writer unchecked."""
    text_fields = {
        name
        for name, kind in DocumentHeader.__annotations__.items()
        if "str" in str(kind) and name not in {"kind"}
    }
    base: dict[str, Any] = {
        "kind": "invoice",
        "invoice_id": uuid.uuid4(),
        "number": "1",
        "issue_date": dt.date(2025, 1, 1),
        "due_date": dt.date(2025, 1, 22),
        "payment_terms_days": 21,
        "buyer_reference": "4100",
        "accounting_cost": "4100",
        "period_start": dt.date(2024, 12, 1),
        "period_end": dt.date(2024, 12, 31),
        "seller": {"name": "S Oy", "business_id": "2077474-0"},
        "buyer": {"name": "B", "business_id": "3221326-2"},
        "payment_reference": "1000013",
        "rf_reference": "RF121000013",
        "breakdown": [],
        "net_cents": 0,
        "vat_cents": 0,
        "gross_cents": 0,
    }
    for name in sorted(text_fields - {"seller", "buyer"}):
        header = msgspec.convert({**base, name: "x\u0001y"}, DocumentHeader)
        assert len(header_problems(header)) == 1, name
    for role in ("seller", "buyer"):
        for field in (
            "name",
            "business_id",
            "vat_id",
            "street",
            "postcode",
            "city",
            "country",
            "iban",
            "bic",
        ):
            party = {**base[role], field: "x\u001fy"}
            header = msgspec.convert({**base, role: party}, DocumentHeader)
            assert [p[0].split(".")[0] for p in header_problems(header)] == [role], (role, field)


async def test_a_finvoice_the_schema_would_refuse_is_a_422_naming_the_field_and_the_ubl_is_whole(
    client: Client, nc: NATS, billing_pool: asyncpg.Pool, scene: Scene
) -> None:
    draft = await _draft(client, nc, billing_pool, scene)
    async with tenant_transaction(billing_pool, scene.buyer) as conn:  # no e-invoice operator known
        await conn.execute(
            "update billing_parties set e_invoice_operator = null where tenant_id = $1", scene.buyer
        )
    ok(await client.post(f"/billing/invoices/{draft}/issue", headers=scene.provider_admin()))
    response = await client.get(f"/billing/invoices/{draft}/finvoice", headers=scene.buyer_admin())
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == ["buyer.eInvoiceAddress.operatorId"]
    ubl = await client.get(f"/billing/invoices/{draft}/ubl", headers=scene.buyer_admin())
    assert ubl.status_code == 200, ubl.text
    assert_valid_ubl(ubl.content)
