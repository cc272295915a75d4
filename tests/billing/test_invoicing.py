"""From session events to issued e-invoices: billing rules, the run, numbering, documents and access.

Session events travel for real (published onto SESSIONS, heard by billing's consumer); everything
after that goes through the billing API as the provider admin, the buyer admin and approvers.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from lxml import etree
from nats.aio.client import Client as NATS

from services.billing import handlers
from shared.auth.principal import Principal
from shared.contracts import Event, events_of
from shared.db.tenant import tenant_transaction
from shared.errors import Conflict
from shared.events.consumer import on
from shared.testing.issuer import TestIssuer
from tests.billing.einvoice import NS, assert_valid_finvoice, assert_valid_ubl, business_rule_violations
from tests.billing.support import (
    Client,
    Scene,
    add_order,
    deliver,
    issue,
    items_of,
    make_scene,
    ok,
    run,
    session_event,
    ubl,
)
from tests.clients import ReadBeforeWriteClient

UTC = dt.UTC


@pytest.fixture
async def scene(billing_pool: asyncpg.Pool, issuer: TestIssuer) -> Scene:
    return await make_scene(billing_pool, issuer)


async def test_held_no_show_and_late_cancellations_are_billed_and_the_others_never(
    nc: NATS, billing_pool: asyncpg.Pool, scene: Scene
) -> None:
    day = dt.datetime(2024, 10, 7, 9, 0, tzinfo=UTC)
    envelopes = [
        session_event(scene, "held", day),
        session_event(scene, "no_show", day + dt.timedelta(days=1)),
        session_event(scene, "cancelled", day + dt.timedelta(days=2), category="late"),
        session_event(scene, "cancelled", day + dt.timedelta(days=3), category="late", charge_exempt=True),
        session_event(scene, "cancelled", day + dt.timedelta(days=4), category="on_time"),
        session_event(scene, "cancelled", day + dt.timedelta(days=5), category="by_supervisor"),
    ]
    consumer = await deliver(nc, billing_pool, envelopes)
    assert consumer.dead_lettered == 0
    items = await items_of(billing_pool, scene)
    assert [(r["kind"], r["charge_percent"], r["net_cents"]) for r in items] == [
        ("held", 100, 15_000),
        ("no_show", 100, 15_000),
        ("late_cancellation", 50, 7_500),
    ]
    held = items[0]
    assert (held["participant_count"], held["attended_count"]) == (3, 2)
    assert (held["cost_centre_id"], held["agreement_id"], held["order_id"]) == (
        scene.cost_centre,
        scene.agreement,
        scene.orders[0],
    )
    assert held["vat_rate"] == Decimal("25.5")


async def test_a_session_event_delivered_twice_bills_once(
    nc: NATS, billing_pool: asyncpg.Pool, scene: Scene
) -> None:
    session = uuid.uuid4()
    first = session_event(scene, "held", dt.datetime(2024, 10, 8, 9, 0, tzinfo=UTC), session=session)
    consumer = await deliver(nc, billing_pool, [first], copies=2)
    assert consumer.duplicates == 1  # the second copy found its inbox row
    # Even a second event about the same session (another envelope) cannot bill it again.
    again = session_event(scene, "no_show", dt.datetime(2024, 10, 8, 9, 0, tzinfo=UTC), session=session)
    await deliver(nc, billing_pool, [again])
    items = await items_of(billing_pool, scene)
    assert [(r["session_id"], r["kind"]) for r in items] == [(session, "held")]


async def test_per_hour_prices_bill_the_duration_in_hours(
    client: Client, nc: NATS, billing_pool: asyncpg.Pool, scene: Scene
) -> None:
    start = dt.datetime(2024, 10, 9, 9, 0, tzinfo=UTC)
    await deliver(
        nc,
        billing_pool,
        [
            session_event(scene, "held", start, unit="per_hour", cents=12_000, duration=90),
            session_event(
                scene, "held", start + dt.timedelta(days=1), unit="per_hour", cents=12_000, duration=50
            ),
        ],
    )
    items = await items_of(billing_pool, scene)
    assert [(r["quantity"], r["unit_code"], r["net_cents"]) for r in items] == [
        (Decimal("1.5"), "HUR", 18_000),
        (Decimal(50), "MIN", 10_000),
    ]
    [draft] = await run(client, scene)
    await issue(client, scene, draft["id"])
    root = assert_valid_ubl(await ubl(client, scene.provider_admin(), draft["id"]))
    quantities = [
        (q.text, q.get("unitCode"), b.text)
        for q, b in zip(
            root.iterfind("cac:InvoiceLine/cbc:InvoicedQuantity", NS),
            root.iterfind("cac:InvoiceLine/cac:Price/cbc:BaseQuantity", NS),
            strict=True,
        )
    ]
    assert quantities == [("1.5", "HUR", "1"), ("50", "MIN", "60")]


async def test_the_vat_rate_and_month_follow_the_session_date_in_helsinki(
    client: Client, nc: NATS, billing_pool: asyncpg.Pool, scene: Scene
) -> None:
    await deliver(
        nc,
        billing_pool,
        [
            session_event(scene, "held", dt.datetime(2024, 8, 31, 12, 0, tzinfo=UTC)),  # 31 Aug in Helsinki
            session_event(scene, "held", dt.datetime(2024, 8, 31, 23, 30, tzinfo=UTC)),  # 1 Sep 02:30
            session_event(scene, "held", dt.datetime(2024, 9, 1, 9, 0, tzinfo=UTC)),
        ],
    )
    items = await items_of(billing_pool, scene)
    assert [(r["service_date"], r["vat_rate"], r["billing_month"]) for r in items] == [
        (dt.date(2024, 8, 31), Decimal(24), dt.date(2024, 8, 1)),
        (dt.date(2024, 9, 1), Decimal("25.5"), dt.date(2024, 9, 1)),
        (dt.date(2024, 9, 1), Decimal("25.5"), dt.date(2024, 9, 1)),
    ]
    drafts = await run(client, scene)
    by_month = {d["billingMonth"]: d for d in drafts}
    assert sorted(by_month) == ["2024-08", "2024-09"]
    august, september = by_month["2024-08"], by_month["2024-09"]
    assert (august["netCents"], august["vatCents"], august["itemCount"]) == (15_000, 3_600, 1)
    assert (september["netCents"], september["vatCents"], september["itemCount"]) == (30_000, 7_650, 2)
    assert september["vatBreakdown"] == [{"rate": "25.50", "taxableCents": 30_000, "taxCents": 7_650}]
    for draft in drafts:
        issued = await issue(client, scene, draft["id"])
        document = await ubl(client, scene.provider_admin(), issued["id"])
        root = assert_valid_ubl(document)
        rates = {e.text for e in root.iterfind(".//cac:ClassifiedTaxCategory/cbc:Percent", NS)}
        assert rates == ({"24.00"} if draft["billingMonth"] == "2024-08" else {"25.50"})


async def test_an_issued_invoice_carries_references_terms_and_no_participant(
    client: Client, nc: NATS, billing_pool: asyncpg.Pool, scene: Scene, finvoice_xsd: etree.XMLSchema
) -> None:
    individual = session_event(scene, "held", dt.datetime(2024, 10, 14, 9, 0, tzinfo=UTC), form="individual")
    late = session_event(scene, "cancelled", dt.datetime(2024, 10, 21, 9, 0, tzinfo=UTC), category="late")
    await deliver(nc, billing_pool, [individual, late])
    [draft] = await run(client, scene, "2024-10-01")
    assert (draft["status"], draft["number"], draft["itemCount"]) == ("draft", None, 2)

    issued = await issue(client, scene, draft["id"])
    assert issued["status"] == "issued"
    issue_date = dt.date.fromisoformat(issued["issueDate"])
    assert dt.date.fromisoformat(issued["dueDate"]) == issue_date + dt.timedelta(days=14)
    assert issued["paymentReference"].isdigit()
    assert issued["rfReference"].startswith("RF")
    assert (issued["netCents"], issued["vatCents"], issued["grossCents"]) == (22_500, 5_738, 28_238)

    document = await ubl(client, scene.provider_admin(), draft["id"])
    root = assert_valid_ubl(document)
    assert root.findtext("cbc:BuyerReference", namespaces=NS) == scene.cost_centre_code
    assert root.findtext("cbc:AccountingCost", namespaces=NS) == scene.cost_centre_code
    assert root.findtext("cac:ContractDocumentReference/cbc:ID", namespaces=NS) == scene.agreement_number
    assert root.findtext("cac:OrderReference/cbc:ID", namespaces=NS) == str(scene.orders[0])
    assert root.findtext("cbc:DueDate", namespaces=NS) == issued["dueDate"]
    assert root.findtext("cac:PaymentMeans/cbc:PaymentID", namespaces=NS) == issued["rfReference"]
    assert root.find("cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID", NS) is not None
    for party in ("AccountingSupplierParty", "AccountingCustomerParty"):
        endpoint = root.find(f"cac:{party}/cac:Party/cbc:EndpointID", NS)
        assert endpoint is not None
        assert endpoint.get("schemeID") == "0216"
        assert endpoint.text
        assert endpoint.text.startswith("0037")
    rows = [
        line.findtext("cac:Item/cbc:Description", namespaces=NS)
        for line in root.iterfind("cac:InvoiceLine", NS)
    ]
    assert rows == [
        "Yksilötyönohjaus 90 min 2024-10-14, etänä",
        "Ryhmätyönohjaus 90 min 2024-10-21, etänä; myöhäinen peruutus – veloitus 50 % sopimuksen mukaan",
    ]
    text = document.decode()
    for participant in scene.participants:
        assert str(participant) not in text

    response = await client.get(f"/billing/invoices/{draft['id']}/finvoice", headers=scene.approver_headers())
    assert response.status_code == 200, response.text
    finvoice = assert_valid_finvoice(response.content, finvoice_xsd)
    assert finvoice.findtext("InvoiceDetails/InvoiceNumber") == issued["number"]
    assert finvoice.findtext("InvoiceDetails/AccountDimensionText") == scene.cost_centre_code
    assert finvoice.findtext("InvoiceDetails/AgreementIdentifier") == scene.agreement_number
    assert {r.findtext("RowAccountDimensionText") for r in finvoice.iterfind("InvoiceRow")} == {"4100"}
    reference = finvoice.findtext("EpiDetails/EpiPaymentInstructionDetails/EpiRemittanceInfoIdentifier")
    assert reference == issued["paymentReference"]
    for participant in scene.participants:
        assert str(participant) not in response.text


async def test_without_payment_terms_on_the_order_the_invoice_is_due_in_21_days(
    client: Client, nc: NATS, billing_pool: asyncpg.Pool, issuer: TestIssuer
) -> None:
    scene = await make_scene(billing_pool, issuer, payment_terms_days=None)
    await deliver(
        nc, billing_pool, [session_event(scene, "held", dt.datetime(2024, 11, 4, 9, 0, tzinfo=UTC))]
    )
    [draft] = await run(client, scene)
    issued = await issue(client, scene, draft["id"])
    due = dt.date.fromisoformat(issued["dueDate"]) - dt.date.fromisoformat(issued["issueDate"])
    assert due == dt.timedelta(days=21)


async def test_invoices_group_per_cost_centre_and_month_or_per_order_when_the_buyer_requires_it(
    client: Client, nc: NATS, billing_pool: asyncpg.Pool, scene: Scene
) -> None:
    second = await add_order(billing_pool, scene)
    day = dt.datetime(2024, 11, 5, 9, 0, tzinfo=UTC)
    await deliver(
        nc, billing_pool, [session_event(scene, "held", day), session_event(scene, "held", day, order=second)]
    )
    assert [d["itemCount"] for d in await run(client, scene, "2024-11-01")] == [2]

    ok(
        await client.put(
            "/billing/invoicing-requirements", json={"perOrder": True}, headers=scene.buyer_admin()
        )
    )
    december = dt.datetime(2024, 12, 2, 9, 0, tzinfo=UTC)
    await deliver(
        nc,
        billing_pool,
        [session_event(scene, "held", december), session_event(scene, "held", december, order=second)],
    )
    drafts = await run(client, scene, "2024-12-01")
    assert sorted(d["orderId"] for d in drafts) == sorted(str(o) for o in scene.orders)
    assert [d["itemCount"] for d in drafts] == [1, 1]


async def test_numbers_are_gapless_per_provider_under_concurrent_runs_and_issues(
    nc: NATS, billing_pool: asyncpg.Pool, scene: Scene
) -> None:
    months = [dt.datetime(2025, m, 3, 9, 0, tzinfo=UTC) for m in range(1, 9)]
    await deliver(nc, billing_pool, [session_event(scene, "held", start) for start in months])
    admin = Principal(
        subject=str(uuid.uuid4()), tenant_id=scene.provider, roles=frozenset({"provider_admin"})
    )
    first, second = await asyncio.gather(
        handlers.run_invoices(billing_pool, admin, None), handlers.run_invoices(billing_pool, admin, None)
    )
    drafts = {r.invoice_id for r in first} | {r.invoice_id for r in second}
    assert len(drafts) == 8  # two concurrent runs made one draft per month, not two

    async def issue_or_conflict(invoice_id: uuid.UUID) -> str | None:
        try:
            row = await handlers.issue_invoice(billing_pool, admin, invoice_id, expected_version=None)
        except Conflict:
            return None
        return row.number

    # Every draft issued twice at once: each is numbered once, and no number is skipped.
    results = await asyncio.gather(*(issue_or_conflict(i) for i in drafts for _ in range(2)))
    numbers = sorted(int(n) for n in results if n is not None)
    assert numbers == list(range(1, 9))


async def test_an_issued_invoice_and_its_items_cannot_be_changed(
    client: Client, nc: NATS, billing_pool: asyncpg.Pool, scene: Scene
) -> None:
    await deliver(nc, billing_pool, [session_event(scene, "held", dt.datetime(2025, 2, 3, 9, 0, tzinfo=UTC))])
    [draft] = await run(client, scene)
    await issue(client, scene, draft["id"])
    invoice_id = uuid.UUID(draft["id"])
    async with tenant_transaction(billing_pool, scene.provider) as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="immutable"):
            async with conn.transaction():
                await conn.execute("update invoices set net_cents = 1 where invoice_id = $1", invoice_id)
        with pytest.raises(
            asyncpg.InsufficientPrivilegeError, match="permission denied for table billable_items"
        ):
            async with conn.transaction():
                await conn.execute(
                    "update billable_items set net_cents = 1 where invoice_id = $1", invoice_id
                )
        # Nobody deletes an item or an invoice: the app role holds no DELETE privilege (nor a policy).
        for table in ("billable_items", "invoices"):
            with pytest.raises(
                asyncpg.InsufficientPrivilegeError, match=f"permission denied for table {table}"
            ):
                async with conn.transaction():
                    await conn.execute(f"delete from {table} where invoice_id = $1", invoice_id)
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="invoiced at most once"):
            async with conn.transaction():
                await conn.execute(
                    "update billable_items set invoice_id = null where invoice_id = $1", invoice_id
                )
    response = await client.post(f"/billing/invoices/{draft['id']}/issue", headers=scene.provider_admin())
    assert response.status_code == 409


async def test_a_credit_note_credits_an_issued_invoice_once_and_both_events_leave_through_the_outbox(
    client: Client,
    nc: NATS,
    billing_pool: asyncpg.Pool,
    scene: Scene,
    layout: Any,
    finvoice_xsd: etree.XMLSchema,
) -> None:
    from shared.contracts.billing import CreditNoteIssued, InvoiceIssued
    from shared.events import ConsumerSpec, EventConsumer, OutboxRelay
    from shared.events.envelope import Envelope

    await deliver(
        nc, billing_pool, [session_event(scene, "no_show", dt.datetime(2025, 3, 3, 9, 0, tzinfo=UTC))]
    )
    [draft] = await run(client, scene)
    response = await client.post(
        f"/billing/invoices/{draft['id']}/credit-note", headers=scene.provider_admin()
    )
    assert response.status_code == 409  # a draft is not credited; it is simply not issued
    invoice = await issue(client, scene, draft["id"])
    note = ok(
        await client.post(f"/billing/invoices/{draft['id']}/credit-note", headers=scene.provider_admin()), 201
    )
    assert (note["kind"], note["creditedInvoiceId"]) == ("credit_note", draft["id"])
    assert int(note["number"]) == int(invoice["number"]) + 1
    again = await client.post(f"/billing/invoices/{draft['id']}/credit-note", headers=scene.provider_admin())
    assert again.status_code == 409

    document = await ubl(client, scene.buyer_admin(), note["id"])
    root = assert_valid_ubl(document)
    assert root.tag.endswith("}CreditNote")
    assert (
        root.findtext("cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID", namespaces=NS)
        == invoice["number"]
    )
    assert root.findtext("cac:LegalMonetaryTotal/cbc:PayableAmount", namespaces=NS) == "188.25"
    finvoice = (
        await client.get(f"/billing/invoices/{note['id']}/finvoice", headers=scene.buyer_admin())
    ).content
    credited = assert_valid_finvoice(finvoice, finvoice_xsd)
    assert credited.findtext("InvoiceDetails/InvoiceTypeCode") == "INV02"
    assert credited.findtext("InvoiceDetails/OriginalInvoiceNumber") == invoice["number"]
    assert credited.findtext("InvoiceDetails/InvoiceTotalVatIncludedAmount") == "-188,25"

    heard: list[Envelope] = []
    spec = ConsumerSpec(
        consumer=f"billingtest{uuid.uuid4().hex[:8]}",
        producer="billing",
        filter_subjects=("billing.>",),
        ack_wait_seconds=5,
    )

    async def record(conn: asyncpg.Connection, envelope: Envelope, data: Event) -> None:
        if scene.provider in envelope.tenant_ids:
            heard.append(envelope)

    relay = OutboxRelay(service="billing", dsn=layout.relay_url, nats=nc, poll_interval=0.1)
    consumer = EventConsumer(
        spec=spec,
        pool=billing_pool,
        nats=nc,
        handlers=[on(cls, record) for cls in events_of("billing")],
        fetch_timeout=0.2,
    )
    tasks = [asyncio.create_task(relay.run()), asyncio.create_task(consumer.run())]
    try:
        async with asyncio.timeout(20):
            while len(heard) < 2:
                await asyncio.sleep(0.05)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await nc.jetstream().delete_consumer(spec.stream, spec.durable)
    issued_event = heard[0].event_as(InvoiceIssued)
    credit_event = heard[1].event_as(CreditNoteIssued)
    assert heard[0].tenant_ids == (scene.provider, scene.buyer)
    assert (issued_event.number, issued_event.gross_cents, issued_event.billing_month) == (
        invoice["number"],
        18_825,
        "2025-03",
    )
    assert (credit_event.credited_invoice_number, credit_event.gross_cents) == (invoice["number"], -18_825)
    assert issued_event.order_ids == [scene.orders[0]]


async def test_who_sees_which_invoice(
    client: Client, nc: NATS, billing_pool: asyncpg.Pool, scene: Scene, issuer: TestIssuer
) -> None:
    await deliver(nc, billing_pool, [session_event(scene, "held", dt.datetime(2025, 4, 7, 9, 0, tzinfo=UTC))])
    [draft] = await run(client, scene)
    path = f"/billing/invoices/{draft['id']}"
    # A draft is the provider's own until issued.
    assert (await client.get(path, headers=scene.buyer_admin())).status_code == 404
    await issue(client, scene, draft["id"])

    for headers in (scene.provider_admin(), scene.buyer_admin(), scene.approver_headers()):
        assert ok(await client.get(path, headers=headers))["id"] == draft["id"]
        listed = ok(await client.get("/billing/invoices", headers=headers))
        assert draft["id"] in [i["id"] for i in listed["items"]]

    other_approver = scene.as_(scene.buyer, "approver", person=uuid.uuid4())
    assert (await client.get(path, headers=other_approver)).status_code == 404
    assert ok(await client.get("/billing/invoices", headers=other_approver))["items"] == []
    for role in ("employee", "supervisor"):
        assert (await client.get(path, headers=scene.as_(scene.buyer, role))).status_code == 403
    stranger = await make_scene(billing_pool, issuer)
    for headers in (stranger.provider_admin(), stranger.buyer_admin()):
        assert (await client.get(path, headers=headers)).status_code == 404
        assert (await client.get(f"{path}/ubl", headers=headers)).status_code == 404
        assert (await client.get(f"{path}/specification", headers=headers)).status_code == 404
    assert (await client.post(f"{path}/credit-note", headers=stranger.provider_admin())).status_code == 404
    assert (await client.post(f"{path}/credit-note", headers=scene.buyer_admin())).status_code == 403

    specification = ok(await client.get(f"{path}/specification", headers=scene.approver_headers()))
    [row] = specification["sessions"]
    assert (row["participantCount"], row["attendedCount"], row["charge"]) == (3, 2, "held")
    text = str(specification)
    for participant in scene.participants:
        assert str(participant) not in text


async def test_a_later_run_adds_new_sessions_to_the_open_draft_which_the_provider_reviews(
    client: Client, nc: NATS, billing_pool: asyncpg.Pool, scene: Scene
) -> None:
    await deliver(nc, billing_pool, [session_event(scene, "held", dt.datetime(2025, 6, 2, 9, 0, tzinfo=UTC))])
    [first] = await run(client, scene)
    await deliver(
        nc, billing_pool, [session_event(scene, "no_show", dt.datetime(2025, 6, 9, 9, 0, tzinfo=UTC))]
    )
    [again] = await run(client, scene)
    assert (again["id"], again["itemCount"], again["netCents"]) == (first["id"], 2, 30_000)
    review = ok(
        await client.get(f"/billing/invoices/{first['id']}/specification", headers=scene.provider_admin())
    )
    assert [r["charge"] for r in review["sessions"]] == ["held", "no_show"]
    assert (
        await client.get(f"/billing/invoices/{first['id']}/ubl", headers=scene.provider_admin())
    ).status_code == 409


async def test_a_draft_for_a_buyer_billing_has_not_heard_of_is_not_issued(
    client: Client, nc: NATS, billing_pool: asyncpg.Pool, scene: Scene
) -> None:
    unknown = dataclasses.replace(scene, buyer=uuid.uuid4(), orders=[])
    await add_order(billing_pool, unknown)
    await deliver(
        nc, billing_pool, [session_event(unknown, "held", dt.datetime(2025, 7, 1, 9, 0, tzinfo=UTC))]
    )
    [draft] = await run(client, unknown)
    response = await client.post(f"/billing/invoices/{draft['id']}/issue", headers=scene.provider_admin())
    assert response.status_code == 409, response.text
    assert "buyer" in response.json()["detail"]
    still = ok(await client.get(f"/billing/invoices/{draft['id']}", headers=scene.provider_admin()))
    assert (still["status"], still["number"]) == ("draft", None)


async def test_bad_run_and_requirement_bodies_are_refused_with_field_detail(
    client: Client, scene: Scene
) -> None:
    response = await client.post(
        "/billing/invoice-runs", json={"month": "2024-09-15"}, headers=scene.provider_admin()
    )
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["body.month"]
    response = await client.post(
        "/billing/invoice-runs", json={"mnth": "2024-09-01"}, headers=scene.provider_admin()
    )
    assert response.status_code == 400, response.text
    response = await client.put(
        "/billing/invoicing-requirements", json={"perOrder": "yes"}, headers=scene.buyer_admin()
    )
    assert response.status_code == 400, response.text
    assert (
        await client.post("/billing/invoice-runs", json={}, headers=scene.buyer_admin())
    ).status_code == 403
    assert (await client.get("/billing/invoices")).status_code == 401
    response = await client.get(f"/billing/invoices/{uuid.uuid4()}/ubl", headers=scene.provider_admin())
    assert response.status_code == 404


def test_the_rule_checker_catches_a_wrong_vat_total() -> None:
    # The checker itself must be able to fail: a document whose VAT breakdown is off by a cent.
    from services.billing.domain.documents import (
        DocumentHeader,
        DocumentLine,
        Party,
        ubl_document,
        vat_breakdown,
    )

    seller = Party(
        name="S Oy",
        business_id="2077474-0",
        vat_id="FI20774740",
        iban="FI2112345600000785",
        e_invoice_address="003720774740",
    )
    buyer = Party(name="B", business_id="3221326-2", e_invoice_address="003732213262")
    breakdown = vat_breakdown({Decimal("25.5"): 10_001})
    header = DocumentHeader(
        kind="invoice",
        invoice_id=uuid.uuid4(),
        number="1",
        issue_date=dt.date(2025, 1, 1),
        due_date=dt.date(2025, 1, 22),
        payment_terms_days=21,
        buyer_reference="4100",
        accounting_cost="4100",
        period_start=dt.date(2024, 12, 1),
        period_end=dt.date(2024, 12, 31),
        seller=seller,
        buyer=buyer,
        payment_reference="1000013",
        rf_reference="RF121000013",
        breakdown=breakdown,
        net_cents=10_001,
        vat_cents=breakdown[0].tax_cents + 1,
        gross_cents=10_001 + breakdown[0].tax_cents + 1,
    )
    line = DocumentLine(
        line_id="1",
        session_id=uuid.uuid4(),
        order_id=uuid.uuid4(),
        kind="held",
        form="team",
        mode="at_buyer",
        duration_minutes=60,
        service_date=dt.date(2024, 12, 2),
        quantity=Decimal(1),
        unit_code="C62",
        base_quantity=Decimal(1),
        unit_price=Decimal("100.01"),
        net_cents=10_001,
        vat_rate=Decimal("25.5"),
        charge_percent=100,
        accounting_cost="4100",
    )
    broken = business_rule_violations(b"".join(ubl_document(header, [line])))
    assert [b.split(":")[0] for b in broken] == ["BR-CO-14"]


async def test_issuing_needs_the_drafts_etag_as_if_match(
    client: Client, nc: NATS, billing_pool: asyncpg.Pool, scene: Scene
) -> None:
    held = session_event(scene, "held", dt.datetime(2024, 11, 11, 9, 0, tzinfo=UTC), form="individual")
    await deliver(nc, billing_pool, [held])
    [draft] = await run(client, scene, "2024-11-01")
    path = f"/billing/invoices/{draft['id']}"
    assert isinstance(client, ReadBeforeWriteClient)
    client.careful = False  # exactly what is sent
    try:
        for sent in ({}, {"If-Match": "*"}):
            refused = await client.post(f"{path}/issue", headers=scene.provider_admin() | sent)
            assert refused.status_code == 428, refused.text
            assert refused.json()["type"] == "urn:tila:problem:precondition-required"
        etag = (await client.get(path, headers=scene.provider_admin())).headers["etag"]
        issued = await client.post(f"{path}/issue", headers=scene.provider_admin() | {"If-Match": etag})
    finally:
        client.careful = True
    assert issued.status_code == 200, issued.text
