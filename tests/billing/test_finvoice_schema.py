"""Finvoice 3.0 as Finance Finland's own schema (``Finvoice3.0.xsd``) judges it.

The writer's documents — invoices and credit notes, per-session and per-minute prices, a cost
centre without a code — are valid against the official XSD; and the XSD does refuse a broken one.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import msgspec
from lxml import etree

from services.billing.domain.documents import DocumentHeader, DocumentLine, Party, vat_breakdown
from services.billing.domain.finvoice import finvoice_document, finvoice_problems
from services.billing.domain.items import charged_unit_price, line_net_cents, quantity_for
from tests.billing.einvoice import assert_valid_finvoice, finvoice_xsd_errors

SELLER = Party(
    name="Työnohjaus Esimerkki Oy",
    business_id="2077474-0",
    vat_id="FI20774740",
    street="Hämeenkatu 1",
    postcode="33100",
    city="Tampere",
    iban="FI2112345600000785",
    bic="NDEAFIHH",
    e_invoice_address="003720774740",
    e_invoice_operator="003723327487",
)
BUYER = Party(
    name="Pirkanmaan hyvinvointialue",
    business_id="3221326-2",
    vat_id="FI32213262",
    street="Kuntokatu 2",
    postcode="33520",
    city="Tampere",
    e_invoice_address="003732213262",
    e_invoice_operator="003723327487",
)


def _line(number: int, *, unit: str, cents: int, duration: int, percent: int, cost: str) -> DocumentLine:
    quantity = quantity_for(unit, duration)  # type: ignore[arg-type]
    price = charged_unit_price(cents, percent)
    return DocumentLine(
        line_id=str(number),
        session_id=uuid.uuid4(),
        order_id=uuid.uuid4(),
        kind="held" if percent == 100 else "late_cancellation",
        form="group",
        mode="remote",
        duration_minutes=duration,
        service_date=dt.date(2024, 10, number),
        quantity=quantity.value,
        unit_code=quantity.unit_code,
        base_quantity=quantity.base,
        unit_price=price,
        net_cents=line_net_cents(quantity, price),
        vat_rate=Decimal("25.5"),
        charge_percent=percent,
        accounting_cost=cost,
    )


def _document(kind: str = "invoice", cost: str = "4100") -> bytes:
    lines = [
        _line(1, unit="per_session", cents=15_000, duration=90, percent=100, cost=cost),
        _line(2, unit="per_hour", cents=11_111, duration=50, percent=100, cost=cost),  # 50 MIN at €/60 MIN
        _line(3, unit="per_hour", cents=12_345, duration=45, percent=33, cost=cost),
        _line(4, unit="per_session", cents=15_001, duration=90, percent=50, cost=cost),
    ]
    net = sum(line.net_cents for line in lines)
    breakdown = vat_breakdown({Decimal("25.5"): net})
    header = DocumentHeader(
        kind=kind,  # type: ignore[arg-type]
        invoice_id=uuid.uuid4(),
        number="12",
        issue_date=dt.date(2024, 11, 1),
        due_date=dt.date(2024, 11, 15),
        payment_terms_days=14,
        buyer_reference=cost,
        accounting_cost=cost,
        contract_reference="PIR-2024-7",
        order_reference=str(uuid.uuid4()),
        period_start=dt.date(2024, 10, 1),
        period_end=dt.date(2024, 10, 31),
        seller=SELLER,
        buyer=BUYER,
        payment_reference="1000120",
        rf_reference="RF281000120",
        breakdown=breakdown,
        net_cents=net,
        vat_cents=breakdown[0].tax_cents,
        gross_cents=net + breakdown[0].tax_cents,
        credited_number="11" if kind == "credit_note" else None,
        credited_issue_date=dt.date(2024, 10, 31) if kind == "credit_note" else None,
    )
    chunks = finvoice_document(
        header, lines, message_id=str(uuid.uuid4()), timestamp=dt.datetime(2024, 11, 1, 8, tzinfo=dt.UTC)
    )
    return b"".join(chunks)


def test_an_invoice_is_valid_against_the_official_finvoice_schema(finvoice_xsd: etree.XMLSchema) -> None:
    root = assert_valid_finvoice(_document(), finvoice_xsd)
    details = root.find("InvoiceDetails")
    assert details is not None
    assert details.findtext("AccountDimensionText") == "4100"
    rows = root.findall("InvoiceRow")
    # The undivided price per its base quantity: 111.11 € per 60 min, never 1.85183… € per min.
    assert [(r.findtext("UnitPriceAmount"), r.findtext("UnitPriceBaseQuantity")) for r in rows] == [
        ("150,00", "1"),
        ("111,11", "60"),
        ("40,7385", "1"),
        ("75,005", "1"),
    ]
    assert [r.findtext("RowDeliveryDate") for r in rows] == ["20241001", "20241002", "20241003", "20241004"]


def test_a_credit_note_is_valid_against_the_official_finvoice_schema(
    finvoice_xsd: etree.XMLSchema,
) -> None:
    root = assert_valid_finvoice(_document("credit_note"), finvoice_xsd)
    assert root.findtext("InvoiceDetails/InvoiceTypeCode") == "INV02"
    assert root.findtext("InvoiceDetails/OriginalInvoiceNumber") == "11"


def test_a_cost_centre_without_a_code_fits_the_35_characters_of_account_dimension_text(
    finvoice_xsd: etree.XMLSchema,
) -> None:
    cost_centre = uuid.uuid4()
    root = assert_valid_finvoice(_document(cost=str(cost_centre)), finvoice_xsd)
    assert root.findtext("InvoiceDetails/AccountDimensionText") == cost_centre.hex
    assert {r.findtext("RowAccountDimensionText") for r in root.iterfind("InvoiceRow")} == {cost_centre.hex}


def test_the_official_schema_refuses_a_broken_finvoice(finvoice_xsd: etree.XMLSchema) -> None:
    root = etree.fromstring(_document())
    row = root.find("InvoiceRow")
    assert row is not None
    price = row.find("UnitPriceAmount")
    assert price is not None
    price.text = "0,9259166666666666666666666667"  # what the writer once wrote
    etree.SubElement(row, "OrderIdentifier").text = "x"  # no such row element
    errors = finvoice_xsd_errors(etree.tostring(root, xml_declaration=True, encoding="UTF-8"), finvoice_xsd)
    assert any("UnitPriceAmount" in e for e in errors), errors
    assert finvoice_xsd_errors(_document(), finvoice_xsd) == []


def test_what_the_finvoice_schema_would_refuse_is_named_before_writing() -> None:
    header = DocumentHeader(
        kind="invoice",
        invoice_id=uuid.uuid4(),
        number="1",
        issue_date=dt.date(2024, 11, 1),
        due_date=dt.date(2024, 11, 15),
        payment_terms_days=14,
        buyer_reference="4100",
        accounting_cost="K" * 36,
        period_start=dt.date(2024, 10, 1),
        period_end=dt.date(2024, 10, 31),
        seller=SELLER,
        buyer=msgspec.structs.replace(BUYER, street=None, e_invoice_operator=None, name="B" * 71),
        payment_reference="1000013",
        rf_reference="RF121000013",
        breakdown=[],
        net_cents=0,
        vat_cents=0,
        gross_cents=0,
    )
    assert [field for field, _ in finvoice_problems(header)] == [
        "buyer.name",
        "buyer.postalAddress.street",
        "buyer.eInvoiceAddress.operatorId",
        "costCentre.code",
    ]
    assert finvoice_problems(msgspec.structs.replace(header, buyer=BUYER, accounting_cost="4100")) == []
