"""The document writer against the e-invoice checks, and the checks against broken documents.

Every Peppol BIS Billing 3.0 document the writer produces must pass the UBL 2.1 XSD and the
EN 16931 / Peppol rules in ``einvoice.py``; and each of those rules must be able to fail: a
document broken in one place is caught with the official rule id. No servers: the writer is a
domain function.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from decimal import Decimal

import pytest
from lxml import etree

from services.billing.domain.documents import (
    DocumentHeader,
    DocumentLine,
    Party,
    ubl_document,
    vat_breakdown,
)
from tests.billing.einvoice import NS, assert_valid_ubl, business_rule_violations, xsd_errors

SELLER = Party(
    name="Työnohjaus Oy",
    business_id="2077474-0",
    vat_id="FI20774740",
    street="Kauppakatu 1",
    postcode="00100",
    city="Helsinki",
    e_invoice_scheme="ovt",
    e_invoice_address="003720774740",
    iban="FI2112345600000785",
    bic="NDEAFIHH",
)
BUYER = Party(
    name="Hyvinvointialue",
    business_id="3221326-2",
    street="Sairaalantie 2",
    postcode="33100",
    city="Tampere",
    e_invoice_scheme="peppol",
    e_invoice_address="0216:003732213262",
)


def _line(
    line_id: str, day: int, *, minutes: int, price: str, net_cents: int, unit: str, base: str
) -> DocumentLine:
    quantity = Decimal(minutes) if unit == "MIN" else Decimal(minutes) / 60 if unit == "HUR" else Decimal(1)
    return DocumentLine(
        line_id=line_id,
        session_id=uuid.uuid4(),
        order_id=uuid.uuid4(),
        kind="held" if line_id != "3" else "late_cancellation",
        form="team",
        mode="at_buyer",
        duration_minutes=minutes,
        service_date=dt.date(2025, 11, day),
        quantity=quantity,
        unit_code=unit,
        base_quantity=Decimal(base),
        unit_price=Decimal(price),
        net_cents=net_cents,
        vat_rate=Decimal("25.5"),
        charge_percent=100 if line_id != "3" else 50,
        accounting_cost="4100",
    )


LINES = [
    # 90 min at 120 €/h: 1.5 HUR; 50 min at 120 €/h: 50 MIN per 60 MIN (100.00); a session at 45.005 €.
    _line("1", 3, minutes=90, price="120", net_cents=18_000, unit="HUR", base="1"),
    _line("2", 12, minutes=50, price="120", net_cents=10_000, unit="MIN", base="60"),
    _line("3", 28, minutes=60, price="45.005", net_cents=4_501, unit="C62", base="1"),
]


def _document(kind: str) -> bytes:
    net = sum(line.net_cents for line in LINES)
    breakdown = vat_breakdown({Decimal("25.5"): net})
    vat = sum(group.tax_cents for group in breakdown)
    credit = kind == "credit_note"
    header = DocumentHeader(
        kind="credit_note" if credit else "invoice",
        invoice_id=uuid.uuid4(),
        number="2025-000124" if credit else "2025-000123",
        issue_date=dt.date(2025, 12, 1),
        due_date=dt.date(2025, 12, 22),
        payment_terms_days=21,
        buyer_reference="4100",
        accounting_cost="4100",
        contract_reference="SOP-7",
        period_start=dt.date(2025, 11, 3),
        period_end=dt.date(2025, 11, 28),
        seller=SELLER,
        buyer=BUYER,
        payment_reference="1000013",
        rf_reference="RF121000013",
        breakdown=breakdown,
        net_cents=net,
        vat_cents=vat,
        gross_cents=net + vat,
        credited_number="2025-000123" if credit else None,
        credited_issue_date=dt.date(2025, 12, 1) if credit else None,
    )
    return b"".join(ubl_document(header, LINES))


def _rule_ids(document: bytes) -> set[str]:
    return {violation.split(":")[0] for violation in business_rule_violations(document)}


@pytest.mark.parametrize("kind", ["invoice", "credit_note"])
def test_a_written_document_passes_the_ubl_xsd_and_every_rule(kind: str) -> None:
    root = assert_valid_ubl(_document(kind))
    assert etree.QName(root).localname == ("CreditNote" if kind == "credit_note" else "Invoice")
    assert root.findtext("cac:TaxTotal/cbc:TaxAmount", namespaces=NS) == "82.88"


Mutation = Callable[[etree._Element], None]


def _set(path: str, value: str) -> Mutation:
    def mutate(root: etree._Element) -> None:
        node = root.find(path, NS)
        assert node is not None, path
        node.text = value

    return mutate


def _set_attribute(path: str, attribute: str, value: str) -> Mutation:
    def mutate(root: etree._Element) -> None:
        node = root.find(path, NS)
        assert node is not None, path
        node.set(attribute, value)

    return mutate


def _drop_attribute(path: str, attribute: str) -> Mutation:
    def mutate(root: etree._Element) -> None:
        node = root.find(path, NS)
        assert node is not None, path
        del node.attrib[attribute]

    return mutate


def _add(path: str, tag: str, text: str) -> Mutation:
    """A child ``cbc:<tag>`` appended to the node at ``path``."""

    def mutate(root: etree._Element) -> None:
        node = root.find(path, NS)
        assert node is not None, path
        etree.SubElement(node, f"{{{NS['cbc']}}}{tag}").text = text

    return mutate


def _remove(path: str) -> Mutation:
    def mutate(root: etree._Element) -> None:
        node = root.find(path, NS)
        assert node is not None, path
        parent = node.getparent()
        assert parent is not None
        parent.remove(node)

    return mutate


def _both(*mutations: Mutation) -> Mutation:
    def mutate(root: etree._Element) -> None:
        for mutation in mutations:
            mutation(root)

    return mutate


LINE = "cac:InvoiceLine"
BROKEN: list[tuple[str, Mutation, set[str]]] = [
    # Totals 407.89 = 325.01 net + 82.88 VAT.
    ("VAT total off by one cent", _set("cac:TaxTotal/cbc:TaxAmount", "82.89"), {"BR-CO-14", "BR-CO-15"}),
    (
        "VAT total and gross both off by one cent",
        _both(
            _set("cac:TaxTotal/cbc:TaxAmount", "82.89"),
            _set("cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount", "407.90"),
            _set("cac:LegalMonetaryTotal/cbc:PayableAmount", "407.90"),
        ),
        {"BR-CO-14"},
    ),
    # Stricter than the official BR-CO-17, which allows one unit of slack: we demand half-up rounding.
    (
        "breakdown tax and total off by one cent together",
        _both(
            _set("cac:TaxTotal/cac:TaxSubtotal/cbc:TaxAmount", "82.89"),
            _set("cac:TaxTotal/cbc:TaxAmount", "82.89"),
            _set("cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount", "407.90"),
            _set("cac:LegalMonetaryTotal/cbc:PayableAmount", "407.90"),
        ),
        {"BR-CO-17"},
    ),
    (
        "gross off by one cent",
        _set("cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount", "407.88"),
        {"BR-CO-15", "BR-CO-16"},
    ),
    ("amount due off by one cent", _set("cac:LegalMonetaryTotal/cbc:PayableAmount", "407.88"), {"BR-CO-16"}),
    (
        "sum of line amounts off",
        _set("cac:LegalMonetaryTotal/cbc:LineExtensionAmount", "325.00"),
        {"BR-CO-10", "BR-CO-13"},
    ),
    (
        "line amount not quantity × price ÷ base",
        _set(f"{LINE}/cac:Price/cbc:PriceAmount", "121"),
        {"PEPPOL-EN16931-R120"},
    ),
    ("no buyer reference", _remove("cbc:BuyerReference"), {"PEPPOL-EN16931-R003"}),
    (
        "no seller electronic address",
        _remove("cac:AccountingSupplierParty/cac:Party/cbc:EndpointID"),
        {"PEPPOL-EN16931-R020"},
    ),
    (
        "no buyer electronic address",
        _remove("cac:AccountingCustomerParty/cac:Party/cbc:EndpointID"),
        {"PEPPOL-EN16931-R010"},
    ),
    (
        "electronic address without its scheme",
        _drop_attribute("cac:AccountingCustomerParty/cac:Party/cbc:EndpointID", "schemeID"),
        {"BR-63"},
    ),
    (
        "electronic address in a scheme off the EAS list",
        _set_attribute("cac:AccountingSupplierParty/cac:Party/cbc:EndpointID", "schemeID", "FI:OVT"),
        {"PEPPOL-EN16931-CL008"},
    ),
    (
        "an empty element",
        _set("cac:AccountingCustomerParty/cac:Party/cac:PostalAddress/cbc:CityName", " "),
        {"PEPPOL-EN16931-R008"},
    ),
    ("no business process", _remove("cbc:ProfileID"), {"PEPPOL-EN16931-R001"}),
    (
        "a business process not in Peppol's form",
        _set("cbc:ProfileID", "urn:fdc:peppol.eu:2017:poacc:billing:1:1.0"),
        {"PEPPOL-EN16931-R007"},
    ),
    (
        "a foreign specification",
        _set("cbc:CustomizationID", "urn:cen.eu:en16931:2017"),
        {"PEPPOL-EN16931-R004"},
    ),
    (
        "a line amount in another currency",
        _set_attribute(f"{LINE}/cbc:LineExtensionAmount", "currencyID", "SEK"),
        {"PEPPOL-EN16931-R051"},
    ),
    (
        "an amount with three decimals",
        _set("cac:LegalMonetaryTotal/cbc:PayableAmount", "407.890"),
        {"UBL-DT-01", "BR-DEC"},
    ),
    ("a date not YYYY-MM-DD", _set("cbc:DueDate", "22.12.2025"), {"PEPPOL-EN16931-F001"}),
    (
        "a line dated before the period",
        _set(f"{LINE}/cac:InvoicePeriod/cbc:StartDate", "2025-11-02"),
        {"PEPPOL-EN16931-R110"},
    ),
    (
        "a line dated after the period",
        _set(f"{LINE}/cac:InvoicePeriod/cbc:EndDate", "2025-11-29"),
        {"PEPPOL-EN16931-R111"},
    ),
    (
        "a period that ends before it starts",
        _set("cac:InvoicePeriod/cbc:EndDate", "2025-11-02"),
        {"BR-29", "PEPPOL-EN16931-R111"},
    ),
    ("a zero base quantity", _set(f"{LINE}/cac:Price/cbc:BaseQuantity", "0"), {"PEPPOL-EN16931-R121"}),
    (
        "a base quantity in another unit",
        _set_attribute(f"{LINE}/cac:Price/cbc:BaseQuantity", "unitCode", "MIN"),
        {"PEPPOL-EN16931-R130"},
    ),
    ("a negative price", _set(f"{LINE}/cac:Price/cbc:PriceAmount", "-120"), {"BR-27", "PEPPOL-EN16931-R120"}),
    ("credit transfer without an account", _remove("cac:PaymentMeans/cac:PayeeFinancialAccount"), {"BR-61"}),
    ("no due date and no terms", _both(_remove("cbc:DueDate"), _remove("cac:PaymentTerms")), {"BR-CO-25"}),
    (
        "a VAT id without a country prefix",
        _set("cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme/cbc:CompanyID", "20774740"),
        {"BR-CO-09"},
    ),
    ("a second note on a line", _add(LINE, "Note", "toinen"), {"UBL-SR-34"}),
    ("a name attribute off the payment means code", _set_attribute("cbc:ID", "name", "lasku"), {"UBL-DT-18"}),
    ("a scheme on the document number", _set_attribute("cbc:ID", "schemeID", "0212"), {"UBL-CR-650"}),
    (
        "a scheme on the seller VAT id",
        _set_attribute(
            "cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme/cbc:CompanyID", "schemeID", "VA"
        ),
        {"UBL-CR-652"},
    ),
    (
        "an item attribute without a value",
        _remove(f"{LINE}/cac:Item/cac:AdditionalItemProperty/cbc:Value"),
        {"BR-54"},
    ),
    ("payment means without a code", _remove("cac:PaymentMeans/cbc:PaymentMeansCode"), {"BR-49"}),
    (
        "a VAT category off UNCL 5305",
        _set(f"{LINE}/cac:Item/cac:ClassifiedTaxCategory/cbc:ID", "X"),
        # The line no longer counts towards the standard rated breakdown, so its base is off too.
        {"BR-CL-18", "BR-S-08"},
    ),
    (
        "a standard rated breakdown with an exemption reason",
        _add("cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory", "TaxExemptionReason", "vapautettu"),
        {"BR-S-10"},
    ),
]


@pytest.mark.parametrize(
    ("broken", "expected"), [(m, e) for _, m, e in BROKEN], ids=[name for name, _, _ in BROKEN]
)
def test_a_document_broken_in_one_place_is_caught_by_that_rule(broken: Mutation, expected: set[str]) -> None:
    root = etree.fromstring(_document("invoice"))
    broken(root)
    assert _rule_ids(etree.tostring(root)) == expected


def test_a_credit_note_without_the_credited_invoice_breaks_br_55() -> None:
    root = etree.fromstring(_document("credit_note"))
    _remove("cac:BillingReference")(root)
    assert _rule_ids(etree.tostring(root)) == {"BR-55"}


def test_the_xsd_catches_an_element_out_of_order() -> None:
    root = etree.fromstring(_document("invoice"))
    reference = root.find("cbc:BuyerReference", NS)
    assert reference is not None
    root.remove(reference)
    root.append(reference)
    errors = xsd_errors(etree.tostring(root))
    assert len(errors) == 1
    assert "BuyerReference" in errors[0]
