"""Checks every produced e-invoice must pass: the official OASIS UBL 2.1 XSD (vendored under
``schemas/``) and the EN 16931 business rules, BR-* and BR-CO-* calculations among them, each
named by its rule id. The rules are implemented here from the published rule list (the official
CEN/Peppol Schematron artefacts were not available offline); ``PEPPOL-EN16931-R*`` are Peppol's.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path

from lxml import etree
from stdnum.fi import alv, ytunnus

__all__ = ["assert_valid_ubl", "business_rule_violations", "xsd_errors"]

SCHEMAS = Path(__file__).parent / "schemas" / "ubl-2.1" / "maindoc"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
NS = {"cbc": CBC, "cac": CAC}
CENT = Decimal("0.01")


@cache
def _schema(root: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMAS / f"UBL-{root}-2.1.xsd")))


def xsd_errors(document: bytes) -> list[str]:
    tree = etree.fromstring(document)
    schema = _schema(etree.QName(tree).localname)
    if schema.validate(tree):
        return []
    return [f"{error.line}: {error.message}" for error in schema.error_log]  # type: ignore[attr-defined]


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
    taxable_by_rate: dict[Decimal, Decimal] = {}
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
        taxable_by_rate[rate] = taxable_by_rate.get(rate, Decimal(0)) + net

    rule("BR-CO-10", line_total == line_sum, f"BT-106 {line_total} != sum of lines {line_sum}")
    rule(
        "BR-CO-13",
        tax_exclusive == line_total,
        f"BT-109 {tax_exclusive} != BT-106 {line_total} (no allowances)",
    )
    rule("BR-CO-18", len(subtotals) >= 1, "at least one VAT breakdown")
    document_tax = [t for t in tax_totals if t.find("cac:TaxSubtotal", NS) is not None]
    rule("BR-CO-14/count", len(document_tax) == 1, "one TaxTotal with subtotals in document currency")
    vat_total = _amount(document_tax[0], "cbc:TaxAmount") if document_tax else None
    subtotal_tax = Decimal(0)
    breakdown_rates: set[Decimal] = set()
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
        breakdown_rates.add(rate)
        rule("BR-CO-17", tax == _round(taxable * rate / 100), f"BT-117 {tax} != {taxable} × {rate} %")
        rule(
            "BR-S-08",
            category != "S" or taxable == taxable_by_rate.get(rate, Decimal(0)),
            f"BT-116 at {rate} % {taxable} != lines at that rate {taxable_by_rate.get(rate)}",
        )
        subtotal_tax += tax
    rule("BR-CO-14", vat_total == subtotal_tax, f"BT-110 {vat_total} != sum of BT-117 {subtotal_tax}")
    rule("BR-S-01", set(taxable_by_rate) <= breakdown_rates, "every line rate has a VAT breakdown")
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
    for means in root.findall("cac:PaymentMeans", NS):
        if _text(means, "cbc:PaymentMeansCode") in ("30", "58"):
            rule(
                "BR-61", bool(_text(means, "cac:PayeeFinancialAccount/cbc:ID")), "credit transfer needs BT-84"
            )
    return broken


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
    """The EN 16931 calculation rules applied to a Finvoice 3.0 document (its XSD is not vendored)."""
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
