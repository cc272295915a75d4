"""Checks every produced e-invoice must pass: the official OASIS UBL 2.1 XSD (vendored under
``schemas/``) and the EN 16931 business rules, BR-* and BR-CO-* calculations among them, plus the
Peppol BIS Billing 3.0 transaction rules (``PEPPOL-EN16931-*``), each named by its official rule id.

The official compiled Schematron artefacts (CEN's ``EN16931-UBL-validation.xslt``, OpenPeppol's
``PEPPOL-EN16931-UBL`` rules) are not vendored: no package on the registries this project can use
ships them, and the public-repository copies we can read are reference only, not ours to commit.
So the rules are implemented here, written against the official rule texts: the Peppol rule set
as published in ``PEPPOL-EN16931-UBL.sch`` (BIS 3.0.15) and the CEN UBL binding (validation 1.3.x).
Where our check is stricter than the official one it says so (BR-CO-17: the official rule allows
one unit of slack; we demand the half-up rounded value).
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
import zipfile
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from pathlib import Path

from lxml import etree
from stdnum.fi import alv, ytunnus

__all__ = [
    "assert_valid_finvoice",
    "assert_valid_ubl",
    "business_rule_violations",
    "finvoice_schema",
    "finvoice_violations",
    "finvoice_xsd_errors",
    "xsd_errors",
]

SCHEMAS = Path(__file__).parent / "schemas" / "ubl-2.1" / "maindoc"
ROOT = Path(__file__).resolve().parents[2]
FINVOICE_CACHE = ROOT / ".cache" / "finvoice-schema"
FINVOICE_WHEEL = "odoo-addon-account-edi-finvoice==19.0.1.0.0.15"
"""The PyPI wheel that carries Finance Finland's ``Finvoice3.0.xsd`` unmodified (only its schema is
read, from the wheel as a zip: Odoo is never installed)."""
FINVOICE_XSD_DIR = "odoo/addons/account_edi_finvoice/static/schema/"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
NS = {"cbc": CBC, "cac": CAC}
CENT = Decimal("0.01")
PEPPOL_CUSTOMIZATION = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PEPPOL_PROFILE = re.compile(r"urn:fdc:peppol\.eu:2017:poacc:billing:([0-9]{2}):1\.0")
FINNISH_EAS = frozenset({"0037", "0212", "0213", "0216"})
"""The Electronic Address Scheme codes (all on the EAS list, PEPPOL-EN16931-CL008) a Finnish party uses."""
VAT_CATEGORIES = frozenset({"S", "Z", "E", "AE", "K", "G", "O", "L", "M", "B"})
"""UNCL 5305 as EN 16931 restricts it (BR-CL-17, BR-CL-18)."""
DATE_ELEMENTS = frozenset(
    {"IssueDate", "DueDate", "TaxPointDate", "StartDate", "EndDate", "ActualDeliveryDate"}
)
CURRENCY_AMOUNTS = frozenset(
    {
        "Amount",
        "BaseAmount",
        "PriceAmount",
        "TaxAmount",
        "TaxableAmount",
        "LineExtensionAmount",
        "TaxExclusiveAmount",
        "TaxInclusiveAmount",
        "AllowanceTotalAmount",
        "ChargeTotalAmount",
        "PrepaidAmount",
        "PayableRoundingAmount",
        "PayableAmount",
    }
)


@cache
def _schema(root: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMAS / f"UBL-{root}-2.1.xsd")))


def xsd_errors(document: bytes) -> list[str]:
    tree = etree.fromstring(document)
    schema = _schema(etree.QName(tree).localname)
    if schema.validate(tree):
        return []
    return [f"{error.line}: {error.message}" for error in schema.error_log]  # type: ignore[attr-defined]


def finvoice_schema() -> etree.XMLSchema:
    """Finance Finland's Finvoice 3.0 XSD: the wheel fetched once into ``.cache/`` (git-ignored) with
    ``pip download --no-deps``, its schema folder extracted beside it (so any ``xs:include`` of a
    sibling file resolves), then compiled by lxml."""
    wheels = sorted(FINVOICE_CACHE.glob("odoo_addon_account_edi_finvoice-*.whl"))
    if not wheels:
        FINVOICE_CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                FINVOICE_WHEEL,
                "-d",
                str(FINVOICE_CACHE),
            ],
            check=True,
            timeout=300,
        )
        wheels = sorted(FINVOICE_CACHE.glob("odoo_addon_account_edi_finvoice-*.whl"))
    assert wheels, f"pip download of {FINVOICE_WHEEL} left no wheel in {FINVOICE_CACHE}"
    target = FINVOICE_CACHE / "schema"
    with zipfile.ZipFile(wheels[-1]) as wheel:
        for name in wheel.namelist():
            if name.startswith(FINVOICE_XSD_DIR) and name.endswith(".xsd"):
                out = target / name.removeprefix(FINVOICE_XSD_DIR)
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(wheel.read(name))
    return etree.XMLSchema(etree.parse(str(target / "Finvoice3.0.xsd")))


def finvoice_xsd_errors(document: bytes, schema: etree.XMLSchema) -> list[str]:
    tree = etree.fromstring(document)
    if schema.validate(tree):
        return []
    return [f"{error.line}: {error.message}" for error in schema.error_log]  # type: ignore[attr-defined]


def assert_valid_finvoice(document: bytes, schema: etree.XMLSchema) -> etree._Element:
    """Valid against the official Finvoice 3.0 XSD and the calculation rules; the parsed document."""
    errors = finvoice_xsd_errors(document, schema)
    assert errors == [], errors
    broken = finvoice_violations(document)
    assert broken == [], broken
    return etree.fromstring(document)


def _text(node: etree._Element, path: str) -> str | None:
    found = node.find(path, NS)
    return found.text.strip() if found is not None and found.text else None


def _amount(node: etree._Element, path: str) -> Decimal | None:
    text = _text(node, path)
    return Decimal(text) if text is not None else None


def _decimals(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) else 0


def _round(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def business_rule_violations(document: bytes) -> list[str]:
    """The ids (and a reason) of every EN 16931 / Peppol rule the document breaks."""
    root = etree.fromstring(document)
    credit = etree.QName(root).localname == "CreditNote"
    line_tag = "cac:CreditNoteLine" if credit else "cac:InvoiceLine"
    quantity_tag = "cbc:CreditedQuantity" if credit else "cbc:InvoicedQuantity"
    broken: list[str] = []

    def rule(rule_id: str, holds: bool, why: str) -> None:
        if not holds:
            broken.append(f"{rule_id}: {why}")

    seller = root.find("cac:AccountingSupplierParty/cac:Party", NS)
    buyer = root.find("cac:AccountingCustomerParty/cac:Party", NS)
    lines = root.findall(line_tag, NS)
    totals = root.find("cac:LegalMonetaryTotal", NS)
    tax_totals = root.findall("cac:TaxTotal", NS)
    subtotals = root.findall("cac:TaxTotal/cac:TaxSubtotal", NS)

    rule("BR-01", bool(_text(root, "cbc:CustomizationID")), "specification identifier BT-24")
    rule("BR-02", bool(_text(root, "cbc:ID")), "invoice number BT-1")
    rule("BR-03", bool(_text(root, "cbc:IssueDate")), "issue date BT-2")
    type_code = _text(root, "cbc:CreditNoteTypeCode" if credit else "cbc:InvoiceTypeCode")
    rule("BR-04", type_code in (("381",) if credit else ("380",)), "invoice type code BT-3")
    rule("BR-05", _text(root, "cbc:DocumentCurrencyCode") == "EUR", "currency code BT-5")
    rule(
        "BR-06",
        seller is not None and bool(_text(seller, "cac:PartyLegalEntity/cbc:RegistrationName")),
        "seller name",
    )
    rule(
        "BR-07",
        buyer is not None and bool(_text(buyer, "cac:PartyLegalEntity/cbc:RegistrationName")),
        "buyer name",
    )
    rule("BR-08", seller is not None and seller.find("cac:PostalAddress", NS) is not None, "seller address")
    rule(
        "BR-09",
        seller is not None and bool(_text(seller, "cac:PostalAddress/cac:Country/cbc:IdentificationCode")),
        "seller country",
    )
    rule("BR-10", buyer is not None and buyer.find("cac:PostalAddress", NS) is not None, "buyer address")
    rule(
        "BR-11",
        buyer is not None and bool(_text(buyer, "cac:PostalAddress/cac:Country/cbc:IdentificationCode")),
        "buyer country",
    )
    assert totals is not None, "BR-12..15: no LegalMonetaryTotal"
    line_total = _amount(totals, "cbc:LineExtensionAmount")
    tax_exclusive = _amount(totals, "cbc:TaxExclusiveAmount")
    tax_inclusive = _amount(totals, "cbc:TaxInclusiveAmount")
    payable = _amount(totals, "cbc:PayableAmount")
    rule("BR-12", line_total is not None, "sum of line net amounts BT-106")
    rule("BR-13", tax_exclusive is not None, "total without VAT BT-109")
    rule("BR-14", tax_inclusive is not None, "total with VAT BT-112")
    rule("BR-15", payable is not None, "amount due BT-115")
    rule("BR-16", len(lines) >= 1, "at least one line")
    assert line_total is not None
    assert tax_exclusive is not None
    assert tax_inclusive is not None
    assert payable is not None

    line_sum = Decimal(0)
    taxable_by_rate: dict[tuple[str | None, Decimal], Decimal] = {}
    """Line net amounts per (VAT category, rate)."""
    for line in lines:
        line_id = _text(line, "cbc:ID")
        rule("BR-21", bool(line_id), "line identifier BT-126")
        quantity_node = line.find(quantity_tag, NS)
        rule("BR-22", quantity_node is not None and bool(quantity_node.text), f"line {line_id}: quantity")
        rule(
            "BR-23",
            quantity_node is not None and bool(quantity_node.get("unitCode")),
            f"line {line_id}: unit",
        )
        net = _amount(line, "cbc:LineExtensionAmount")
        rule("BR-24", net is not None, f"line {line_id}: net amount BT-131")
        rule("BR-25", bool(_text(line, "cac:Item/cbc:Name")), f"line {line_id}: item name BT-153")
        price = _amount(line, "cac:Price/cbc:PriceAmount")
        rule("BR-26", price is not None, f"line {line_id}: net price BT-146")
        rule("BR-27", price is not None and price >= 0, f"line {line_id}: negative price")
        category = _text(line, "cac:Item/cac:ClassifiedTaxCategory/cbc:ID")
        rate = _amount(line, "cac:Item/cac:ClassifiedTaxCategory/cbc:Percent")
        rule("BR-CO-04", category is not None, f"line {line_id}: VAT category BT-151")
        rule("BR-S-05", category != "S" or (rate is not None and rate > 0), f"line {line_id}: S rate > 0")
        if net is None or price is None or quantity_node is None or rate is None:
            continue
        rule("BR-DEC-23", _decimals(net) <= 2, f"line {line_id}: more than 2 decimals")
        base = _amount(line, "cac:Price/cbc:BaseQuantity") or Decimal(1)
        expected = _round(Decimal(quantity_node.text or "0") * price / base)
        rule(
            "PEPPOL-EN16931-R120",
            net == expected,
            f"line {line_id}: {net} != quantity × price ÷ base {expected}",
        )
        line_sum += net
        taxable_by_rate[category, rate] = taxable_by_rate.get((category, rate), Decimal(0)) + net

    rule("BR-CO-10", line_total == line_sum, f"BT-106 {line_total} != sum of lines {line_sum}")
    rule(
        "BR-CO-13",
        tax_exclusive == line_total,
        f"BT-109 {tax_exclusive} != BT-106 {line_total} (no allowances)",
    )
    rule("BR-CO-18", len(subtotals) >= 1, "at least one VAT breakdown")
    document_tax = [t for t in tax_totals if t.find("cac:TaxSubtotal", NS) is not None]
    rule("PEPPOL-EN16931-R053", len(document_tax) == 1, "one tax total with tax subtotals")
    rule(
        "PEPPOL-EN16931-R054",
        len(tax_totals) - len(document_tax) == (1 if _text(root, "cbc:TaxCurrencyCode") else 0),
        "a tax total without subtotals only with a tax currency code",
    )
    vat_total = _amount(document_tax[0], "cbc:TaxAmount") if document_tax else None
    subtotal_tax = Decimal(0)
    breakdown_rates: set[tuple[str | None, Decimal]] = set()
    for subtotal in subtotals:
        taxable = _amount(subtotal, "cbc:TaxableAmount")
        tax = _amount(subtotal, "cbc:TaxAmount")
        rate = _amount(subtotal, "cac:TaxCategory/cbc:Percent")
        category = _text(subtotal, "cac:TaxCategory/cbc:ID")
        rule("BR-45", taxable is not None, "VAT category taxable amount BT-116")
        rule("BR-46", tax is not None, "VAT category tax amount BT-117")
        rule("BR-47", category is not None, "VAT category code BT-118")
        rule("BR-48", rate is not None or category == "O", "VAT category rate BT-119")
        if taxable is None or tax is None or rate is None:
            continue
        breakdown_rates.add((category, rate))
        rule("BR-CO-17", tax == _round(taxable * rate / 100), f"BT-117 {tax} != {taxable} × {rate} %")
        rule(
            "BR-S-08",
            category != "S" or taxable == taxable_by_rate.get(("S", rate), Decimal(0)),
            f"BT-116 at {rate} % {taxable} != S lines at that rate {taxable_by_rate.get(('S', rate))}",
        )
        subtotal_tax += tax
    rule("BR-CO-14", vat_total == subtotal_tax, f"BT-110 {vat_total} != sum of BT-117 {subtotal_tax}")
    rule(
        "BR-S-01",
        all(category != "S" for category, _ in taxable_by_rate) or any(c == "S" for c, _ in breakdown_rates),
        "standard rated lines need a standard rated VAT breakdown",
    )
    rule(
        "BR-S-08",
        {key for key in taxable_by_rate if key[0] == "S"} <= breakdown_rates,
        "every standard rate on a line has its VAT breakdown",
    )
    rule("BR-CO-15", tax_inclusive == tax_exclusive + (vat_total or 0), "BT-112 != BT-109 + BT-110")
    prepaid = _amount(totals, "cbc:PrepaidAmount") or Decimal(0)
    rounding = _amount(totals, "cbc:PayableRoundingAmount") or Decimal(0)
    rule("BR-CO-16", payable == tax_inclusive - prepaid + rounding, "BT-115 != BT-112 - BT-113 + BT-114")
    for name, value in (
        ("BT-106", line_total),
        ("BT-109", tax_exclusive),
        ("BT-110", vat_total),
        ("BT-112", tax_inclusive),
        ("BT-115", payable),
    ):
        rule("BR-DEC", value is None or _decimals(value) <= 2, f"{name} has more than 2 decimals")

    if not credit:
        rule(
            "BR-CO-25",
            payable <= 0 or bool(_text(root, "cbc:DueDate") or _text(root, "cac:PaymentTerms/cbc:Note")),
            "positive amount due needs a due date or payment terms",
        )
    else:
        rule("BR-55", bool(_text(root, "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID")), "BT-25")
    if seller is not None:
        vat = _text(seller, "cac:PartyTaxScheme/cbc:CompanyID")
        legal = _text(seller, "cac:PartyLegalEntity/cbc:CompanyID")
        rule("BR-CO-26", bool(vat or legal), "seller identifier, legal registration or VAT id")
        rule("BR-CO-09", vat is None or vat[:2].isalpha(), "VAT id starts with a country code")
        rule("BR-S-02", vat is not None, "standard rated lines need the seller VAT id BT-31")
        rule("FI-Y-TUNNUS", legal is not None and ytunnus.is_valid(legal), f"seller Y-tunnus {legal}")
        rule("FI-ALV", vat is not None and alv.is_valid(vat), f"seller VAT id {vat}")
        endpoint = seller.find("cbc:EndpointID", NS)
        rule("BR-62", endpoint is None or bool(endpoint.get("schemeID")), "seller electronic address scheme")
    if buyer is not None:
        endpoint = buyer.find("cbc:EndpointID", NS)
        rule("BR-63", endpoint is None or bool(endpoint.get("schemeID")), "buyer electronic address scheme")
        rule("PEPPOL-EN16931-R010", endpoint is not None, "buyer electronic address")
    rule(
        "PEPPOL-EN16931-R003",
        bool(_text(root, "cbc:BuyerReference") or _text(root, "cac:OrderReference/cbc:ID")),
        "buyer reference or purchase order reference",
    )
    broken.extend(_peppol_violations(root, lines, quantity_tag))
    for means in root.findall("cac:PaymentMeans", NS):
        if _text(means, "cbc:PaymentMeansCode") in ("30", "58"):
            rule(
                "BR-61", bool(_text(means, "cac:PayeeFinancialAccount/cbc:ID")), "credit transfer needs BT-84"
            )
    return broken


def _peppol_violations(root: etree._Element, lines: list[etree._Element], quantity_tag: str) -> list[str]:
    """Peppol BIS Billing 3.0 transaction, code list and format rules, and the CEN period and
    amount data type rules they sit with."""
    broken: list[str] = []

    def rule(rule_id: str, holds: bool, why: str) -> None:
        if not holds:
            broken.append(f"{rule_id}: {why}")

    profile = _text(root, "cbc:ProfileID")
    rule("PEPPOL-EN16931-R001", profile is not None, "business process BT-23")
    rule(
        "PEPPOL-EN16931-R007",
        profile is None or PEPPOL_PROFILE.fullmatch(profile) is not None,
        f"business process {profile} not urn:fdc:peppol.eu:2017:poacc:billing:NN:1.0",
    )
    rule(
        "PEPPOL-EN16931-R004",
        (_text(root, "cbc:CustomizationID") or "").startswith(PEPPOL_CUSTOMIZATION),
        "specification identifier BT-24",
    )
    rule("PEPPOL-EN16931-R002", len(root.findall("cbc:Note", NS)) <= 1, "at most one document level note")
    empty = [
        etree.QName(node).localname
        for node in root.iter()
        if isinstance(node.tag, str) and len(node) == 0 and not (node.text or "").strip()
    ]
    rule("PEPPOL-EN16931-R008", not empty, f"empty elements {empty}")
    seller = root.find("cac:AccountingSupplierParty/cac:Party", NS)
    rule(
        "PEPPOL-EN16931-R020",
        seller is not None and seller.find("cbc:EndpointID", NS) is not None,
        "seller electronic address BT-34",
    )
    for endpoint in root.iterfind(".//cbc:EndpointID", NS):
        rule(
            "PEPPOL-EN16931-CL008",
            endpoint.get("schemeID") is None or endpoint.get("schemeID") in FINNISH_EAS,
            f"electronic address scheme {endpoint.get('schemeID')}",
        )

    currency = _text(root, "cbc:DocumentCurrencyCode")
    for node in root.iter():
        if not isinstance(node.tag, str):
            continue
        name = etree.QName(node).localname
        if name in CURRENCY_AMOUNTS:
            # BT-111 (a TaxTotal without subtotals) is the one amount in the accounting currency.
            parent = node.getparent()
            in_accounting_currency = (
                name == "TaxAmount"
                and parent is not None
                and etree.QName(parent).localname == "TaxTotal"
                and parent.find("cac:TaxSubtotal", NS) is None
            )
            rule(
                "PEPPOL-EN16931-R051",
                in_accounting_currency or node.get("currencyID") == currency,
                f"{name} in {node.get('currencyID')}, not the document currency {currency}",
            )
        if name.endswith("Amount") and not name.endswith("PriceAmount") and node.text:
            value = _number(node.text)
            rule(
                "UBL-DT-01",
                value is not None and _decimals(value) <= 2,
                f"{name} {node.text} is not an amount with at most 2 decimals",
            )
        if name in DATE_ELEMENTS:
            rule("PEPPOL-EN16931-F001", _is_date(node.text), f"{name} {node.text!r} is not YYYY-MM-DD")

    broken.extend(_syntax_violations(root, lines))
    start, end = _period(root)
    rule("BR-29", start is None or end is None or end >= start, "invoicing period ends before it starts")
    for line in lines:
        line_id = _text(line, "cbc:ID")
        line_start, line_end = _period(line)
        rule(
            "BR-30",
            line_start is None or line_end is None or line_end >= line_start,
            f"line {line_id}: period ends before it starts",
        )
        rule(
            "PEPPOL-EN16931-R110",
            start is None or line_start is None or line_start >= start,
            f"line {line_id}: starts {line_start}, before the invoicing period {start}",
        )
        rule(
            "PEPPOL-EN16931-R111",
            end is None or line_end is None or line_end <= end,
            f"line {line_id}: ends {line_end}, after the invoicing period {end}",
        )
        base = line.find("cac:Price/cbc:BaseQuantity", NS)
        if base is None:
            continue
        rule(
            "PEPPOL-EN16931-R121",
            bool(base.text) and Decimal((base.text or "0").strip()) > 0,
            f"line {line_id}: base quantity {base.text}",
        )
        quantity = line.find(quantity_tag, NS)
        rule(
            "PEPPOL-EN16931-R130",
            base.get("unitCode") is None
            or quantity is None
            or base.get("unitCode") == quantity.get("unitCode"),
            f"line {line_id}: base quantity in {base.get('unitCode')}, quantity in "
            f"{None if quantity is None else quantity.get('unitCode')}",
        )
    return broken


def _syntax_violations(root: etree._Element, lines: list[etree._Element]) -> list[str]:
    """CEN's UBL syntax binding (UBL-SR-*, UBL-CR-*, UBL-DT-*) for the elements this writer uses,
    and the payment, item attribute and VAT category rules of the model (BR-49, BR-54, BR-CL-18,
    BR-S-10)."""
    broken: list[str] = []

    def rule(rule_id: str, holds: bool, why: str) -> None:
        if not holds:
            broken.append(f"{rule_id}: {why}")

    def count(node: etree._Element, path: str) -> int:
        return len(node.findall(path, NS))

    rule("UBL-SR-05", count(root, "cac:PaymentTerms/cbc:Note") <= 1, "at most one payment terms note")
    rule(
        "UBL-SR-16",
        count(root, "cac:AccountingCustomerParty/cac:Party/cac:PartyIdentification/cbc:ID") <= 1,
        "at most one buyer identifier",
    )
    rule(
        "UBL-SR-12",
        count(root, "cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme/cbc:CompanyID") <= 1,
        "at most one seller VAT identifier",
    )
    for line in lines:
        line_id = _text(line, "cbc:ID")
        rule("UBL-SR-34", count(line, "cbc:Note") <= 1, f"line {line_id}: at most one note")
        rule(
            "UBL-SR-48",
            count(line, "cac:Item/cac:ClassifiedTaxCategory") == 1,
            f"line {line_id}: one VAT category",
        )
        rule(
            "UBL-SR-50", count(line, "cac:Item/cbc:Description") <= 1, f"line {line_id}: one item description"
        )
        for prop in line.findall("cac:Item/cac:AdditionalItemProperty", NS):
            rule(
                "BR-54",
                bool(_text(prop, "cbc:Name")) and bool(_text(prop, "cbc:Value")),
                f"line {line_id}: an item attribute has a name and a value",
            )
    named = [
        etree.QName(node).localname
        for node in root.iter()
        if isinstance(node.tag, str) and "name" in node.attrib
    ]
    rule("UBL-DT-18", set(named) <= {"PaymentMeansCode"}, f"a name attribute on {named}")
    for path, rule_id in (
        ("cbc:ID", "UBL-CR-650"),
        (".//cac:PartyTaxScheme/cbc:CompanyID", "UBL-CR-652"),
        (".//cac:SellersItemIdentification/cbc:ID", "UBL-CR-668"),
        (".//cac:TaxCategory/cbc:ID", "UBL-CR-678"),
        (".//cac:ClassifiedTaxCategory/cbc:ID", "UBL-CR-679"),
    ):
        rule(
            rule_id,
            all(node.get("schemeID") is None for node in root.iterfind(path, NS)),
            f"{path} has a schemeID",
        )
    for means in root.findall("cac:PaymentMeans", NS):
        rule("BR-49", bool(_text(means, "cbc:PaymentMeansCode")), "payment means type code BT-81")
    for category in root.iterfind(".//cac:TaxCategory", NS):
        code = _text(category, "cbc:ID")
        rule("BR-CL-18", code in VAT_CATEGORIES, f"VAT category code {code}")
        rule(
            "BR-S-10",
            code != "S"
            or (
                category.find("cbc:TaxExemptionReason", NS) is None
                and category.find("cbc:TaxExemptionReasonCode", NS) is None
            ),
            "a standard rated VAT breakdown has no exemption reason",
        )
    for category in root.iterfind(".//cac:ClassifiedTaxCategory", NS):
        code = _text(category, "cbc:ID")
        rule("BR-CL-18", code in VAT_CATEGORIES, f"line VAT category code {code}")
    return broken


def _number(text: str) -> Decimal | None:
    try:
        return Decimal(text.strip())
    except InvalidOperation:
        return None


def _is_date(text: str | None) -> bool:
    if text is None or len(text) != 10:
        return False
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _period(node: etree._Element) -> tuple[dt.date | None, dt.date | None]:
    start = _text(node, "cac:InvoicePeriod/cbc:StartDate")
    end = _text(node, "cac:InvoicePeriod/cbc:EndDate")
    return (
        dt.date.fromisoformat(start) if start and _is_date(start) else None,
        dt.date.fromisoformat(end) if end and _is_date(end) else None,
    )


def assert_valid_ubl(document: bytes) -> etree._Element:
    """XSD-valid and free of business rule violations; answers the parsed document."""
    assert xsd_errors(document) == []
    assert business_rule_violations(document) == []
    return etree.fromstring(document)


def _fi_amount(node: etree._Element, path: str) -> Decimal:
    text = node.findtext(path)
    assert text is not None, f"{path} missing"
    return Decimal(text.replace(",", "."))


def finvoice_violations(document: bytes) -> list[str]:
    """The EN 16931 calculation rules on a Finvoice 3.0 document (its XSD: ``finvoice_xsd_errors``)."""
    root = etree.fromstring(document)
    broken: list[str] = []

    def rule(rule_id: str, holds: bool, why: str) -> None:
        if not holds:
            broken.append(f"{rule_id}: {why}")

    rule("FINVOICE-VERSION", root.tag == "Finvoice" and root.get("Version") == "3.0", "Finvoice 3.0 root")
    details = root.find("InvoiceDetails")
    assert details is not None
    rows = root.findall("InvoiceRow")
    rule("BR-16", len(rows) >= 1, "at least one row")
    net = _fi_amount(details, "InvoiceTotalVatExcludedAmount")
    vat = _fi_amount(details, "InvoiceTotalVatAmount")
    gross = _fi_amount(details, "InvoiceTotalVatIncludedAmount")
    by_rate: dict[Decimal, Decimal] = {}
    for row in rows:
        rate = _fi_amount(row, "RowVatRatePercent")
        by_rate[rate] = by_rate.get(rate, Decimal(0)) + _fi_amount(row, "RowVatExcludedAmount")
        rule("BR-25", bool(row.findtext("ArticleName")), "row article name")
    rule("BR-CO-10", net == sum(by_rate.values(), Decimal(0)), f"total {net} != rows {sum(by_rate.values())}")
    spec_tax = Decimal(0)
    for spec in details.findall("VatSpecificationDetails"):
        base = _fi_amount(spec, "VatBaseAmount")
        rate = _fi_amount(spec, "VatRatePercent")
        tax = _fi_amount(spec, "VatRateAmount")
        rule("BR-S-08", by_rate.get(rate) == base, f"VAT base at {rate} % {base} != rows {by_rate.get(rate)}")
        rule("BR-CO-17", tax == _round(base * rate / 100), f"VAT {tax} != {base} × {rate} %")
        spec_tax += tax
    rule("BR-CO-14", vat == spec_tax, f"VAT total {vat} != specification {spec_tax}")
    rule("BR-CO-15", gross == net + vat, "gross != net + VAT")
    seller_id = root.findtext("SellerPartyDetails/SellerPartyIdentifier") or ""
    rule("FI-Y-TUNNUS", ytunnus.is_valid(seller_id), f"seller Y-tunnus {seller_id}")
    reference = root.findtext("EpiDetails/EpiPaymentInstructionDetails/EpiRemittanceInfoIdentifier") or ""
    rule("FI-REFERENCE", reference.isdigit() and len(reference) >= 4, "Finnish payment reference")
    return broken
