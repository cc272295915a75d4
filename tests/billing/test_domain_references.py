"""Reference numbers, business ids and VAT ids against the known vectors (handbook reference §4.2)."""

from __future__ import annotations

import pytest
from stdnum import iso11649
from stdnum.fi import alv, ytunnus

from services.billing.domain.references import finnish_reference, reference_for_invoice, rf_reference


@pytest.mark.parametrize(
    ("base", "reference"), [("1234567", "12345672"), ("123456", "1234561"), ("234823", "2348236")]
)
def test_the_finnish_reference_check_digit_matches_the_vectors(base: str, reference: str) -> None:
    assert finnish_reference(base) == reference


@pytest.mark.parametrize(("finnish", "rf"), [("2348236", "RF332348236"), ("1234561", "RF341234561")])
def test_the_rf_form_matches_the_vectors_and_python_stdnum(finnish: str, rf: str) -> None:
    assert rf_reference(finnish) == rf
    assert iso11649.is_valid(rf)


@pytest.mark.parametrize("base", ["12", "0123", "12a45", "1" * 20])
def test_a_malformed_reference_base_is_refused(base: str) -> None:
    with pytest.raises(ValueError, match="reference base"):
        finnish_reference(base)


def test_invoice_references_are_distinct_and_valid_per_sequence() -> None:
    references = {reference_for_invoice(n) for n in range(1, 2000)}
    assert len(references) == 1999
    assert all(iso11649.is_valid(rf_reference(r)) for r in references)


@pytest.mark.parametrize("valid", ["2077474-0", "1572860-0", "0737546-2", "3221326-2", "0725901-5"])
def test_known_business_ids_are_valid(valid: str) -> None:
    assert ytunnus.is_valid(valid)
    assert alv.is_valid("FI" + valid.replace("-", ""))


@pytest.mark.parametrize("invalid", ["1572860-1", "2077474-1"])
def test_business_ids_with_a_wrong_check_digit_are_refused(invalid: str) -> None:
    assert not ytunnus.is_valid(invalid)
