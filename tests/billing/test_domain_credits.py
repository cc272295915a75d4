"""What a credit line credits: in whole, by a quantity, by a price; and what it refuses."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import msgspec
import pytest

from services.billing.domain.credits import (
    CreditRefused,
    CreditRequestLine,
    InvoicedLine,
    credit_line,
    credit_lines,
    credit_note_header,
)
from services.billing.domain.documents import DocumentHeader, Party
from shared.errors import Conflict, InvariantViolated

LINE = InvoicedLine(
    item_id=uuid.uuid4(),
    session_id=uuid.uuid4(),
    quantity=Decimal(50),
    unit_code="MIN",
    base_quantity=Decimal(60),
    unit_price=Decimal("111.11"),
    net_cents=9_259,  # 50 × 111.11 ÷ 60 = 92.591…
    vat_rate=Decimal("25.5"),
    credited=False,
)


def _request(**fields: str) -> CreditRequestLine:
    return CreditRequestLine(session_id=LINE.session_id, **fields)


def test_in_whole_the_line_as_invoiced() -> None:
    credit = credit_line(LINE, None, "body")
    assert (credit.correction, credit.quantity, credit.unit_price, credit.net_cents) == (
        "full",
        Decimal(50),
        Decimal("111.11"),
        9_259,
    )


def test_a_quantity_at_the_invoiced_price_rounded_like_every_line() -> None:
    credit = credit_line(LINE, _request(quantity="20"), "body.lines[0]")
    assert (credit.correction, credit.net_cents) == ("quantity", 3_704)  # 20 × 111.11 ÷ 60 = 37.036…
    # The whole quantity is a credit in whole (and may be billed again).
    assert credit_line(LINE, _request(quantity="50"), "x").correction == "full"


def test_a_price_correction_credits_the_difference_on_the_whole_quantity() -> None:
    credit = credit_line(LINE, _request(correct_unit_price="100"), "body.lines[0]")
    assert (credit.correction, credit.quantity, credit.unit_price, credit.net_cents) == (
        "price",
        Decimal(50),
        Decimal("11.11"),
        926,  # 50 × 11.11 ÷ 60 = 9.258…
    )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"quantity": "50.0001"}, "body.lines[0].quantity"),
        ({"quantity": "0"}, "body.lines[0].quantity"),
        ({"quantity": "0.00001"}, "body.lines[0].quantity"),
        ({"quantity": "abc"}, "body.lines[0].quantity"),
        ({"correct_unit_price": "111.11"}, "body.lines[0].correctUnitPrice"),
        ({"correct_unit_price": "-0.01"}, "body.lines[0].correctUnitPrice"),
        ({"quantity": "1", "correct_unit_price": "1"}, "body.lines[0]"),
    ],
)
def test_refusals_name_their_field(fields: dict[str, str], field: str) -> None:
    with pytest.raises(CreditRefused) as refused:
        credit_line(LINE, _request(**fields), "body.lines[0]")
    assert refused.value.field == field


def test_a_credited_line_is_not_credited_again() -> None:
    credited = InvoicedLine(**{**{f: getattr(LINE, f) for f in LINE.__struct_fields__}, "credited": True})
    with pytest.raises(CreditRefused, match="already credited"):
        credit_line(credited, None, "body")


# --- which lines a request credits, and the credit note's header ---


def _invoiced(credited: bool = False) -> InvoicedLine:
    return msgspec.structs.replace(LINE, item_id=uuid.uuid4(), session_id=uuid.uuid4(), credited=credited)


def test_no_lines_named_credits_every_uncredited_line() -> None:
    lines = [_invoiced(), _invoiced(credited=True), _invoiced()]
    credits = credit_lines(lines, None)
    assert [c.item_id for c in credits] == [lines[0].item_id, lines[2].item_id]
    assert {c.correction for c in credits} == {"full"}


def test_an_invoice_credited_in_whole_is_a_conflict() -> None:
    with pytest.raises(Conflict, match="already credited"):
        credit_lines([_invoiced(credited=True)], None)


def test_an_empty_request_unknown_and_twice_named_lines_are_named() -> None:
    line = _invoiced()
    with pytest.raises(InvariantViolated) as empty:
        credit_lines([line], [])
    assert [e.field for e in empty.value.errors or []] == ["body.lines"]
    named = CreditRequestLine(session_id=line.session_id)
    with pytest.raises(InvariantViolated) as refused:
        credit_lines([line], [CreditRequestLine(session_id=uuid.uuid4()), named, named])
    assert [(e.field, e.message) for e in refused.value.errors or []] == [
        ("body.lines[0].sessionId", "not a line of this invoice"),
        ("body.lines[2].sessionId", "named twice"),
    ]


def test_a_line_credited_before_is_a_conflict_naming_it() -> None:
    line = _invoiced(credited=True)
    with pytest.raises(Conflict) as refused:
        credit_lines([line], [CreditRequestLine(session_id=line.session_id)])
    assert [e.field for e in refused.value.errors or []] == ["body.lines[0].sessionId"]


def test_the_credit_note_header_references_the_original_with_the_credited_amounts() -> None:
    seller = Party(name="Työnohjaus\x01Oy", business_id="2077474-0")
    buyer = Party(name="Hyvinvointialue", business_id="3221326-2")
    was = DocumentHeader(
        kind="invoice",
        invoice_id=uuid.uuid4(),
        number="7",
        issue_date=dt.date(2026, 3, 2),
        due_date=dt.date(2026, 3, 23),
        payment_terms_days=21,
        buyer_reference="KP-100",
        accounting_cost="KP-100",
        period_start=dt.date(2026, 2, 3),
        period_end=dt.date(2026, 2, 24),
        seller=seller,
        buyer=buyer,
        payment_reference="1000073",
        rf_reference="RF00",
        breakdown=[],
        net_cents=18_518,
        vat_cents=4_722,
        gross_cents=23_240,
    )
    credits = [credit_line(_invoiced(), None, "body"), credit_line(_invoiced(), None, "body")]
    credit_id = uuid.uuid4()
    today = dt.date(2026, 4, 1)
    header = credit_note_header(was, credits, credit_id=credit_id, sequence=9, today=today)
    assert (header.kind, header.invoice_id, header.number) == ("credit_note", credit_id, "9")
    assert (header.issue_date, header.due_date) == (today, today)
    assert (header.credited_number, header.credited_issue_date) == ("7", dt.date(2026, 3, 2))
    assert header.net_cents == 2 * 9_259
    assert header.gross_cents == header.net_cents + header.vat_cents
    assert [b.rate for b in header.breakdown] == [Decimal("25.5")]
    assert header.seller.name == "Työnohjaus\ufffdOy"  # the correction can always be written
