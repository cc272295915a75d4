"""What a credit line credits: in whole, by a quantity, by a price; and what it refuses."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from services.billing.domain.credits import CreditRefused, CreditRequestLine, InvoicedLine, credit_line

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
