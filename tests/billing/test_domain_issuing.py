"""Issuing a draft, without servers: the seller's and buyer's facts it needs, the header it is
frozen with, and what it refuses (each refusal naming its field)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import msgspec
import pytest

from services.billing.domain.documents import Party, VatBreakdown
from services.billing.domain.issuing import (
    DEFAULT_PAYMENT_TERMS_DAYS,
    Draft,
    breakdown_of,
    check_issuable,
    checked_buyer,
    checked_seller,
    issue_header,
)
from shared.errors import Conflict, InvariantViolated

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
    e_invoice_scheme="peppol",
    e_invoice_address="0216:003732213262",
)
TODAY = dt.date(2026, 3, 2)
ORDER = uuid.uuid4()
DRAFT = Draft(
    invoice_id=uuid.uuid4(),
    cost_centre_id=uuid.uuid4(),
    order_id=None,
    order_ids=[ORDER],
    breakdown=[VatBreakdown(rate=Decimal("25.5"), taxable_cents=10_000, tax_cents=2_550)],
    net_cents=10_000,
    vat_cents=2_550,
    gross_cents=12_550,
    period_start=dt.date(2026, 2, 3),
    period_end=dt.date(2026, 2, 24),
    payment_terms_days=None,
    agreement_number="HANKINTA-7",
    order_number="T-2026-0042",
    cost_centre_code="KP-100",
)


def _fields(refusal: InvariantViolated | Conflict) -> list[str]:
    return [e.field for e in refusal.errors or []]


def test_the_header_is_numbered_dated_and_referenced_from_the_sequence() -> None:
    header = issue_header(DRAFT, sequence=7, today=TODAY, seller=SELLER, buyer=BUYER)
    assert (header.kind, header.number, header.issue_date) == ("invoice", "7", TODAY)
    assert header.payment_terms_days == DEFAULT_PAYMENT_TERMS_DAYS
    assert header.due_date == TODAY + dt.timedelta(days=DEFAULT_PAYMENT_TERMS_DAYS)
    assert header.payment_reference.startswith("100007")
    assert header.rf_reference.startswith("RF")
    assert (header.buyer_reference, header.accounting_cost) == ("KP-100", "KP-100")
    assert (header.contract_reference, header.order_reference) == ("HANKINTA-7", "T-2026-0042")
    assert (header.net_cents, header.vat_cents, header.gross_cents) == (10_000, 2_550, 12_550)


def test_the_orders_terms_the_cost_centre_id_and_the_order_id_stand_in_when_facts_are_missing() -> None:
    draft = msgspec.structs.replace(DRAFT, payment_terms_days=14, cost_centre_code=None, order_number=None)
    header = issue_header(draft, sequence=1, today=TODAY, seller=SELLER, buyer=BUYER)
    assert header.due_date == TODAY + dt.timedelta(days=14)
    assert header.accounting_cost == str(DRAFT.cost_centre_id)
    assert header.order_reference == str(ORDER)


def test_an_invoice_of_several_orders_names_no_order() -> None:
    draft = msgspec.structs.replace(DRAFT, order_ids=[ORDER, uuid.uuid4()])
    assert issue_header(draft, sequence=1, today=TODAY, seller=SELLER, buyer=BUYER).order_reference is None


def test_only_a_draft_with_items_is_issued() -> None:
    check_issuable("draft", 3)
    with pytest.raises(Conflict, match="already issued"):
        check_issuable("issued", 3)
    with pytest.raises(Conflict, match="no items"):
        check_issuable("draft", 0)


def test_unknown_parties_are_a_conflict() -> None:
    with pytest.raises(Conflict, match="seller"):
        checked_seller(None)
    with pytest.raises(Conflict, match="buyer"):
        checked_buyer(None)


def test_every_invalid_seller_fact_is_named() -> None:
    seller = msgspec.structs.replace(
        SELLER, business_id="1234567-0", vat_id="FI1", iban="FI00", e_invoice_address=None
    )
    with pytest.raises(InvariantViolated) as refused:
        checked_seller(seller)
    assert _fields(refused.value) == [
        "seller.businessId",
        "seller.vatId",
        "seller.iban",
        "seller.eInvoiceAddress",
    ]


def test_a_buyer_without_an_e_invoice_address_or_with_unwritable_text_is_refused() -> None:
    with pytest.raises(InvariantViolated) as refused:
        checked_buyer(msgspec.structs.replace(BUYER, e_invoice_address=None))
    assert _fields(refused.value) == ["buyer.eInvoiceAddress"]
    with pytest.raises(InvariantViolated, match="no e-invoice can carry"):
        checked_buyer(msgspec.structs.replace(BUYER, name="Hyvinvointi\x01alue"))


def test_a_header_text_no_e_invoice_can_carry_is_refused() -> None:
    draft = msgspec.structs.replace(DRAFT, cost_centre_code="KP\x0b100")
    with pytest.raises(InvariantViolated, match="no e-invoice can carry"):
        issue_header(draft, sequence=1, today=TODAY, seller=SELLER, buyer=BUYER)


def test_a_stored_breakdown_reads_back_as_value_objects() -> None:
    stored = [{"rate": "25.5", "taxable_cents": 10_000, "tax_cents": 2_550}]
    assert breakdown_of(stored) == [VatBreakdown(rate=Decimal("25.5"), taxable_cents=10_000, tax_cents=2_550)]
