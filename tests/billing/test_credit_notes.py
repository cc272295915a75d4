"""Credit notes that correct: in whole (the sessions are billed again on a new invoice), in part
(chosen lines), by a quantity or by a price; never more than was invoiced, never a line twice,
and the same request retried makes one credit note.

Session events travel for real (SESSIONS → billing's consumer); the rest goes through the API.
Every document is checked: UBL against the OASIS XSD and the EN 16931 / Peppol rules, Finvoice
against Finance Finland's XSD.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from lxml import etree
from nats.aio.client import Client as NATS

from services.billing import MIGRATIONS, store
from shared.db.migrate import MigrationSource, migrate
from shared.db.pool import create_pool
from shared.db.provision import DatabaseLayout, drop_database, provision_database
from shared.db.tenant import tenant_transaction
from shared.testing.issuer import TestIssuer
from shared.testing.plugin import Stack
from tests.billing.einvoice import NS, assert_valid_finvoice, assert_valid_ubl
from tests.billing.support import Scene, deliver, make_scene, session_event

Client = AsyncTestClient[Litestar]
UTC = dt.UTC


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture
async def scene(billing_pool: asyncpg.Pool, issuer: TestIssuer) -> Scene:
    return await make_scene(billing_pool, issuer)


async def _invoice(client: Client, scene: Scene) -> dict[str, Any]:
    [draft] = ok(await client.post("/billing/invoice-runs", json={}, headers=scene.provider_admin()))
    issued: dict[str, Any] = ok(
        await client.post(f"/billing/invoices/{draft['id']}/issue", headers=scene.provider_admin())
    )
    return issued


async def _sessions(client: Client, scene: Scene, invoice_id: str) -> list[dict[str, Any]]:
    specification = ok(
        await client.get(f"/billing/invoices/{invoice_id}/specification", headers=scene.provider_admin())
    )
    sessions: list[dict[str, Any]] = specification["sessions"]
    return sessions


async def _credit(
    client: Client,
    scene: Scene,
    invoice_id: str,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    return await client.post(
        f"/billing/invoices/{invoice_id}/credit-note", json=body, headers=headers or scene.provider_admin()
    )


async def _documents(
    client: Client, scene: Scene, note_id: str, finvoice_xsd: etree.XMLSchema
) -> tuple[etree._Element, etree._Element]:
    ubl = await client.get(f"/billing/invoices/{note_id}/ubl", headers=scene.buyer_admin())
    assert ubl.status_code == 200, ubl.text
    finvoice = await client.get(f"/billing/invoices/{note_id}/finvoice", headers=scene.buyer_admin())
    assert finvoice.status_code == 200, finvoice.text
    return assert_valid_ubl(ubl.content), assert_valid_finvoice(finvoice.content, finvoice_xsd)


async def test_a_full_credit_returns_the_sessions_to_billable_and_the_next_run_bills_them_again(
    client: Client, nc: NATS, billing_pool: asyncpg.Pool, scene: Scene, finvoice_xsd: etree.XMLSchema
) -> None:
    day = dt.datetime(2025, 1, 13, 9, 0, tzinfo=UTC)
    await deliver(nc, billing_pool, [session_event(scene, "held", day), session_event(scene, "no_show", day)])
    invoice = await _invoice(client, scene)
    billed = {s["sessionId"] for s in await _sessions(client, scene, invoice["id"])}
    note = ok(await _credit(client, scene, invoice["id"]), 201)
    assert (note["kind"], note["creditedInvoiceId"], note["itemCount"]) == ("credit_note", invoice["id"], 2)
    assert note["grossCents"] == invoice["grossCents"]
    ubl, finvoice = await _documents(client, scene, note["id"], finvoice_xsd)
    assert (
        ubl.findtext("cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID", namespaces=NS)
        == (invoice["number"])
    )
    assert len(ubl.findall("cac:CreditNoteLine", NS)) == 2
    assert finvoice.findtext("InvoiceDetails/OriginalInvoiceNumber") == invoice["number"]
    assert {s["sessionId"] for s in await _sessions(client, scene, note["id"])} == billed

    # The wrong invoice is replaced: the next run bills the same sessions on a new invoice.
    again = await _invoice(client, scene)
    assert again["id"] != invoice["id"]
    assert int(again["number"]) == int(note["number"]) + 1
    assert (again["netCents"], again["itemCount"]) == (invoice["netCents"], 2)
    assert {s["sessionId"] for s in await _sessions(client, scene, again["id"])} == billed
    document = await client.get(f"/billing/invoices/{again['id']}/ubl", headers=scene.provider_admin())
    assert_valid_ubl(document.content)
    # Billed, credited, billed again: nothing more is left to bill.
    assert ok(await client.post("/billing/invoice-runs", json={}, headers=scene.provider_admin())) == []
    # The original and its credit note are unchanged.
    original = ok(await client.get(f"/billing/invoices/{invoice['id']}", headers=scene.provider_admin()))
    assert (original["status"], original["netCents"], original["version"]) == (
        "issued",
        invoice["netCents"],
        invoice["version"],
    )


async def test_a_partial_credit_of_one_line_and_a_full_credit_without_rebilling(
    client: Client, nc: NATS, billing_pool: asyncpg.Pool, scene: Scene, finvoice_xsd: etree.XMLSchema
) -> None:
    day = dt.datetime(2025, 2, 10, 9, 0, tzinfo=UTC)
    await deliver(
        nc,
        billing_pool,
        [session_event(scene, "held", day), session_event(scene, "held", day + dt.timedelta(days=1))],
    )
    invoice = await _invoice(client, scene)
    first, second = await _sessions(client, scene, invoice["id"])
    note = ok(
        await _credit(client, scene, invoice["id"], {"lines": [{"sessionId": first["sessionId"]}]}), 201
    )
    assert (note["itemCount"], note["netCents"]) == (1, first["netCents"])
    ubl, finvoice = await _documents(client, scene, note["id"], finvoice_xsd)
    assert len(ubl.findall("cac:CreditNoteLine", NS)) == 1
    assert len(finvoice.findall("InvoiceRow")) == 1
    assert [s["sessionId"] for s in await _sessions(client, scene, note["id"])] == [first["sessionId"]]
    # A second credit note of the same invoice credits the other line, and bills nothing again.
    other = ok(
        await _credit(
            client, scene, invoice["id"], {"lines": [{"sessionId": second["sessionId"]}], "rebill": False}
        ),
        201,
    )
    assert other["netCents"] == second["netCents"]
    rerun = ok(await client.post("/billing/invoice-runs", json={}, headers=scene.provider_admin()))
    assert [(d["itemCount"], d["netCents"]) for d in rerun] == [(1, first["netCents"])]


async def test_a_quantity_and_a_price_correction_credit_the_difference(
    client: Client, nc: NATS, billing_pool: asyncpg.Pool, scene: Scene, finvoice_xsd: etree.XMLSchema
) -> None:
    day = dt.datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
    await deliver(
        nc,
        billing_pool,
        [
            session_event(scene, "held", day, unit="per_hour", cents=12_000, duration=90),  # 1.5 HUR, 180 €
            session_event(scene, "held", day + dt.timedelta(days=1)),  # 1 C62 at 150 €
        ],
    )
    invoice = await _invoice(client, scene)
    hourly, per_session = await _sessions(client, scene, invoice["id"])
    assert (hourly["netCents"], per_session["netCents"]) == (18_000, 15_000)
    note = ok(
        await _credit(
            client,
            scene,
            invoice["id"],
            {
                "lines": [
                    {"sessionId": hourly["sessionId"], "quantity": "0.5"},
                    {"sessionId": per_session["sessionId"], "correctUnitPrice": "120.00"},
                ]
            },
        ),
        201,
    )
    assert (note["netCents"], note["itemCount"]) == (6_000 + 3_000, 2)
    ubl, finvoice = await _documents(client, scene, note["id"], finvoice_xsd)
    lines = [
        (
            line.findtext("cbc:CreditedQuantity", namespaces=NS),
            line.findtext("cac:Price/cbc:PriceAmount", namespaces=NS),
            line.findtext("cbc:LineExtensionAmount", namespaces=NS),
        )
        for line in ubl.iterfind("cac:CreditNoteLine", NS)
    ]
    assert lines == [("0.5", "120", "60.00"), ("1", "30", "30.00")]
    assert finvoice.findtext("InvoiceDetails/InvoiceTotalVatExcludedAmount") == "-90,00"
    # Corrections stand on their own: nothing returns to billable.
    assert ok(await client.post("/billing/invoice-runs", json={}, headers=scene.provider_admin())) == []
    # What is left of a partly credited line is not credited again.
    response = await _credit(client, scene, invoice["id"], {"lines": [{"sessionId": hourly["sessionId"]}]})
    assert response.status_code == 409, response.text


async def test_crediting_more_than_was_invoiced_is_refused_naming_the_field(
    client: Client, nc: NATS, billing_pool: asyncpg.Pool, scene: Scene
) -> None:
    day = dt.datetime(2025, 4, 14, 9, 0, tzinfo=UTC)
    await deliver(nc, billing_pool, [session_event(scene, "held", day, unit="per_hour", duration=90)])
    invoice = await _invoice(client, scene)
    [line] = await _sessions(client, scene, invoice["id"])
    session = line["sessionId"]
    for body, field in (
        ({"lines": [{"sessionId": session, "quantity": "2"}]}, "body.lines[0].quantity"),
        ({"lines": [{"sessionId": session, "correctUnitPrice": "250"}]}, "body.lines[0].correctUnitPrice"),
        ({"lines": [{"sessionId": session, "quantity": "0"}]}, "body.lines[0].quantity"),
        ({"lines": [{"sessionId": str(uuid.uuid4())}]}, "body.lines[0].sessionId"),
        ({"lines": [{"sessionId": session}, {"sessionId": session}]}, "body.lines[1].sessionId"),
        ({"lines": []}, "body.lines"),
    ):
        response = await _credit(client, scene, invoice["id"], body)
        assert response.status_code == 422, response.text
        assert [e["field"] for e in response.json()["errors"]] == [field], response.text
    response = await _credit(
        client, scene, invoice["id"], {"lines": [{"sessionId": session, "quantity": "-1"}]}
    )
    assert response.status_code == 400, response.text  # not a quantity at all: the schema says no
    # Nothing was credited by the refused requests.
    listed = ok(await client.get("/billing/invoices", headers=scene.provider_admin()))
    assert [i["kind"] for i in listed["items"]] == ["invoice"]


async def test_the_same_line_is_credited_once_and_a_retried_credit_makes_one_credit_note(
    client: Client, nc: NATS, billing_pool: asyncpg.Pool, scene: Scene
) -> None:
    day = dt.datetime(2025, 5, 12, 9, 0, tzinfo=UTC)
    await deliver(
        nc,
        billing_pool,
        [session_event(scene, "held", day), session_event(scene, "held", day + dt.timedelta(days=2))],
    )
    invoice = await _invoice(client, scene)
    first, second = await _sessions(client, scene, invoice["id"])
    body = {"lines": [{"sessionId": first["sessionId"], "correctUnitPrice": "100"}]}
    # The same person retrying (a key is the sender's own: a colleague's same key is another request).
    admin = {**scene.as_(scene.provider, "provider_admin", person=uuid.uuid4())}
    key = {**admin, "Idempotency-Key": f"credit-{uuid.uuid4()}"}
    # Sent twice at once (a client's timeout and retry), then once more later: one credit note.
    at_once = await asyncio.gather(*(_credit(client, scene, invoice["id"], body, key) for _ in range(2)))
    note, twin = (ok(response, 201) for response in at_once)
    retried = ok(await _credit(client, scene, invoice["id"], body, key), 201)
    assert (twin["id"], retried["id"], retried["number"]) == (note["id"], note["id"], note["number"])
    response = await _credit(
        client, scene, invoice["id"], {"lines": [{"sessionId": second["sessionId"]}]}, key
    )
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["header.Idempotency-Key"]

    # Without the key, the same line again is a second credit: refused, naming the line.
    response = await _credit(client, scene, invoice["id"], body)
    assert response.status_code == 409, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["body.lines[0].sessionId"]
    # Crediting "the rest" takes only the line not yet credited; then nothing is left.
    rest = ok(await _credit(client, scene, invoice["id"]), 201)
    assert (rest["itemCount"], rest["netCents"]) == (1, second["netCents"])
    assert (await _credit(client, scene, invoice["id"])).status_code == 409
    listed = ok(await client.get("/billing/invoices", headers=scene.provider_admin()))
    assert sorted(i["kind"] for i in listed["items"]) == ["credit_note", "credit_note", "invoice"]
    # A credit note itself is not credited.
    assert (await _credit(client, scene, note["id"])).status_code == 409


async def test_credit_notes_issued_before_partial_credits_keep_their_lines(
    stack: Stack, tmp_path: Path
) -> None:
    """Migration 0005 gives every earlier credit note (which credited its invoice whole) its lines."""
    layout = DatabaseLayout(admin_url=stack.pg_admin_url, service="billingupgrade", prefix=stack.db_prefix)
    await provision_database(layout)
    try:
        *kit, own = MIGRATIONS
        before = tmp_path / "billing"
        before.mkdir()
        for file in sorted(own.directory.glob("*.sql")):
            if file.name < "0005":
                (before / file.name).write_bytes(file.read_bytes())
        await migrate(layout.owner_url, [*kit, MigrationSource("billing", before)])
        seller, buyer, invoice, note, item = (uuid.uuid4() for _ in range(5))
        pool = await create_pool(layout.app_url, max_size=1)
        try:
            async with tenant_transaction(pool, seller) as conn:
                for invoice_id, kind, credited, sequence in (
                    (invoice, "invoice", None, 1),
                    (note, "credit_note", invoice, 2),
                ):
                    await conn.execute(
                        """
                        insert into invoices (tenant_id, buyer_tenant_id, invoice_id, kind, status,
                          agreement_id, cost_centre_id, billing_month, sequence, number, issue_date,
                          due_date, credited_invoice_id)
                        values ($1, $2, $3, $4, 'issued', $5, $6, date '2025-01-01', $7::bigint,
                          $7::bigint::text, current_date, current_date, $8)
                        """,
                        seller,
                        buyer,
                        invoice_id,
                        kind,
                        uuid.uuid4(),
                        uuid.uuid4(),
                        sequence,
                        credited,
                    )
                await conn.execute(
                    """
                    insert into billable_items (tenant_id, buyer_tenant_id, item_id, session_id, order_id,
                      agreement_id, cost_centre_id, kind, form, mode, starts_at, service_date, billing_month,
                      duration_minutes, unit, quantity, unit_code, base_quantity, list_price_cents,
                      charge_percent, unit_price, net_cents, vat_rate, participant_count, attended_count,
                      invoice_id)
                    values ($1, $2, $3, $4, $5, $6, $7, 'held', 'group', 'remote', now(), current_date,
                      date '2025-01-01', 90, 'per_session', 1, 'C62', 1, 15000, 100, 150, 15000, 25.5, 3, 3,
                      $8)
                    """,
                    seller,
                    buyer,
                    item,
                    uuid.uuid4(),
                    uuid.uuid4(),
                    uuid.uuid4(),
                    uuid.uuid4(),
                    invoice,
                )
            await migrate(layout.owner_url, MIGRATIONS)
            async with tenant_transaction(pool, seller) as conn:
                lines = [line async for line in store.document_lines(conn, note, "4100", credit_note=True)]
                force = await conn.fetchval(
                    "select bool_and(relforcerowsecurity) from pg_class"
                    " where relname in ('invoices', 'billable_items', 'credit_note_lines')"
                )
            assert [(line.net_cents, line.quantity) for line in lines] == [(15_000, Decimal(1))]
            assert force is True
        finally:
            await pool.close()
    finally:
        await drop_database(layout)
