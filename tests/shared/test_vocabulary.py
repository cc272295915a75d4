"""The vocabulary's enums and the contracts' literals spell the same values."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, get_args

import pytest

from shared.contracts import orders, organisations
from shared.contracts.vocabulary import (
    DeliveryMode,
    DeliveryModeName,
    QualificationKind,
    QualificationType,
    SupervisionForm,
    SupervisionFormName,
)


@pytest.mark.parametrize(
    ("enum", "literal"),
    [
        (SupervisionForm, SupervisionFormName),
        (DeliveryMode, DeliveryModeName),
        (QualificationKind, QualificationType),
    ],
)
def test_each_word_has_the_same_values_as_enum_and_as_literal(enum: type[StrEnum], literal: Any) -> None:
    assert [member.value for member in enum] == list(get_args(literal))


def test_the_contracts_use_the_vocabulary() -> None:
    assert orders.SupervisionForm is organisations.SupervisionForm is SupervisionFormName
    assert orders.DeliveryMode is organisations.DeliveryMode is DeliveryModeName
