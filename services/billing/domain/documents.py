"""The canonical EN 16931 invoice and its Peppol BIS Billing 3.0 (UBL 2.1) serialisation.

Invariants are cited by their number in docs/architecture.md §8.

Documents are written with ``lxml.etree.xmlfile``: the header (with totals already known from
the invoice row) first, then one line at a time, so a document of any size is produced with the
memory of one line. Rows name the form, duration, date, delivery mode and order — never a
participant and never content (invariant 12).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import uuid
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

import msgspec
from lxml import etree

__all__ = [
    "DocumentHeader",
    "DocumentLine",
    "Party",
    "UblWriter",
    "VatBreakdown",
    "XmlSink",
    "amount",
    "header_problems",
    "line_description",
    "line_name",
    "party_problems",
    "safe_party",
    "ubl_document",
    "vat_breakdown",
    "xml_illegal",
    "xml_safe",
]

UBL_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
UBL_CREDIT_NOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CUSTOMIZATION = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PROFILE = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
FINNISH_BUSINESS_ID_SCHEME = "0212"
"""ISO 6523 ICD of the Finnish Y-tunnus."""
OVT_SCHEME = "0216"

FORM_NAMES = {
    "individual": "Yksilötyönohjaus",
    "pair": "Työparityönohjaus",
    "team": "Tiimityönohjaus",
    "group": "Ryhmätyönohjaus",
    "work_community": "Työyhteisön työnohjaus",
    "patient_work": "Potilastyön työnohjaus",
    "manager": "Esihenkilötyön työnohjaus",
    "consultation": "Konsultaatio",
    "process_change": "Prosessi- ja muutostyönohjaus",
    "crisis": "Kriisityönohjaus",
}
MODE_NAMES = {"remote": "etänä", "at_buyer": "tilaajan tiloissa", "at_supervisor": "työnohjaajan tiloissa"}


class Party(msgspec.Struct, frozen=True, kw_only=True):
    """A seller's or buyer's invoicing facts, as snapshotted on the document."""

    name: str
    business_id: str
    vat_id: str | None = None
    street: str | None = None
    postcode: str | None = None
    city: str | None = None
    country: str = "FI"
    e_invoice_scheme: str | None = None
    e_invoice_address: str | None = None
    e_invoice_operator: str | None = None
    iban: str | None = None
    bic: str | None = None

    @property
    def ovt(self) -> str | None:
        """The OVT code (without a Peppol ``0216:`` prefix)."""
        address = self.e_invoice_address
        if address is None:
            return None
        return address.removeprefix(f"{OVT_SCHEME}:")


class VatBreakdown(msgspec.Struct, frozen=True):
    rate: Decimal
    taxable_cents: int
    tax_cents: int
    category: str = "S"


class DocumentHeader(msgspec.Struct, frozen=True, kw_only=True):
    kind: Literal["invoice", "credit_note"]
    invoice_id: uuid.UUID
    number: str
    issue_date: dt.date
    due_date: dt.date
    payment_terms_days: int
    currency: str = "EUR"
    buyer_reference: str
    accounting_cost: str
    """BT-19: the buyer's cost centre."""
    contract_reference: str | None = None
    order_reference: str | None = None
    """BT-13, when the document is for one order."""
    period_start: dt.date
    period_end: dt.date
    seller: Party
    buyer: Party
    payment_reference: str
    """The Finnish reference (7-3-1)."""
    rf_reference: str
    breakdown: list[VatBreakdown]
    net_cents: int
    vat_cents: int
    gross_cents: int
    credited_number: str | None = None
    credited_issue_date: dt.date | None = None


class DocumentLine(msgspec.Struct, frozen=True, kw_only=True):
    line_id: str
    session_id: uuid.UUID
    order_id: uuid.UUID
    kind: str
    form: str
    mode: str
    duration_minutes: int
    service_date: dt.date
    quantity: Decimal
    unit_code: str
    base_quantity: Decimal
    unit_price: Decimal
    net_cents: int
    vat_rate: Decimal
    charge_percent: int
    accounting_cost: str


_XML_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""What XML 1.0 cannot carry: C0 controls but tab, newline and carriage return; surrogates; U+FFFE/F."""
REPLACEMENT = "\ufffd"


def xml_illegal(text: str) -> str | None:
    """The first character of ``text`` that XML 1.0 cannot carry, as ``U+XXXX``; None when none."""
    found = _XML_ILLEGAL.search(text)
    return f"U+{ord(found.group()):04X}" if found else None


def xml_safe(text: str) -> str:
    """``text`` with every character XML 1.0 cannot carry replaced by U+FFFD."""
    return _XML_ILLEGAL.sub(REPLACEMENT, text)


def safe_party(party: Party) -> Party:
    """The party with its text made XML 1.0-legal (U+FFFD for what is not)."""
    return msgspec.structs.replace(
        party,
        **{
            name: xml_safe(value)
            for name in party.__struct_fields__
            if isinstance(value := getattr(party, name), str) and xml_illegal(value)
        },
    )


_PARTY_FIELDS = {
    "name": "name",
    "business_id": "businessId",
    "vat_id": "vatId",
    "street": "postalAddress.street",
    "postcode": "postalAddress.postcode",
    "city": "postalAddress.city",
    "country": "postalAddress.country",
    "e_invoice_scheme": "eInvoiceAddress.scheme",
    "e_invoice_address": "eInvoiceAddress.address",
    "e_invoice_operator": "eInvoiceAddress.operatorId",
    "iban": "iban",
    "bic": "bic",
}
_HEADER_FIELDS = {
    "number": "number",
    "currency": "currency",
    "buyer_reference": "buyerReference",
    "accounting_cost": "costCentre.code",
    "contract_reference": "agreement.number",
    "order_reference": "orderId",
    "payment_reference": "paymentReference",
    "rf_reference": "rfReference",
    "credited_number": "creditedInvoice.number",
}


def party_problems(role: str, party: Party) -> list[tuple[str, str]]:
    """(field, why) for each of a party's facts that no XML document can carry."""
    problems = []
    for attribute, field in _PARTY_FIELDS.items():
        value = getattr(party, attribute)
        if isinstance(value, str) and (character := xml_illegal(value)):
            problems.append((f"{role}.{field}", f"holds {character}, which an XML 1.0 document cannot carry"))
    return problems


def header_problems(header: DocumentHeader) -> list[tuple[str, str]]:
    """(field, why) for every text of the header that an XML 1.0 document cannot carry.

    The header is all the free text a document holds: its lines carry only what Tila writes itself
    (form and mode names, numbers, dates, ids) and the header's cost centre, so a document whose
    header passes is written to its end. Writers check this before their first byte."""
    problems = party_problems("seller", header.seller) + party_problems("buyer", header.buyer)
    for attribute, field in _HEADER_FIELDS.items():
        value = getattr(header, attribute)
        if isinstance(value, str) and (character := xml_illegal(value)):
            problems.append((field, f"holds {character}, which an XML 1.0 document cannot carry"))
    return problems


def amount(cents: int) -> str:
    """Euro cents as an EN 16931 amount: two decimals."""
    return str(Decimal(cents).scaleb(-2).quantize(Decimal("0.01")))


def _decimal(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def _percent(rate: Decimal) -> str:
    return str(rate.quantize(Decimal("0.01")))


def vat_breakdown(taxable_by_rate: dict[Decimal, int]) -> list[VatBreakdown]:
    """VAT per (standard category, rate): the tax of each group rounded once (BR-CO-17)."""
    return [
        VatBreakdown(
            rate=rate,
            taxable_cents=taxable,
            tax_cents=int((Decimal(taxable) * rate / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)),
        )
        for rate, taxable in sorted(taxable_by_rate.items())
    ]


def line_name(line: DocumentLine) -> str:
    return f"{FORM_NAMES.get(line.form, line.form)} {line.duration_minutes} min"


def line_description(line: DocumentLine) -> str:
    """Form, duration, date, mode and what was charged: frame only, never content or people."""
    text = f"{line_name(line)} {line.service_date.isoformat()}, {MODE_NAMES.get(line.mode, line.mode)}"
    if line.kind == "late_cancellation":
        text += f"; myöhäinen peruutus – veloitus {line.charge_percent} % sopimuksen mukaan"
    elif line.kind == "no_show":
        text += f"; peruuttamaton poissaolo – veloitus {line.charge_percent} % sopimuksen mukaan"
    return text


_NSMAP = {"cac": CAC, "cbc": CBC}
_CBC_ONLY = {"cbc": CBC}


def _el(tag: str, text: str | None = None, **attributes: str) -> etree._Element:
    # A written element declares its own namespaces (xmlfile serialises it on its own): only those it uses.
    nsmap = _CBC_ONLY if tag.startswith(f"{{{CBC}}}") else _NSMAP
    element = etree.Element(tag, attrib=attributes or None, nsmap=nsmap)
    if text is not None:
        element.text = text
    return element


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, tag, attrib=attributes or None)
    if text is not None:
        element.text = text
    return element


def _c(name: str) -> str:
    return f"{{{CBC}}}{name}"


def _a(name: str) -> str:
    return f"{{{CAC}}}{name}"


def _tax_scheme(parent: etree._Element) -> None:
    _sub(_sub(parent, _a("TaxScheme")), _c("ID"), "VAT")


def _party(wrapper: str, party: Party) -> etree._Element:
    outer = _el(_a(wrapper))
    node = _sub(outer, _a("Party"))
    if party.ovt:
        _sub(node, _c("EndpointID"), party.ovt, schemeID=OVT_SCHEME)
    identification = _sub(node, _a("PartyIdentification"))
    _sub(identification, _c("ID"), party.business_id, schemeID=FINNISH_BUSINESS_ID_SCHEME)
    _sub(_sub(node, _a("PartyName")), _c("Name"), party.name)
    address = _sub(node, _a("PostalAddress"))
    if party.street:
        _sub(address, _c("StreetName"), party.street)
    if party.city:
        _sub(address, _c("CityName"), party.city)
    if party.postcode:
        _sub(address, _c("PostalZone"), party.postcode)
    _sub(_sub(address, _a("Country")), _c("IdentificationCode"), party.country)
    if party.vat_id:
        tax = _sub(node, _a("PartyTaxScheme"))
        _sub(tax, _c("CompanyID"), party.vat_id)
        _tax_scheme(tax)
    legal = _sub(node, _a("PartyLegalEntity"))
    _sub(legal, _c("RegistrationName"), party.name)
    _sub(legal, _c("CompanyID"), party.business_id, schemeID=FINNISH_BUSINESS_ID_SCHEME)
    return outer


def _tax_category(parent: etree._Element, tag: str, rate: Decimal) -> None:
    category = _sub(parent, _a(tag))
    _sub(category, _c("ID"), "S")
    _sub(category, _c("Percent"), _percent(rate))
    _tax_scheme(category)


class XmlSink:
    """A file-like object ``xmlfile`` writes to; what it holds is taken out chunk by chunk."""

    def __init__(self) -> None:
        self._buffer = io.BytesIO()

    def write(self, data: bytes) -> int:
        return self._buffer.write(data)

    def drain(self) -> bytes:
        data = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return data


class UblWriter:
    """Writes one Peppol BIS Billing 3.0 Invoice or CreditNote: ``open``, ``add`` per line, ``close``.

    Each call returns the bytes written so far, ready to be sent on.
    """

    def __init__(self, header: DocumentHeader) -> None:
        self.header = header
        self._sink = XmlSink()
        self._stack = ExitStack()
        self._xf: etree._IncrementalFileWriter | None = None
        self._credit = header.kind == "credit_note"

    def open(self) -> bytes:
        h = self.header
        root_ns = UBL_CREDIT_NOTE if self._credit else UBL_INVOICE
        xf = self._stack.enter_context(etree.xmlfile(self._sink, encoding="UTF-8"))
        self._xf = xf
        xf.write_declaration()
        self._stack.enter_context(
            xf.element(
                f"{{{root_ns}}}{'CreditNote' if self._credit else 'Invoice'}",
                nsmap={None: root_ns, "cac": CAC, "cbc": CBC},
            )
        )
        xf.write(_el(_c("CustomizationID"), CUSTOMIZATION))
        xf.write(_el(_c("ProfileID"), PROFILE))
        xf.write(_el(_c("ID"), h.number))
        xf.write(_el(_c("IssueDate"), h.issue_date.isoformat()))
        if not self._credit:
            xf.write(_el(_c("DueDate"), h.due_date.isoformat()))
            xf.write(_el(_c("InvoiceTypeCode"), "380"))
        else:
            xf.write(_el(_c("CreditNoteTypeCode"), "381"))
        xf.write(_el(_c("DocumentCurrencyCode"), h.currency))
        xf.write(_el(_c("AccountingCost"), h.accounting_cost))
        xf.write(_el(_c("BuyerReference"), h.buyer_reference))
        period = _el(_a("InvoicePeriod"))
        _sub(period, _c("StartDate"), h.period_start.isoformat())
        _sub(period, _c("EndDate"), h.period_end.isoformat())
        xf.write(period)
        if h.order_reference:
            order = _el(_a("OrderReference"))
            _sub(order, _c("ID"), h.order_reference)
            xf.write(order)
        if h.credited_number:
            billing = _el(_a("BillingReference"))
            reference = _sub(billing, _a("InvoiceDocumentReference"))
            _sub(reference, _c("ID"), h.credited_number)
            if h.credited_issue_date:
                _sub(reference, _c("IssueDate"), h.credited_issue_date.isoformat())
            xf.write(billing)
        if h.contract_reference:
            contract = _el(_a("ContractDocumentReference"))
            _sub(contract, _c("ID"), h.contract_reference)
            xf.write(contract)
        xf.write(_party("AccountingSupplierParty", h.seller))
        xf.write(_party("AccountingCustomerParty", h.buyer))
        if not self._credit:
            means = _el(_a("PaymentMeans"))
            _sub(means, _c("PaymentMeansCode"), "58", name="SEPA credit transfer")
            _sub(means, _c("PaymentID"), h.rf_reference)
            if h.seller.iban:
                account = _sub(means, _a("PayeeFinancialAccount"))
                _sub(account, _c("ID"), h.seller.iban)
                _sub(account, _c("Name"), h.seller.name)
                if h.seller.bic:
                    _sub(_sub(account, _a("FinancialInstitutionBranch")), _c("ID"), h.seller.bic)
            xf.write(means)
        terms = _el(_a("PaymentTerms"))
        if self._credit:
            _sub(terms, _c("Note"), f"Hyvitys laskuun {h.credited_number}")
        else:
            _sub(terms, _c("Note"), f"{h.payment_terms_days} päivää netto")
        xf.write(terms)
        total = _el(_a("TaxTotal"))
        _sub(total, _c("TaxAmount"), amount(h.vat_cents), currencyID=h.currency)
        for group in h.breakdown:
            subtotal = _sub(total, _a("TaxSubtotal"))
            _sub(subtotal, _c("TaxableAmount"), amount(group.taxable_cents), currencyID=h.currency)
            _sub(subtotal, _c("TaxAmount"), amount(group.tax_cents), currencyID=h.currency)
            _tax_category(subtotal, "TaxCategory", group.rate)
        xf.write(total)
        monetary = _el(_a("LegalMonetaryTotal"))
        _sub(monetary, _c("LineExtensionAmount"), amount(h.net_cents), currencyID=h.currency)
        _sub(monetary, _c("TaxExclusiveAmount"), amount(h.net_cents), currencyID=h.currency)
        _sub(monetary, _c("TaxInclusiveAmount"), amount(h.gross_cents), currencyID=h.currency)
        _sub(monetary, _c("PayableAmount"), amount(h.gross_cents), currencyID=h.currency)
        xf.write(monetary)
        return self._sink.drain()

    def add(self, line: DocumentLine) -> bytes:
        if self._xf is None:
            raise RuntimeError("open the document first")
        currency = self.header.currency
        row = _el(_a("CreditNoteLine" if self._credit else "InvoiceLine"))
        _sub(row, _c("ID"), line.line_id)
        _sub(row, _c("Note"), f"Tilaus {line.order_id}")
        _sub(
            row,
            _c("CreditedQuantity" if self._credit else "InvoicedQuantity"),
            _decimal(line.quantity),
            unitCode=line.unit_code,
        )
        _sub(row, _c("LineExtensionAmount"), amount(line.net_cents), currencyID=currency)
        _sub(row, _c("AccountingCost"), line.accounting_cost)
        if not self._credit:
            period = _sub(row, _a("InvoicePeriod"))
            _sub(period, _c("StartDate"), line.service_date.isoformat())
            _sub(period, _c("EndDate"), line.service_date.isoformat())
        item = _sub(row, _a("Item"))
        _sub(item, _c("Description"), line_description(line))
        _sub(item, _c("Name"), line_name(line))
        _sub(_sub(item, _a("SellersItemIdentification")), _c("ID"), f"{line.form}-{line.duration_minutes}")
        _tax_category(item, "ClassifiedTaxCategory", line.vat_rate)
        for name, value in (("Tilaus", str(line.order_id)), ("Istunto", str(line.session_id))):
            prop = _sub(item, _a("AdditionalItemProperty"))
            _sub(prop, _c("Name"), name)
            _sub(prop, _c("Value"), value)
        price = _sub(row, _a("Price"))
        _sub(price, _c("PriceAmount"), _decimal(line.unit_price), currencyID=currency)
        _sub(price, _c("BaseQuantity"), _decimal(line.base_quantity), unitCode=line.unit_code)
        self._xf.write(row)
        return self._sink.drain()

    def close(self) -> bytes:
        self._stack.close()
        return self._sink.drain()


def ubl_document(header: DocumentHeader, lines: Iterable[DocumentLine]) -> Iterator[bytes]:
    """The whole document as chunks: the header, then one chunk per line, then the end."""
    writer = UblWriter(header)
    yield writer.open()
    for line in lines:
        yield writer.add(line)
    yield writer.close()
