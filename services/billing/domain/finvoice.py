"""The same canonical invoice as Finvoice 3.0 (the Finnish banks' e-invoice), written streamed.

Element names and order follow the Finvoice 3.0 message description (Finanssiala): transmission
details, seller, buyer, invoice details with totals and the VAT specification, one ``InvoiceRow``
per billed session, then the payment (EPI) details. Amounts use a decimal comma; dates are
``CCYYMMDD``. Rows carry the cost centre (``RowAccountDimensionText``), the agreement and the order
(a ``RowFreeText``: the row type has no order identifier) — never a participant or content.
Valid against Finance Finland's ``Finvoice3.0.xsd`` (the billing tests validate every document).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from decimal import Decimal

from lxml import etree

from services.billing.domain.documents import (
    DocumentHeader,
    DocumentLine,
    Party,
    XmlSink,
    amount,
    line_description,
    line_name,
)

__all__ = ["FinvoiceWriter", "account_dimension", "finvoice_document", "finvoice_problems", "unit_price"]

_UNIT_TEXT = {"C62": "kpl", "HUR": "h", "MIN": "min"}


def _amount(cents: int) -> str:
    return amount(cents).replace(".", ",")


def _decimal(value: Decimal) -> str:
    return format(value.normalize(), "f").replace(".", ",")


def unit_price(value: Decimal) -> str:
    """A Finvoice unit price: a decimal comma and two to five decimals (``unitAmountType``).

    Charged prices are list cents × a whole percent, so they never carry more than four decimals;
    a price that would need more is refused rather than rounded out of step with the row amount."""
    places = max(2, _places(value))
    if places > 5:
        raise ValueError(f"a unit price of {value} needs more than five decimals")
    return format(value.quantize(Decimal(1).scaleb(-places)), "f").replace(".", ",")


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


ACCOUNT_DIMENSION_LENGTH = 35


def account_dimension(cost_centre: str) -> str:
    """The cost centre as ``AccountDimensionText`` (at most 35 characters). A cost centre without a
    code stands as its UUID (36 characters with hyphens), written here as its 32 hex digits."""
    if len(cost_centre) <= ACCOUNT_DIMENSION_LENGTH:
        return cost_centre
    try:
        return uuid.UUID(cost_centre).hex
    except ValueError:
        raise ValueError("a cost centre code longer than 35 characters has no Finvoice form") from None


def finvoice_problems(header: DocumentHeader) -> list[tuple[str, str]]:
    """(field, why) for what the Finvoice 3.0 schema would refuse in this header: its lengths and
    required elements (the XML-legality of all text is ``header_problems``). Checked before the
    first byte, so a document that cannot be valid is refused whole, never cut off mid-stream."""
    problems: list[tuple[str, str]] = []

    def length(field: str, value: str | None, low: int, high: int) -> None:
        if value is None or not low <= len(value) <= high:
            shown = "missing" if not value else f"{len(value)} characters"
            problems.append((field, f"{shown}; Finvoice takes {low} to {high}"))

    for role, party in (("seller", header.seller), ("buyer", header.buyer)):
        length(f"{role}.name", party.name, 2, 70)
        length(f"{role}.postalAddress.street", party.street, 2, 35)
        length(f"{role}.postalAddress.city", party.city, 2, 35)
        length(f"{role}.postalAddress.postcode", party.postcode, 2, 35)
        if party.vat_id is not None:
            length(f"{role}.vatId", party.vat_id, 0, 35)
    length(
        "seller.eInvoiceAddress.operatorId",
        header.seller.e_invoice_operator or header.seller.bic,
        2,
        35,
    )
    length("buyer.eInvoiceAddress.operatorId", header.buyer.e_invoice_operator, 2, 35)
    length("number", header.number, 1, 20)
    length("buyerReference", header.buyer_reference, 0, 70)
    if header.contract_reference is not None:
        length("agreement.number", header.contract_reference, 0, 70)
    try:
        account_dimension(header.accounting_cost)
    except ValueError:
        length("costCentre.code", header.accounting_cost, 0, ACCOUNT_DIMENSION_LENGTH)
    return problems


def _date(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


def _el(tag: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.Element(tag, attrib=attributes or None)
    if text is not None:
        element.text = text
    return element


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, tag, attrib=attributes or None)
    if text is not None:
        element.text = text
    return element


def _address(parent: etree._Element, prefix: str, party: Party) -> None:
    address = _sub(parent, f"{prefix}PostalAddressDetails")
    _sub(address, f"{prefix}StreetName", party.street or "")
    _sub(address, f"{prefix}TownName", party.city or "")
    _sub(address, f"{prefix}PostCodeIdentifier", party.postcode or "")
    _sub(address, "CountryCode", party.country)


class FinvoiceWriter:
    """``open``, ``add`` per line, ``close``; each returns the bytes written so far."""

    def __init__(self, header: DocumentHeader, *, message_id: str, timestamp: dt.datetime) -> None:
        self.header = header
        self.message_id = message_id
        self.timestamp = timestamp
        self._sink = XmlSink()
        self._stack = ExitStack()
        self._xf: etree._IncrementalFileWriter | None = None
        self._row = 0

    def open(self) -> bytes:
        h = self.header
        credit = h.kind == "credit_note"
        xf = self._stack.enter_context(etree.xmlfile(self._sink, encoding="UTF-8"))
        self._xf = xf
        xf.write_declaration()
        self._stack.enter_context(xf.element("Finvoice", Version="3.0"))

        transmission = _el("MessageTransmissionDetails")
        sender = _sub(transmission, "MessageSenderDetails")
        _sub(sender, "FromIdentifier", h.seller.ovt or h.seller.business_id)
        _sub(sender, "FromIntermediator", h.seller.e_invoice_operator or h.seller.bic or "")
        receiver = _sub(transmission, "MessageReceiverDetails")
        _sub(receiver, "ToIdentifier", h.buyer.ovt or "")
        _sub(receiver, "ToIntermediator", h.buyer.e_invoice_operator or "")
        details = _sub(transmission, "MessageDetails")
        _sub(details, "MessageIdentifier", self.message_id)
        _sub(details, "MessageTimeStamp", self.timestamp.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"))
        xf.write(transmission)

        seller = _el("SellerPartyDetails")
        _sub(seller, "SellerPartyIdentifier", h.seller.business_id)
        _sub(seller, "SellerOrganisationName", h.seller.name)
        if h.seller.vat_id:
            _sub(seller, "SellerOrganisationTaxCode", h.seller.vat_id)
        _address(seller, "Seller", h.seller)
        xf.write(seller)
        if h.seller.ovt:
            xf.write(_el("SellerOrganisationUnitNumber", h.seller.ovt))
        information = _el("SellerInformationDetails")
        if h.seller.iban:
            account = _sub(information, "SellerAccountDetails")
            _sub(account, "SellerAccountID", h.seller.iban, IdentificationSchemeName="IBAN")
            if h.seller.bic:
                _sub(account, "SellerBic", h.seller.bic, IdentificationSchemeName="BIC")
        xf.write(information)

        buyer = _el("BuyerPartyDetails")
        _sub(buyer, "BuyerPartyIdentifier", h.buyer.business_id)
        _sub(buyer, "BuyerOrganisationName", h.buyer.name)
        if h.buyer.vat_id:
            _sub(buyer, "BuyerOrganisationTaxCode", h.buyer.vat_id)
        _address(buyer, "Buyer", h.buyer)
        xf.write(buyer)
        if h.buyer.ovt:
            xf.write(_el("BuyerOrganisationUnitNumber", h.buyer.ovt))

        invoice = _el("InvoiceDetails")
        _sub(invoice, "InvoiceTypeCode", "INV02" if credit else "INV01")
        _sub(invoice, "InvoiceTypeText", "HYVITYSLASKU" if credit else "LASKU")
        _sub(invoice, "OriginCode", "Original")
        _sub(invoice, "InvoiceNumber", h.number)
        _sub(invoice, "InvoiceDate", _date(h.issue_date), Format="CCYYMMDD")
        if h.credited_number:
            _sub(invoice, "OriginalInvoiceNumber", h.credited_number)
        _sub(invoice, "InvoicingPeriodStartDate", _date(h.period_start), Format="CCYYMMDD")
        _sub(invoice, "InvoicingPeriodEndDate", _date(h.period_end), Format="CCYYMMDD")
        if h.order_reference:
            _sub(invoice, "OrderIdentifier", h.order_reference)
        if h.contract_reference:
            _sub(invoice, "AgreementIdentifier", h.contract_reference)
        _sub(invoice, "BuyerReferenceIdentifier", h.buyer_reference)
        sign = -1 if credit else 1
        _sub(
            invoice,
            "InvoiceTotalVatExcludedAmount",
            _amount(sign * h.net_cents),
            AmountCurrencyIdentifier=h.currency,
        )
        _sub(
            invoice, "InvoiceTotalVatAmount", _amount(sign * h.vat_cents), AmountCurrencyIdentifier=h.currency
        )
        _sub(
            invoice,
            "InvoiceTotalVatIncludedAmount",
            _amount(sign * h.gross_cents),
            AmountCurrencyIdentifier=h.currency,
        )
        _sub(invoice, "AccountDimensionText", account_dimension(h.accounting_cost))
        for group in h.breakdown:
            vat = _sub(invoice, "VatSpecificationDetails")
            _sub(
                vat, "VatBaseAmount", _amount(sign * group.taxable_cents), AmountCurrencyIdentifier=h.currency
            )
            _sub(vat, "VatRatePercent", _decimal(group.rate.quantize(Decimal("0.01"))))
            _sub(vat, "VatCode", group.category)
            _sub(vat, "VatRateAmount", _amount(sign * group.tax_cents), AmountCurrencyIdentifier=h.currency)
        terms = _sub(invoice, "PaymentTermsDetails")
        _sub(terms, "PaymentTermsFreeText", f"{h.payment_terms_days} päivää netto")
        _sub(terms, "InvoiceDueDate", _date(h.due_date), Format="CCYYMMDD")
        xf.write(invoice)
        return self._sink.drain()

    def add(self, line: DocumentLine) -> bytes:
        if self._xf is None:
            raise RuntimeError("open the document first")
        h = self.header
        sign = -1 if h.kind == "credit_note" else 1
        row = _el("InvoiceRow")
        _sub(row, "ArticleIdentifier", f"{line.form}-{line.duration_minutes}")
        _sub(row, "ArticleName", line_name(line))
        unit = _UNIT_TEXT[line.unit_code]
        _sub(row, "DeliveredQuantity", _decimal(sign * line.quantity), QuantityUnitCode=unit)
        # The price as agreed, per its base quantity (€ per 60 min, not a recurring € per minute):
        # quantity × price ÷ base is the row amount, exactly as in the UBL (BT-146, BT-149).
        _sub(row, "UnitPriceAmount", unit_price(line.unit_price), AmountCurrencyIdentifier=h.currency)
        _sub(row, "UnitPriceBaseQuantity", _decimal(line.base_quantity), QuantityUnitCode=unit)
        _sub(row, "RowDeliveryDate", _date(line.service_date), Format="CCYYMMDD")
        if h.contract_reference:
            _sub(row, "RowAgreementIdentifier", h.contract_reference)
        _sub(row, "RowAccountDimensionText", account_dimension(line.accounting_cost))
        _sub(row, "RowFreeText", line_description(line))
        _sub(row, "RowFreeText", f"Tilaus {line.order_id}")
        _sub(row, "RowVatRatePercent", _decimal(line.vat_rate.quantize(Decimal("0.01"))))
        _sub(row, "RowVatCode", "S")
        _sub(row, "RowVatExcludedAmount", _amount(sign * line.net_cents), AmountCurrencyIdentifier=h.currency)
        self._xf.write(row)
        return self._sink.drain()

    def close(self) -> bytes:
        h = self.header
        if self._xf is None:
            raise RuntimeError("open the document first")
        epi = _el("EpiDetails")
        identification = _sub(epi, "EpiIdentificationDetails")
        _sub(identification, "EpiDate", _date(h.issue_date), Format="CCYYMMDD")
        _sub(identification, "EpiReference", h.number)
        parties = _sub(epi, "EpiPartyDetails")
        bank = _sub(parties, "EpiBfiPartyDetails")
        _sub(bank, "EpiBfiIdentifier", h.seller.bic or "", IdentificationSchemeName="BIC")
        beneficiary = _sub(parties, "EpiBeneficiaryPartyDetails")
        # The payee's name as the bank's credit transfer carries it: at most 35 characters.
        _sub(beneficiary, "EpiNameAddressDetails", h.seller.name[:35].strip())
        _sub(beneficiary, "EpiBei", h.seller.business_id)
        _sub(beneficiary, "EpiAccountID", h.seller.iban or "", IdentificationSchemeName="IBAN")
        instruction = _sub(epi, "EpiPaymentInstructionDetails")
        _sub(instruction, "EpiRemittanceInfoIdentifier", h.payment_reference, IdentificationSchemeName="SPY")
        payable = 0 if h.kind == "credit_note" else h.gross_cents
        _sub(instruction, "EpiInstructedAmount", _amount(payable), AmountCurrencyIdentifier=h.currency)
        _sub(instruction, "EpiCharge", ChargeOption="SHA")
        _sub(instruction, "EpiDateOptionDate", _date(h.due_date), Format="CCYYMMDD")
        self._xf.write(epi)
        self._stack.close()
        return self._sink.drain()


def finvoice_document(
    header: DocumentHeader, lines: Iterable[DocumentLine], *, message_id: str, timestamp: dt.datetime
) -> Iterator[bytes]:
    writer = FinvoiceWriter(header, message_id=message_id, timestamp=timestamp)
    yield writer.open()
    for line in lines:
        yield writer.add(line)
    yield writer.close()
